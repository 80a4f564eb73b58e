// Malformed guest packets and host handshakes through the muxer: each is dropped or reset and counted, and the
// next packet is unaffected. Regression cases at the end, named after what they guard.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.vsock;
import vmm.testing;
import vsock_fakes;

namespace vs = vmm::virtio::vsock;
namespace sys = vmm::sys;
using vmm::testing::error_of;
using vsock_test::guest_header;
using vsock_test::harness;
using vsock_test::unwrap;

namespace {

constexpr std::uint32_t guest_port = 1000;
constexpr std::uint32_t host_port = 52;

// After a bad packet: a good request still connects (the muxer was not disturbed).
void next_request_still_connects(harness& t, const sys::unix_listener& listener) {
  t.send(guest_header(vs::op::request, guest_port + 1, host_port));
  const auto replies = t.receive();
  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::response);
  BOOST_TEST(unwrap(listener.accept()).valid());
}

// The host connects, sends `line`, and the muxer handles it. Returns the host's socket.
auto handshake(harness& t, std::string_view line, sys::socket_kind kind = sys::socket_kind::stream) -> sys::unique_fd {
  auto host = unwrap(sys::unix_connect(kind == sys::socket_kind::stream ? t.uds() : t.seqpacket_uds(), kind));
  if (!line.empty()) {
    vsock_test::write_all(host, line);
  }
  static_cast<void>(t.receive());
  return host;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(malformed_guest_packets)

BOOST_AUTO_TEST_CASE(short_header_is_dropped_counted_and_next_packet_connects) {
  harness t;
  const auto listener = t.listen(host_port);

  t.mux().handle_tx(t.vm().memory(), t.vm().tx_chain(guest_header(vs::op::request, guest_port, host_port), {}, 20));

  BOOST_TEST(t.receive().empty());
  BOOST_TEST(t.mux().counters().dropped_header_short.get() == 1U);
  next_request_still_connects(t, listener);
}

BOOST_AUTO_TEST_CASE(wrong_source_cid_is_dropped_without_reply) {
  harness t;
  const auto listener = t.listen(host_port);
  auto h = guest_header(vs::op::request, guest_port, host_port);
  h.src_cid = 7;

  t.send(h);

  BOOST_TEST(t.receive().empty());
  BOOST_TEST(t.mux().counters().dropped_bad_cid.get() == 1U);
  next_request_still_connects(t, listener);
}

BOOST_AUTO_TEST_CASE(wrong_destination_cid_is_dropped_without_reply) {
  harness t;
  const auto listener = t.listen(host_port);
  auto h = guest_header(vs::op::request, guest_port, host_port);
  h.dst_cid = 1;

  t.send(h);

  BOOST_TEST(t.receive().empty());
  BOOST_TEST(t.mux().counters().dropped_bad_cid.get() == 1U);
  next_request_still_connects(t, listener);
}

BOOST_AUTO_TEST_CASE(len_beyond_payload_is_dropped_and_counted) {
  harness t;
  const auto listener = t.listen(host_port);
  auto h = guest_header(vs::op::rw, guest_port, host_port);
  h.len = 100;  // only 4 payload bytes follow

  t.mux().handle_tx(t.vm().memory(), t.vm().tx_chain(h, vsock_test::bytes_of("four")));

  BOOST_TEST(t.receive().empty());
  BOOST_TEST(t.mux().counters().dropped_bad_len.get() == 1U);
  next_request_still_connects(t, listener);
}

BOOST_AUTO_TEST_CASE(unreadable_descriptor_is_dropped_and_counted) {
  harness t;
  vmm::virtio::queue::descriptor_chain chain;
  chain.reset({});
  chain.append({.address = vmm::memory::guest_address{vsock_test::memory_size - 8}, .length = 64, .writable = false});

  t.mux().handle_tx(t.vm().memory(), chain);

  BOOST_TEST(t.receive().empty());
  BOOST_TEST(t.mux().counters().dropped_unreadable.get() == 1U);
}

BOOST_AUTO_TEST_CASE(unknown_op_is_answered_with_reset_and_counted) {
  harness t;
  const auto listener = t.listen(host_port);

  t.send(guest_header(9, guest_port, host_port));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::rst);
  BOOST_TEST(replies[0].h.src_port == host_port);
  BOOST_TEST(replies[0].h.dst_port == guest_port);
  BOOST_TEST(t.mux().counters().bad_op.get() == 1U);
  next_request_still_connects(t, listener);
}

BOOST_AUTO_TEST_CASE(unknown_op_on_an_open_connection_resets_that_connection) {
  harness t;
  const auto listener = t.listen(host_port);
  t.send(guest_header(vs::op::request, guest_port, host_port));
  static_cast<void>(t.receive());
  const auto host = unwrap(listener.accept());

  t.send(guest_header(9, guest_port, host_port));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::rst);
  BOOST_TEST(t.mux().connection_count() == 0U);
  BOOST_TEST(vsock_test::peer_closed(host));
}

BOOST_AUTO_TEST_CASE(unknown_type_is_answered_with_reset_and_counted) {
  harness t;
  const auto listener = t.listen(host_port);

  t.send(guest_header(vs::op::request, guest_port, host_port, 7));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::rst);
  // Not type 7 echoed back: a reset the guest's driver can parse (found by fuzz_virtio_vsock).
  BOOST_TEST(replies[0].h.type == vs::socket_type::stream);
  BOOST_TEST(t.mux().counters().bad_type.get() == 1U);
  BOOST_TEST(t.mux().connection_count() == 0U);
  next_request_still_connects(t, listener);
}

BOOST_AUTO_TEST_CASE(seqpacket_request_without_negotiation_is_reset) {
  harness t;
  const auto listener = t.listen(host_port, sys::socket_kind::seqpacket);
  t.mux().set_seqpacket(false);

  t.send(guest_header(vs::op::request, guest_port, host_port, vs::socket_type::seqpacket));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::rst);
  BOOST_TEST(replies[0].h.type == vs::socket_type::seqpacket);  // a real type: the reset names it
  BOOST_TEST(t.mux().counters().bad_type.get() == 1U);
}

BOOST_AUTO_TEST_CASE(reset_with_unknown_type_is_not_answered) {
  harness t;

  t.send(guest_header(vs::op::rst, guest_port, host_port, 7));

  BOOST_TEST(t.receive().empty());
  BOOST_TEST(t.mux().counters().bad_type.get() == 1U);
}

BOOST_AUTO_TEST_CASE(data_for_no_connection_is_reset_and_reset_for_none_is_ignored) {
  harness t;

  t.send(guest_header(vs::op::rw, guest_port, host_port), vsock_test::bytes_of("x"));
  t.send(guest_header(vs::op::rst, guest_port, host_port));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::rst);
  BOOST_TEST(t.mux().counters().no_connection.get() == 1U);
}

BOOST_AUTO_TEST_CASE(request_to_port_nobody_listens_on_is_reset) {
  harness t;

  t.send(guest_header(vs::op::request, guest_port, host_port));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::rst);
  BOOST_TEST(t.mux().counters().guest_connect_failures.get() == 1U);
}

BOOST_AUTO_TEST_CASE(seqpacket_request_to_stream_listener_is_reset) {
  harness t;
  const auto listener = t.listen(host_port, sys::socket_kind::stream);

  t.send(guest_header(vs::op::request, guest_port, host_port, vs::socket_type::seqpacket));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::rst);
  BOOST_TEST(replies[0].h.type == vs::socket_type::seqpacket);  // a real type: the reset names it
  BOOST_TEST(t.mux().connection_count() == 0U);
}

BOOST_AUTO_TEST_CASE(request_past_the_connection_limit_is_reset) {
  harness t{1};
  const auto listener = t.listen(host_port);
  t.send(guest_header(vs::op::request, guest_port, host_port));
  static_cast<void>(t.receive());

  t.send(guest_header(vs::op::request, guest_port + 1, host_port));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::rst);
  BOOST_TEST(t.mux().connection_count() == 1U);
}

BOOST_AUTO_TEST_CASE(data_beyond_the_device_credit_resets_and_closes_the_socket) {
  harness t;
  const auto listener = t.listen(host_port);
  t.send(guest_header(vs::op::request, guest_port, host_port));
  static_cast<void>(t.receive());
  const auto host = unwrap(listener.accept());
  const std::vector<std::byte> chunk(vs::max_packet_payload, std::byte{'z'});

  // The host never reads: after the socket's own buffer, the device's 256 KiB fill, then one packet overruns.
  for (int i = 0; i < 16 && t.mux().find(host_port, guest_port) != nullptr &&
                  t.mux().find(host_port, guest_port)->state() == vs::connection_state::established;
       ++i) {
    t.send(guest_header(vs::op::rw, guest_port, host_port), chunk);
  }
  const auto replies = t.receive();

  BOOST_TEST(t.mux().counters().credit_exceeded.get() == 1U);
  BOOST_TEST_REQUIRE(!replies.empty());
  BOOST_TEST(replies.back().h.op == vs::op::rst);
  BOOST_TEST(t.mux().connection_count() == 0U);
  BOOST_TEST(vsock_test::peer_closed(host));
}

BOOST_AUTO_TEST_CASE(second_request_on_an_established_connection_resets_it) {
  harness t;
  const auto listener = t.listen(host_port);
  t.send(guest_header(vs::op::request, guest_port, host_port));
  static_cast<void>(t.receive());

  t.send(guest_header(vs::op::request, guest_port, host_port));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::rst);
  BOOST_TEST(t.mux().counters().protocol_errors.get() == 1U);
}

BOOST_AUTO_TEST_CASE(data_with_the_other_socket_type_resets_the_connection) {
  harness t;
  const auto listener = t.listen(host_port);
  t.send(guest_header(vs::op::request, guest_port, host_port));
  static_cast<void>(t.receive());

  t.send(guest_header(vs::op::rw, guest_port, host_port, vs::socket_type::seqpacket), vsock_test::bytes_of("x"));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::rst);
}

BOOST_AUTO_TEST_CASE(guest_reset_while_the_device_owes_one_sends_nothing) {
  harness t;
  const auto listener = t.listen(host_port);
  t.send(guest_header(vs::op::request, guest_port, host_port));
  static_cast<void>(t.receive());
  t.send(guest_header(vs::op::request, guest_port, host_port));  // protocol error: a reset is owed

  t.send(guest_header(vs::op::rst, guest_port, host_port));

  BOOST_TEST(t.receive().empty());
  BOOST_TEST(t.mux().connection_count() == 0U);
}

BOOST_AUTO_TEST_CASE(data_after_guest_shutdown_send_resets_the_connection) {
  harness t;
  const auto listener = t.listen(host_port);
  t.send(guest_header(vs::op::request, guest_port, host_port));
  static_cast<void>(t.receive());
  auto sd = guest_header(vs::op::shutdown, guest_port, host_port);
  sd.flags = vs::shutdown_flag::send;
  t.send(sd);

  t.send(guest_header(vs::op::rw, guest_port, host_port), vsock_test::bytes_of("late"));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::rst);
}

BOOST_AUTO_TEST_CASE(full_reset_queue_drops_and_counts_further_resets) {
  harness t{16, 2};

  for (std::uint32_t port = 1; port <= 3; ++port) {
    t.send(guest_header(vs::op::rw, port, host_port), vsock_test::bytes_of("x"));
  }
  const auto replies = t.receive();

  BOOST_TEST(replies.size() == 2U);
  BOOST_TEST(t.mux().counters().resets_dropped.get() == 1U);
}

BOOST_AUTO_TEST_CASE(rx_chain_smaller_than_a_header_is_refused_and_the_packet_kept) {
  harness t;
  t.send(guest_header(vs::op::rw, guest_port, host_port), vsock_test::bytes_of("x"));

  const auto refused = t.mux().fill_rx(t.vm().memory(), t.vm().rx_chain(vs::header_size - 1));
  const auto replies = t.receive();

  BOOST_TEST(error_of(refused) == make_error_code(vs::errc::rx_buffer_too_small));
  BOOST_TEST(t.mux().counters().rx_buffer_too_small.get() == 1U);
  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::rst);
}

BOOST_AUTO_TEST_CASE(rx_chain_with_no_room_for_payload_returns_nothing_and_keeps_the_data) {
  harness t;
  const auto listener = t.listen(host_port);
  t.send(guest_header(vs::op::request, guest_port, host_port));
  static_cast<void>(t.receive());
  const auto host = unwrap(listener.accept());
  vsock_test::write_all(host, "data");
  static_cast<void>(t.mux().process_events());

  const auto used = t.mux().fill_rx(t.vm().memory(), t.vm().rx_chain(vs::header_size));
  const auto later = t.receive();

  BOOST_TEST(unwrap(vmm::result<std::uint32_t>{used}) == 0U);
  BOOST_TEST_REQUIRE(later.size() == 1U);
  BOOST_TEST(vsock_test::text_of(later[0].payload) == "data");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_handshakes)

BOOST_AUTO_TEST_CASE(connect_with_a_non_numeric_port_closes_the_socket) {
  harness t;

  const auto host = handshake(t, "CONNECT abc\n");

  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(t.mux().counters().handshake_failures.get() == 1U);
  BOOST_TEST(t.mux().handshake_count() == 0U);
  BOOST_TEST(t.mux().connection_count() == 0U);
}

BOOST_AUTO_TEST_CASE(connect_with_a_port_above_32_bits_closes_the_socket) {
  harness t;

  const auto host = handshake(t, "CONNECT 4294967296\n");

  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(t.mux().counters().handshake_failures.get() == 1U);
}

BOOST_AUTO_TEST_CASE(other_command_or_trailing_text_closes_the_socket) {
  harness t;

  const auto listen_cmd = handshake(t, "LISTEN 52\n");
  const auto trailing = handshake(t, "CONNECT 52 now\n");
  const auto signed_port = handshake(t, "CONNECT +52\n");

  BOOST_TEST(vsock_test::peer_closed(listen_cmd));
  BOOST_TEST(vsock_test::peer_closed(trailing));
  BOOST_TEST(vsock_test::peer_closed(signed_port));
  BOOST_TEST(t.mux().counters().handshake_failures.get() == 3U);
}

BOOST_AUTO_TEST_CASE(overlong_line_closes_the_socket) {
  harness t;

  const auto host = handshake(t, "CONNECT 00000000000000000000000000000052\n");

  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(t.mux().connection_count() == 0U);
}

BOOST_AUTO_TEST_CASE(no_newline_within_the_limit_closes_the_socket) {
  harness t;

  const auto host = handshake(t, std::string(vs::max_connect_line, 'C'));

  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(t.mux().counters().handshake_failures.get() == 1U);
}

BOOST_AUTO_TEST_CASE(partial_line_waits_and_completes_later) {
  harness t;
  auto host = handshake(t, "CONN");
  BOOST_TEST(t.mux().handshake_count() == 1U);

  vsock_test::write_all(host, "ECT 52\n");
  const auto packets = t.receive();

  BOOST_TEST_REQUIRE(packets.size() == 1U);
  BOOST_TEST(packets[0].h.op == vs::op::request);
  BOOST_TEST(t.mux().handshake_count() == 0U);
}

BOOST_AUTO_TEST_CASE(close_before_the_line_is_counted) {
  harness t;
  auto host = handshake(t, "");

  host.reset();
  static_cast<void>(t.receive());

  BOOST_TEST(t.mux().handshake_count() == 0U);
  BOOST_TEST(t.mux().counters().handshake_failures.get() == 1U);
}

BOOST_AUTO_TEST_CASE(host_socket_silent_past_the_connect_timeout_is_closed_and_counted) {
  harness t{16, 256, vsock_test::short_timeout};
  const auto host = handshake(t, "CONN");  // part of a line, then nothing
  BOOST_TEST_REQUIRE(t.mux().handshake_count() == 1U);

  for (int i = 0; i < 8 && t.mux().handshake_count() != 0; ++i) {
    static_cast<void>(t.await_events());
  }

  BOOST_TEST(t.mux().handshake_count() == 0U);
  BOOST_TEST(t.mux().deadline_count() == 0U);
  BOOST_TEST(t.mux().counters().handshake_timeouts.get() == 1U);
  BOOST_TEST(t.mux().counters().handshake_failures.get() == 0U);
  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(!t.mux().has_rx());  // the guest never heard of it
}

BOOST_AUTO_TEST_CASE(seqpacket_connect_without_negotiation_closes_the_socket) {
  harness t;
  t.mux().set_seqpacket(false);

  const auto host = handshake(t, "CONNECT 52\n", sys::socket_kind::seqpacket);

  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(t.mux().connection_count() == 0U);
}

BOOST_AUTO_TEST_CASE(seqpacket_connect_message_without_newline_closes_the_socket) {
  harness t;

  const auto host = handshake(t, "CONNECT 52", sys::socket_kind::seqpacket);

  BOOST_TEST(vsock_test::peer_closed(host));
}

BOOST_AUTO_TEST_CASE(seqpacket_connect_message_longer_than_the_line_limit_closes_the_socket) {
  harness t;

  const auto host =
      handshake(t, std::format("CONNECT 52{}\n", std::string(vs::max_connect_line, ' ')), sys::socket_kind::seqpacket);

  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(t.mux().counters().handshake_failures.get() == 1U);
}

BOOST_AUTO_TEST_CASE(host_connections_past_the_limit_are_closed_at_accept) {
  harness t{1};
  const auto first = handshake(t, "");

  const auto second = handshake(t, "");

  BOOST_TEST(vsock_test::peer_closed(second));
  BOOST_TEST(t.mux().handshake_count() == 1U);
}

BOOST_AUTO_TEST_CASE(guest_data_before_its_response_resets_the_host_connection) {
  harness t;
  auto host = handshake(t, "CONNECT 52\n");
  const auto local = vs::first_local_port;

  t.send(guest_header(vs::op::rw, host_port, local), vsock_test::bytes_of("x"));
  static_cast<void>(t.receive());

  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(t.mux().counters().protocol_errors.get() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(configuration)

BOOST_AUTO_TEST_CASE(reserved_cid_or_empty_path_returns_invalid_config) {
  const auto dir = unwrap(sys::temp_dir::create("vsock-test-"));

  BOOST_TEST(error_of(vs::muxer::create({.guest_cid = 2, .uds_path = dir.path() / "a"})) ==
             make_error_code(vs::errc::invalid_config));
  BOOST_TEST(error_of(vs::muxer::create({.guest_cid = 1ULL << 32U, .uds_path = dir.path() / "b"})) ==
             make_error_code(vs::errc::invalid_config));
  BOOST_TEST(error_of(vs::muxer::create({.guest_cid = 3, .uds_path = {}})) ==
             make_error_code(vs::errc::invalid_config));
}

BOOST_AUTO_TEST_CASE(zero_or_negative_timeout_returns_invalid_config) {
  const auto dir = unwrap(sys::temp_dir::create("vsock-test-"));

  BOOST_TEST(error_of(vs::muxer::create(
                 {.guest_cid = 3, .uds_path = dir.path() / "a", .connect_timeout = std::chrono::milliseconds{0}})) ==
             make_error_code(vs::errc::invalid_config));
  BOOST_TEST(error_of(vs::muxer::create(
                 {.guest_cid = 3, .uds_path = dir.path() / "b", .close_timeout = std::chrono::milliseconds{-1}})) ==
             make_error_code(vs::errc::invalid_config));
  BOOST_TEST(!std::filesystem::exists(dir.path() / "a"));  // refused before binding anything
}

BOOST_AUTO_TEST_CASE(existing_socket_path_returns_address_in_use) {
  const auto dir = unwrap(sys::temp_dir::create("vsock-test-"));
  const auto first = vs::muxer::create({.guest_cid = 3, .uds_path = dir.path() / "v.sock"});

  const auto second = vs::muxer::create({.guest_cid = 3, .uds_path = dir.path() / "v.sock"});

  BOOST_TEST(first.has_value());
  BOOST_TEST(error_of(second) == vmm::testing::os_error(EADDRINUSE));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(regression)

// A guest that claims to have forwarded more than it was sent must not get a credit that wraps to ~4 GiB.
BOOST_AUTO_TEST_CASE(guest_fwd_cnt_ahead_of_rx_cnt_gives_zero_credit_not_a_wrapped_one) {
  harness t;
  const auto listener = t.listen(host_port);
  auto request = guest_header(vs::op::request, guest_port, host_port);
  request.fwd_cnt = 1000;  // nothing was sent yet
  t.send(request);
  static_cast<void>(t.receive());
  const auto host = unwrap(listener.accept());

  vsock_test::write_all(host, "data");
  const auto packets = t.receive();

  BOOST_TEST(t.mux().find(host_port, guest_port)->peer_credit() == 0U);
  BOOST_TEST(packets.empty());
}

// A host listener that stops accepting must not block the device thread: the request is refused at once.
BOOST_AUTO_TEST_CASE(full_listener_backlog_refuses_the_request_instead_of_blocking) {
  harness t;
  const auto listener = t.listen(host_port, sys::socket_kind::stream, 0);

  std::vector<vsock_test::packet> replies;
  for (std::uint32_t port = 1; port <= 4; ++port) {  // backlog 0 admits one or two pending connections
    t.send(guest_header(vs::op::request, port, host_port));
    auto r = t.receive();
    replies.insert(replies.end(), r.begin(), r.end());
  }

  BOOST_TEST_REQUIRE(replies.size() == 4U);
  BOOST_TEST(replies.back().h.op == vs::op::rst);
  BOOST_TEST(t.mux().counters().guest_connect_failures.get() >= 1U);
}

// Writing to a host socket whose peer is gone must not raise SIGPIPE (which kills the VMM): the device resets.
BOOST_AUTO_TEST_CASE(guest_data_to_a_closed_host_socket_resets_instead_of_raising_sigpipe) {
  harness t;
  const auto listener = t.listen(host_port);
  t.send(guest_header(vs::op::request, guest_port, host_port));
  static_cast<void>(t.receive());
  unwrap(listener.accept()).reset();

  t.send(guest_header(vs::op::rw, guest_port, host_port), vsock_test::bytes_of("anyone?"));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(!replies.empty());
  BOOST_TEST(replies.back().h.op == vs::op::rst);
  BOOST_TEST(t.mux().counters().socket_errors.get() == 1U);
  BOOST_TEST(t.mux().connection_count() == 0U);
}

// The ephemeral local port counter wraps back to 2^30 and skips ports in use instead of colliding.
BOOST_AUTO_TEST_CASE(local_ports_of_host_connections_are_unique_while_open) {
  harness t;
  std::set<std::uint32_t> ports;
  std::vector<sys::unique_fd> hosts;

  for (int i = 0; i < 8; ++i) {
    hosts.push_back(handshake(t, "CONNECT 52\n"));
  }
  for (std::uint32_t p = vs::first_local_port; p < vs::first_local_port + 8; ++p) {
    const auto* c = t.mux().find(p, host_port);
    BOOST_TEST_REQUIRE(c != nullptr);
    ports.insert(c->local_port());
  }

  BOOST_TEST(ports.size() == 8U);
}

BOOST_AUTO_TEST_SUITE_END()
