// The muxer and its connections with real unix sockets in a temporary directory: guest → host connections to
// "<uds>_<port>", host → guest connections through the CONNECT handshake, data both ways, shutdown and reset,
// credit flow control, and seqpacket message boundaries.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.memory;
import vmm.event_manager;
import vmm.virtio.queue;
import vmm.virtio.device;
import vmm.virtio.vsock;
import vmm.testing;
import vsock_fakes;

namespace vs = vmm::virtio::vsock;
namespace sys = vmm::sys;
using vsock_test::guest_header;
using vsock_test::harness;
using vsock_test::packet;
using vsock_test::unwrap;

namespace {

constexpr std::uint32_t guest_port = 1000;
constexpr std::uint32_t host_port = 52;

// The guest connects to host_port; returns the host's accepted socket (the RESPONSE already checked).
auto connect_from_guest(harness& t, const sys::unix_listener& listener, std::uint16_t type = vs::socket_type::stream)
    -> sys::unique_fd {
  t.send(guest_header(vs::op::request, guest_port, host_port, type));
  const auto replies = t.receive();
  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST_REQUIRE(replies[0].h.op == vs::op::response);
  return unwrap(listener.accept());
}

// The host connects with "CONNECT <port>\n"; returns its socket and the REQUEST the guest saw.
auto connect_from_host(harness& t, std::uint32_t port, sys::socket_kind kind = sys::socket_kind::stream)
    -> std::pair<sys::unique_fd, packet> {
  auto host = unwrap(sys::unix_connect(kind == sys::socket_kind::stream ? t.uds() : t.seqpacket_uds(), kind));
  vsock_test::write_all(host, std::format("CONNECT {}\n", port));
  auto packets = t.receive();
  BOOST_TEST_REQUIRE(packets.size() == 1U);
  return {std::move(host), packets[0]};
}

auto data_of(const std::vector<packet>& packets) -> std::string {
  std::string out;
  for (const auto& p : packets) {
    if (p.h.op == vs::op::rw) {
      out += vsock_test::text_of(p.payload);
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(guest_initiated)

BOOST_AUTO_TEST_CASE(request_to_listening_port_gets_response_addressed_back) {
  harness t;
  const auto listener = t.listen(host_port);

  t.send(guest_header(vs::op::request, guest_port, host_port));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  const auto& h = replies[0].h;
  BOOST_TEST(h.op == vs::op::response);
  BOOST_TEST(h.src_cid == vs::host_cid);
  BOOST_TEST(h.dst_cid == vsock_test::guest_cid);
  BOOST_TEST(h.src_port == host_port);
  BOOST_TEST(h.dst_port == guest_port);
  BOOST_TEST(h.buf_alloc == vs::connection_buffer_size);
  BOOST_TEST(t.mux().connection_count() == 1U);
  BOOST_TEST(t.mux().counters().guest_connects.get() == 1U);
}

BOOST_AUTO_TEST_CASE(data_flows_both_ways) {
  harness t;
  const auto listener = t.listen(host_port);
  const auto host = connect_from_guest(t, listener);

  t.send(guest_header(vs::op::rw, guest_port, host_port), vsock_test::bytes_of("ping"));
  vsock_test::write_all(host, "pong");
  const auto packets = t.receive();

  BOOST_TEST(vsock_test::read_now(host) == "ping");
  BOOST_TEST(data_of(packets) == "pong");
  BOOST_TEST(t.mux().find(host_port, guest_port)->forwarded_count() == 4U);
  BOOST_TEST(t.mux().find(host_port, guest_port)->rx_count() == 4U);
}

BOOST_AUTO_TEST_CASE(guest_shutdown_send_gives_host_end_of_stream_and_full_shutdown_ends_with_reset) {
  harness t;
  const auto listener = t.listen(host_port);
  const auto host = connect_from_guest(t, listener);

  auto sd = guest_header(vs::op::shutdown, guest_port, host_port);
  sd.flags = vs::shutdown_flag::send;
  t.send(sd);
  BOOST_TEST(vsock_test::peer_closed(host));  // end of stream: the host reads 0
  sd.flags = vs::shutdown_flag::both;
  t.send(sd);
  const auto packets = t.receive();

  BOOST_TEST_REQUIRE(packets.size() == 1U);
  BOOST_TEST(packets[0].h.op == vs::op::rst);
  BOOST_TEST(t.mux().connection_count() == 0U);
}

BOOST_AUTO_TEST_CASE(host_close_sends_shutdown_and_guest_reset_removes_connection) {
  harness t;
  const auto listener = t.listen(host_port);
  auto host = connect_from_guest(t, listener);

  vsock_test::write_all(host, "bye");
  host.reset();
  const auto packets = t.receive();
  t.send(guest_header(vs::op::rst, guest_port, host_port));

  BOOST_TEST_REQUIRE(packets.size() == 2U);
  BOOST_TEST(data_of(packets) == "bye");
  BOOST_TEST(packets[1].h.op == vs::op::shutdown);
  BOOST_TEST(packets[1].h.flags == vs::shutdown_flag::send);
  BOOST_TEST(t.mux().connection_count() == 0U);
}

BOOST_AUTO_TEST_CASE(guest_reset_with_host_data_queued_drops_it_and_removes_the_connection) {
  harness t;
  const auto listener = t.listen(host_port);
  const auto host = connect_from_guest(t, listener);
  vsock_test::write_all(host, "unsent");
  static_cast<void>(t.mux().process_events());  // read, queued for the guest

  t.send(guest_header(vs::op::rst, guest_port, host_port));

  BOOST_TEST(t.receive().empty());
  BOOST_TEST(t.mux().connection_count() == 0U);
  BOOST_TEST(vsock_test::peer_closed(host));
}

BOOST_AUTO_TEST_CASE(host_close_with_unread_data_is_a_socket_error_and_resets) {
  harness t;
  const auto listener = t.listen(host_port);
  auto host = connect_from_guest(t, listener);
  t.send(guest_header(vs::op::rw, guest_port, host_port), vsock_test::bytes_of("never read"));

  host.reset();  // unread data: the device's next read gets ECONNRESET
  const auto packets = t.receive();

  BOOST_TEST_REQUIRE(packets.size() == 1U);
  BOOST_TEST(packets[0].h.op == vs::op::rst);
  BOOST_TEST(t.mux().counters().socket_errors.get() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(host_initiated)

BOOST_AUTO_TEST_CASE(connect_line_sends_request_from_an_ephemeral_port_and_response_answers_ok) {
  harness t;

  auto [host, request] = connect_from_host(t, host_port);
  auto response = guest_header(vs::op::response, host_port, request.h.src_port);
  t.send(response);
  static_cast<void>(t.receive());

  BOOST_TEST(request.h.op == vs::op::request);
  BOOST_TEST(request.h.dst_port == host_port);
  BOOST_TEST(request.h.src_port >= vs::first_local_port);
  BOOST_TEST(vsock_test::read_now(host) == std::format("OK {}\n", request.h.src_port));
  BOOST_TEST(t.mux().counters().host_connects.get() == 1U);
}

BOOST_AUTO_TEST_CASE(data_after_ok_flows_both_ways_including_bytes_sent_with_the_connect_line) {
  harness t;
  auto host = unwrap(sys::unix_connect(t.uds()));
  vsock_test::write_all(host, "CONNECT 52\nearly");
  const auto request = t.receive().at(0);

  t.send(guest_header(vs::op::response, host_port, request.h.src_port));
  const auto early = t.receive();
  t.send(guest_header(vs::op::rw, host_port, request.h.src_port), vsock_test::bytes_of("from guest"));

  BOOST_TEST(data_of(early) == "early");
  BOOST_TEST(vsock_test::read_now(host) == std::format("OK {}\nfrom guest", request.h.src_port));
}

BOOST_AUTO_TEST_CASE(guest_reset_instead_of_response_closes_the_host_socket) {
  harness t;
  auto [host, request] = connect_from_host(t, host_port);

  t.send(guest_header(vs::op::rst, host_port, request.h.src_port));

  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(t.mux().connection_count() == 0U);
}

BOOST_AUTO_TEST_CASE(two_host_connections_get_distinct_local_ports) {
  harness t;

  auto first = connect_from_host(t, host_port);
  auto second = connect_from_host(t, host_port);

  BOOST_TEST(first.second.h.src_port != second.second.h.src_port);
  BOOST_TEST(t.mux().connection_count() == 2U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(credit)

BOOST_AUTO_TEST_CASE(host_data_is_held_to_the_guest_credit_then_a_credit_request_follows) {
  harness t;
  const auto listener = t.listen(host_port);
  auto request = guest_header(vs::op::request, guest_port, host_port);
  request.buf_alloc = 10;  // the guest can take 10 bytes
  t.send(request);
  static_cast<void>(t.receive());
  const auto host = unwrap(listener.accept());

  vsock_test::write_all(host, "0123456789abcdefghij");
  const auto first = t.receive();
  auto update = guest_header(vs::op::credit_update, guest_port, host_port);
  update.buf_alloc = 10;
  update.fwd_cnt = 10;  // the guest application read all 10
  t.send(update);
  const auto second = t.receive();

  BOOST_TEST(data_of(first) == "0123456789");
  BOOST_TEST(first.back().h.op == vs::op::credit_request);
  BOOST_TEST(data_of(second) == "abcdefghij");
  BOOST_TEST(t.mux().find(host_port, guest_port)->peer_credit() == 0U);
}

BOOST_AUTO_TEST_CASE(credit_request_is_answered_with_credit_update_carrying_fwd_cnt) {
  harness t;
  const auto listener = t.listen(host_port);
  const auto host = connect_from_guest(t, listener);
  t.send(guest_header(vs::op::rw, guest_port, host_port), vsock_test::bytes_of("12345"));

  t.send(guest_header(vs::op::credit_request, guest_port, host_port));
  const auto packets = t.receive();

  BOOST_TEST_REQUIRE(packets.size() == 1U);
  BOOST_TEST(packets[0].h.op == vs::op::credit_update);
  BOOST_TEST(packets[0].h.fwd_cnt == 5U);
  BOOST_TEST(packets[0].h.buf_alloc == vs::connection_buffer_size);
}

BOOST_AUTO_TEST_CASE(forwarding_half_the_buffer_sends_an_unasked_credit_update) {
  harness t;
  const auto listener = t.listen(host_port);
  const auto host = connect_from_guest(t, listener);
  const std::vector<std::byte> chunk(vs::max_packet_payload, std::byte{'x'});

  for (int i = 0; i < 2; ++i) {  // 128 KiB: half of the device's 256 KiB buffer
    t.send(guest_header(vs::op::rw, guest_port, host_port), chunk);
    static_cast<void>(vsock_test::read_now(host));
  }
  const auto packets = t.receive();

  BOOST_TEST_REQUIRE(packets.size() == 1U);
  BOOST_TEST(packets[0].h.op == vs::op::credit_update);
  BOOST_TEST(packets[0].h.fwd_cnt == 2 * vs::max_packet_payload);
}

BOOST_AUTO_TEST_CASE(host_socket_full_buffers_guest_data_and_flushes_when_writable) {
  harness t;
  const auto listener = t.listen(host_port);
  const auto host = connect_from_guest(t, listener);
  const std::vector<std::byte> chunk(vs::max_packet_payload, std::byte{'y'});

  for (int i = 0; i < 4; ++i) {  // 256 KiB: more than a unix socket buffers by default, within the device's
    t.send(guest_header(vs::op::rw, guest_port, host_port), chunk);
  }
  const auto buffered = t.mux().find(host_port, guest_port)->tx_buffered();
  std::size_t read = 0;
  for (int round = 0; round < 1000 && read < 4 * chunk.size(); ++round) {
    read += vsock_test::read_now(host).size();
    static_cast<void>(t.receive());
  }

  BOOST_TEST(buffered > 0U);
  BOOST_TEST(read == 4 * chunk.size());
  BOOST_TEST(t.mux().find(host_port, guest_port)->forwarded_count() == 4 * chunk.size());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(seqpacket)

BOOST_AUTO_TEST_CASE(guest_message_in_two_packets_reaches_host_as_one_message) {
  harness t;
  const auto listener = t.listen(host_port, sys::socket_kind::seqpacket);
  const auto host = connect_from_guest(t, listener, vs::socket_type::seqpacket);

  t.send(guest_header(vs::op::rw, guest_port, host_port, vs::socket_type::seqpacket), vsock_test::bytes_of("hel"));
  auto last = guest_header(vs::op::rw, guest_port, host_port, vs::socket_type::seqpacket);
  last.flags = vs::seq_flag::eom;
  t.send(last, vsock_test::bytes_of("lo"));
  t.send(last, vsock_test::bytes_of("second"));

  std::array<std::byte, 64> buffer{};
  const auto first = unwrap(sys::recv_with_fds(host, buffer));
  BOOST_TEST(vsock_test::text_of(std::span{buffer}.first(first.bytes)) == "hello");
  const auto second = unwrap(sys::recv_with_fds(host, buffer));
  BOOST_TEST(vsock_test::text_of(std::span{buffer}.first(second.bytes)) == "second");
}

BOOST_AUTO_TEST_CASE(host_messages_reach_guest_each_ending_with_eom) {
  harness t;
  const auto listener = t.listen(host_port, sys::socket_kind::seqpacket);
  const auto host = connect_from_guest(t, listener, vs::socket_type::seqpacket);

  vsock_test::write_all(host, "one");
  vsock_test::write_all(host, "two!");
  const auto packets = t.receive();

  BOOST_TEST_REQUIRE(packets.size() == 2U);
  BOOST_TEST(vsock_test::text_of(packets[0].payload) == "one");
  BOOST_TEST(vsock_test::text_of(packets[1].payload) == "two!");
  for (const auto& p : packets) {
    BOOST_TEST(p.h.type == vs::socket_type::seqpacket);
    BOOST_TEST(p.h.flags == (vs::seq_flag::eom | vs::seq_flag::eor));
  }
}

BOOST_AUTO_TEST_CASE(host_message_beyond_credit_is_split_and_only_the_last_piece_has_eom) {
  harness t;
  const auto listener = t.listen(host_port, sys::socket_kind::seqpacket);
  auto request = guest_header(vs::op::request, guest_port, host_port, vs::socket_type::seqpacket);
  request.buf_alloc = 4;
  t.send(request);
  static_cast<void>(t.receive());
  const auto host = unwrap(listener.accept());

  vsock_test::write_all(host, "abcdef");
  const auto first = t.receive();
  auto update = guest_header(vs::op::credit_update, guest_port, host_port, vs::socket_type::seqpacket);
  update.buf_alloc = 4;
  update.fwd_cnt = 4;
  t.send(update);
  const auto second = t.receive();

  BOOST_TEST_REQUIRE(first.size() == 2U);  // "abcd", then a credit request
  BOOST_TEST(first[0].h.flags == 0U);
  BOOST_TEST_REQUIRE(second.size() == 1U);
  BOOST_TEST(vsock_test::text_of(second[0].payload) == "ef");
  BOOST_TEST(second[0].h.flags == (vs::seq_flag::eom | vs::seq_flag::eor));
}

BOOST_AUTO_TEST_CASE(host_message_above_64_kib_resets_the_connection) {
  harness t;
  const auto listener = t.listen(host_port, sys::socket_kind::seqpacket);
  const auto host = connect_from_guest(t, listener, vs::socket_type::seqpacket);
  const std::vector<std::byte> big(vs::max_host_read + 1, std::byte{'m'});

  BOOST_TEST_REQUIRE(unwrap(sys::send_with_fds(host, big)) == big.size());
  const auto packets = t.receive();

  BOOST_TEST_REQUIRE(packets.size() == 1U);
  BOOST_TEST(packets[0].h.op == vs::op::rst);
  BOOST_TEST(t.mux().counters().protocol_errors.get() == 1U);
}

BOOST_AUTO_TEST_CASE(host_connect_on_the_seqpacket_listener_opens_a_seqpacket_connection) {
  harness t;

  auto [host, request] = connect_from_host(t, host_port, sys::socket_kind::seqpacket);
  t.send(guest_header(vs::op::response, host_port, request.h.src_port, vs::socket_type::seqpacket));
  static_cast<void>(t.receive());

  BOOST_TEST(request.h.type == vs::socket_type::seqpacket);
  std::array<std::byte, 64> buffer{};
  const auto ok = unwrap(sys::recv_with_fds(host, buffer));
  BOOST_TEST(vsock_test::text_of(std::span{buffer}.first(ok.bytes)) == std::format("OK {}\n", request.h.src_port));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(deadlines)

namespace {

// Lets the muxer's deadlines pass: waits for its events (at most wait_limit each) until `done` holds, taking the
// packets owed to the guest after each; returns them.
template <class Done>
auto receive_until(harness& t, Done done) -> std::vector<packet> {
  std::vector<packet> out;
  for (int i = 0; i < 8 && !done(); ++i) {
    static_cast<void>(t.await_events());
    for (auto& p : t.receive()) {
      out.push_back(std::move(p));
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(host_connect_the_guest_never_answers_is_reset_and_closed_after_the_deadline) {
  harness t{16, 256, vsock_test::short_timeout};
  auto [host, request] = connect_from_host(t, host_port);
  BOOST_TEST_REQUIRE(request.h.op == vs::op::request);
  BOOST_TEST_REQUIRE(t.mux().deadline_count() == 1U);

  const auto packets = receive_until(t, [&] { return t.mux().connection_count() == 0; });

  BOOST_TEST_REQUIRE(packets.size() == 1U);
  BOOST_TEST(packets[0].h.op == vs::op::rst);
  BOOST_TEST(packets[0].h.src_port == request.h.src_port);
  BOOST_TEST(packets[0].h.dst_port == host_port);
  BOOST_TEST(packets[0].h.dst_cid == vsock_test::guest_cid);
  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(vsock_test::read_now(host).empty());  // no "OK"
  BOOST_TEST(t.mux().connection_count() == 0U);
  BOOST_TEST(t.mux().deadline_count() == 0U);
  BOOST_TEST(t.mux().counters().connect_timeouts.get() == 1U);
  BOOST_TEST(t.mux().counters().host_connects.get() == 0U);
}

BOOST_AUTO_TEST_CASE(late_response_after_the_connect_deadline_is_answered_with_a_reset) {
  harness t{16, 256, vsock_test::short_timeout};
  auto [host, request] = connect_from_host(t, host_port);
  static_cast<void>(receive_until(t, [&] { return t.mux().connection_count() == 0; }));

  t.send(guest_header(vs::op::response, host_port, request.h.src_port));
  const auto replies = t.receive();

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::rst);
  BOOST_TEST(t.mux().counters().no_connection.get() == 1U);
  BOOST_TEST(t.mux().connection_count() == 0U);
}

BOOST_AUTO_TEST_CASE(request_never_delivered_for_lack_of_rx_buffers_times_out_without_a_reset) {
  harness t{16, 256, vsock_test::short_timeout};
  const auto host = unwrap(sys::unix_connect(t.uds()));
  vsock_test::write_all(host, "CONNECT 52\n");

  // The guest posts no rx buffer: the REQUEST stays queued in the device.
  for (int i = 0; i < 8 && t.mux().counters().connect_timeouts.get() == 0; ++i) {
    static_cast<void>(t.await_events());
  }

  BOOST_TEST(t.mux().counters().connect_timeouts.get() == 1U);
  BOOST_TEST(t.mux().connection_count() == 0U);
  BOOST_TEST(!t.mux().has_rx());  // neither the REQUEST nor a reset for it
  BOOST_TEST(vsock_test::peer_closed(host));
}

BOOST_AUTO_TEST_CASE(host_connect_answered_in_time_outlives_the_deadline_of_one_that_is_not) {
  harness t{16, 256, vsock_test::short_timeout};
  auto [answered, request] = connect_from_host(t, host_port);
  auto [ignored, ignored_request] = connect_from_host(t, host_port + 1);
  t.send(guest_header(vs::op::response, host_port, request.h.src_port));
  static_cast<void>(t.receive());
  BOOST_TEST_REQUIRE(t.mux().deadline_count() == 1U);  // only the ignored one is timed

  const auto packets = receive_until(t, [&] { return t.mux().connection_count() == 1; });
  vsock_test::write_all(answered, "still here");
  const auto data = t.receive();
  t.send(guest_header(vs::op::rw, host_port, request.h.src_port), vsock_test::bytes_of("and here"));

  BOOST_TEST_REQUIRE(packets.size() == 1U);
  BOOST_TEST(packets[0].h.op == vs::op::rst);
  BOOST_TEST(packets[0].h.src_port == ignored_request.h.src_port);
  BOOST_TEST(vsock_test::peer_closed(ignored));
  BOOST_TEST(t.mux().counters().connect_timeouts.get() == 1U);
  BOOST_TEST_REQUIRE(t.mux().find(request.h.src_port, host_port) != nullptr);
  BOOST_TEST((t.mux().find(request.h.src_port, host_port)->state() == vs::connection_state::established));
  BOOST_TEST(data_of(data) == "still here");
  BOOST_TEST(vsock_test::read_now(answered) == std::format("OK {}\nand here", request.h.src_port));
}

BOOST_AUTO_TEST_CASE(connection_whose_reset_the_guest_never_takes_is_freed_after_the_deadline) {
  harness t{16, 256, std::chrono::seconds{2}, vsock_test::short_timeout};
  const auto listener = t.listen(host_port);
  const auto host = connect_from_guest(t, listener);
  t.send(guest_header(vs::op::request, guest_port, host_port));  // a protocol error: the device owes a reset
  const auto* conn = t.mux().find(host_port, guest_port);
  BOOST_TEST_REQUIRE(conn != nullptr);
  BOOST_TEST_REQUIRE((conn->state() == vs::connection_state::closing));
  BOOST_TEST_REQUIRE(!vsock_test::peer_closed(host));

  // The guest posts no rx buffer and sends no reset of its own.
  for (int i = 0; i < 8 && t.mux().connection_count() != 0; ++i) {
    static_cast<void>(t.await_events());
  }
  const bool closed = vsock_test::peer_closed(host);
  const auto packets = t.receive();  // the reset, moved to the standalone queue, still reaches the guest

  BOOST_TEST(t.mux().connection_count() == 0U);
  BOOST_TEST(t.mux().deadline_count() == 0U);
  BOOST_TEST(t.mux().counters().close_timeouts.get() == 1U);
  BOOST_TEST(closed);
  BOOST_TEST_REQUIRE(packets.size() == 1U);
  BOOST_TEST(packets[0].h.op == vs::op::rst);
  BOOST_TEST(packets[0].h.src_port == host_port);
  BOOST_TEST(packets[0].h.dst_port == guest_port);
}

BOOST_AUTO_TEST_CASE(established_connection_idle_past_both_deadlines_is_untouched) {
  harness t{16, 256, vsock_test::short_timeout, vsock_test::short_timeout};
  const auto listener = t.listen(host_port);
  const auto host = connect_from_guest(t, listener);
  // A second, never answered host connection makes the timer fire while the first one idles.
  auto [ignored, request] = connect_from_host(t, host_port);

  static_cast<void>(receive_until(t, [&] { return t.mux().connection_count() == 1; }));
  t.send(guest_header(vs::op::rw, guest_port, host_port), vsock_test::bytes_of("alive"));

  BOOST_TEST(t.mux().counters().connect_timeouts.get() == 1U);
  BOOST_TEST(t.mux().counters().close_timeouts.get() == 0U);
  BOOST_TEST_REQUIRE(t.mux().find(host_port, guest_port) != nullptr);
  BOOST_TEST(vsock_test::read_now(host) == "alive");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(muxer_lifecycle)

BOOST_AUTO_TEST_CASE(reset_all_closes_every_socket_without_packets) {
  harness t;
  const auto listener = t.listen(host_port);
  const auto host = connect_from_guest(t, listener);
  auto pending = unwrap(sys::unix_connect(t.uds()));
  static_cast<void>(t.receive());

  t.mux().reset_all();

  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(vsock_test::peer_closed(pending));
  BOOST_TEST(t.mux().connection_count() == 0U);
  BOOST_TEST(t.mux().handshake_count() == 0U);
  BOOST_TEST(t.mux().deadline_count() == 0U);
  BOOST_TEST(!t.mux().has_rx());
}

BOOST_AUTO_TEST_CASE(metrics_serialise_every_counter_to_json) {
  harness t;
  t.send(guest_header(vs::op::rw, guest_port, host_port));
  static_cast<void>(t.receive());

  const auto json = t.mux().counters().to_json();

  BOOST_TEST(json.starts_with("{\"tx_packets\": 1, "));
  BOOST_TEST(json.find("\"resets_sent\": 1") != std::string::npos);
  BOOST_TEST(json.ends_with("\"config_writes_ignored\": 0}"));
}

BOOST_AUTO_TEST_SUITE_END()

// The device end to end: split queues in guest memory driven by vmm.testing's mock driver, the tx and rx
// notifications and the sockets dispatched by an event manager through vsock_handler.
namespace {

namespace mem = vmm::memory;
namespace q = vmm::virtio::queue;
namespace dev = vmm::virtio::device;

constexpr std::uint16_t ring_size = 16;
constexpr std::uint32_t rx_buffer_bytes = 4096;

auto at(std::uint64_t a) -> mem::guest_address {
  return mem::guest_address{a};
}

class counting_interrupt final : public dev::virtio_interrupt {
 public:
  [[nodiscard]] auto signal(dev::interrupt_cause /*cause*/) -> vmm::result<void> override {
    ++count;
    return {};
  }
  int count = 0;
};

// The driver makes a chain available: split queues publish it, packed ones make it available as they write it.
void offer_to(vmm::testing::split_driver& d, std::span<const vmm::testing::driver_buffer> buffers) {
  static_cast<void>(d.offer(buffers));
}
void offer_to(vmm::testing::packed_driver& d, std::span<const vmm::testing::driver_buffer> buffers) {
  static_cast<void>(d.add_chain(buffers));
}

// A vsock device activated with three queues of the mock driver's kind (split or packed); the driver side of each,
// and their notification eventfds.
template <class Driver>
struct basic_rig {
  sys::temp_dir dir = unwrap(sys::temp_dir::create("vsock-device-"));
  std::shared_ptr<vs::vsock_device> device =
      unwrap(vs::vsock_device::create({.guest_cid = vsock_test::guest_cid, .uds_path = dir.path() / "v.sock"}));
  std::shared_ptr<mem::atomic_guest_memory> memory = std::make_shared<mem::atomic_guest_memory>(make_memory());
  std::shared_ptr<const mem::guest_memory> view = memory->memory();
  std::array<Driver, 3> drivers{Driver{*view, ring_size, at(0x10000), at(0x11000), at(0x12000)},
                                Driver{*view, ring_size, at(0x20000), at(0x21000), at(0x22000)},
                                Driver{*view, ring_size, at(0x30000), at(0x31000), at(0x32000)}};
  std::array<sys::event_fd, 3> events{unwrap(sys::event_fd::create({.nonblocking = true})),
                                      unwrap(sys::event_fd::create({.nonblocking = true})),
                                      unwrap(sys::event_fd::create({.nonblocking = true}))};
  std::shared_ptr<counting_interrupt> interrupt = std::make_shared<counting_interrupt>();
  std::uint64_t next_rx_buffer = 0x40000;

  static auto make_memory() -> mem::guest_memory {
    const std::array layout{mem::guest_range{.start = at(0), .size = 0x100000}};
    return unwrap(mem::guest_memory::anonymous(layout));
  }

  auto activate(std::uint64_t features) -> vmm::result<void> {
    dev::activation a{.features = features, .memory = memory, .queues = {}, .queue_events = {}, .interrupt = interrupt};
    for (std::size_t i = 0; i < drivers.size(); ++i) {
      a.queues.push_back(unwrap(q::virtqueue::create(drivers[i].config(), features, *view)));
      a.queue_events.push_back(events[i].fd());
    }
    return device->activate(std::move(a));
  }

  // The driver offers `count` rx buffers.
  void offer_rx(int count) {
    for (int i = 0; i < count; ++i) {
      const std::array buffer{vmm::testing::driver_buffer{
          .address = at(next_rx_buffer), .length = vs::header_size + rx_buffer_bytes, .writable = true}};
      next_rx_buffer += 0x2000;
      offer_to(drivers[vs::queue_index::rx], buffer);
    }
  }

  // The driver sends one packet on the tx queue (header and payload in one buffer, each packet in its own page).
  void offer_tx(vs::header h, std::span<const std::byte> payload = {}) {
    h.len = static_cast<std::uint32_t>(payload.size());
    const auto encoded = vs::encode(h);
    const std::uint64_t address = next_tx_buffer;
    next_tx_buffer += 0x1000;
    unwrap(view->write_all(at(address), encoded));
    if (!payload.empty()) {
      unwrap(view->write_all(at(address + vs::header_size), payload));
    }
    const std::array buffer{vmm::testing::driver_buffer{
        .address = at(address), .length = static_cast<std::uint32_t>(vs::header_size + payload.size())}};
    offer_to(drivers[vs::queue_index::tx], buffer);
  }
  std::uint64_t next_tx_buffer = 0x90000;

  // The driver offers one event buffer of `length` bytes at `address` (it and at least 4 bytes filled with 0xff
  // first, so that the event's zero id, or a write that should not have happened, shows).
  void offer_event(std::uint64_t address, std::uint32_t length = vs::event_size, bool writable = true) {
    const std::vector<std::byte> fill(std::max<std::size_t>(length, vs::event_size), std::byte{0xff});
    unwrap(view->write_all(at(address), fill));
    const std::array buffer{
        vmm::testing::driver_buffer{.address = at(address), .length = length, .writable = writable}};
    offer_to(drivers[vs::queue_index::event], buffer);
  }

  // The le32 at `address`.
  auto le32_at(std::uint64_t address) const -> std::uint32_t {
    std::array<std::byte, 4> raw{};
    unwrap(view->read_exact(at(address), raw));
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      v |= std::to_integer<std::uint32_t>(raw[i]) << (8U * i);
    }
    return v;
  }

  // Handles the backend until `done` holds (each wait bounded by wait_limit, at most 8 of them).
  template <class Done>
  void drive_backend(Done done) {
    for (int i = 0; i < 8 && !done(); ++i) {
      if (vsock_test::readable_within(device->backend_fd())) {
        unwrap(device->process_backend());
      }
    }
  }

  // The packets the device put in used rx buffers since the last call.
  auto used_rx() -> std::vector<packet> {
    std::vector<packet> out;
    while (const auto u = drivers[vs::queue_index::rx].take_used()) {
      // The mock driver's split chains are single buffers here: its descriptor id names the buffer.
      const auto address = 0x40000 + (0x2000 * static_cast<std::uint64_t>(rx_taken++));
      std::array<std::byte, vs::header_size> raw{};
      unwrap(view->read_exact(at(address), raw));
      packet p{.h = vs::decode(raw), .payload = std::vector<std::byte>(u->length - vs::header_size)};
      if (!p.payload.empty()) {
        unwrap(view->read_exact(at(address + vs::header_size), p.payload));
      }
      out.push_back(std::move(p));
    }
    return out;
  }
  int rx_taken = 0;
};

using device_rig = basic_rig<vmm::testing::split_driver>;
using packed_rig = basic_rig<vmm::testing::packed_driver>;

constexpr std::uint64_t negotiated = (1ULL << q::feature::version_1) | (1ULL << vs::feature::seqpacket);
constexpr std::uint64_t negotiated_packed = negotiated | (1ULL << q::feature::ring_packed);
constexpr std::uint64_t event_buffer_at = 0x70000;

}  // namespace

BOOST_AUTO_TEST_SUITE(device)

BOOST_AUTO_TEST_CASE(identity_features_and_read_only_config_space) {
  device_rig r;
  std::array<std::byte, 8> cid{};
  std::array<std::byte, 4> past{std::byte{0xff}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff}};

  r.device->read_config(0, cid);
  r.device->read_config(6, past);
  r.device->write_config(0, cid);

  BOOST_TEST(r.device->device_type() == dev::device_id::vsock);
  const auto features = r.device->device_features();
  BOOST_TEST(q::has_feature(features, q::feature::version_1));
  BOOST_TEST(q::has_feature(features, vs::feature::seqpacket));
  BOOST_TEST(q::has_feature(features, q::feature::event_idx));
  BOOST_TEST(q::has_feature(features, q::feature::ring_packed));
  BOOST_TEST(r.device->queue_max_sizes().size() == 3U);
  BOOST_TEST(std::to_integer<int>(cid[0]) == 3);
  BOOST_TEST(std::to_integer<int>(past[1]) == 0);  // offset 7: the cid's top byte
  BOOST_TEST(std::to_integer<int>(past[2]) == 0);  // past the 8-byte space
  BOOST_TEST(r.device->counters().config_writes_ignored.get() == 1U);
}

BOOST_AUTO_TEST_CASE(activation_without_three_queues_is_refused) {
  device_rig r;
  dev::activation a{.features = negotiated, .memory = r.memory, .queues = {}, .queue_events = {}, .interrupt = {}};

  const auto result = r.device->activate(std::move(a));

  BOOST_TEST(vmm::testing::error_of(result) == make_error_code(q::errc::invalid_configuration));
  BOOST_TEST(!r.device->active());
}

BOOST_AUTO_TEST_CASE(request_through_the_tx_queue_is_answered_in_an_rx_buffer_with_an_interrupt) {
  device_rig r;
  const auto listener = unwrap(sys::unix_listener::bind(r.dir.path() / "v.sock_52"));
  unwrap(r.activate(negotiated));
  r.offer_rx(4);

  r.offer_tx(guest_header(vs::op::request, guest_port, host_port));
  unwrap(r.device->process_tx());
  const auto packets = r.used_rx();

  BOOST_TEST_REQUIRE(packets.size() == 1U);
  BOOST_TEST(packets[0].h.op == vs::op::response);
  BOOST_TEST(r.drivers[vs::queue_index::tx].take_used().has_value());
  BOOST_TEST(r.interrupt->count >= 1);
  BOOST_TEST(unwrap(listener.accept()).valid());
}

BOOST_AUTO_TEST_CASE(handler_delivers_host_data_and_waits_for_rx_buffers) {
  device_rig r;
  const auto listener = unwrap(sys::unix_listener::bind(r.dir.path() / "v.sock_52"));
  unwrap(r.activate(negotiated));
  auto manager = unwrap(vmm::event_manager::event_manager<vs::vsock_handler>::create());
  static_cast<void>(unwrap(manager.add_subscriber(vs::vsock_handler{r.device})));
  r.offer_tx(guest_header(vs::op::request, guest_port, host_port));
  unwrap(r.events[vs::queue_index::tx].write());
  static_cast<void>(unwrap(manager.run_with_timeout(std::chrono::milliseconds{100})));  // no rx buffers yet
  const auto host = unwrap(listener.accept());
  vsock_test::write_all(host, "hello guest");

  r.offer_rx(4);
  unwrap(r.events[vs::queue_index::rx].write());
  std::vector<packet> packets;
  for (int i = 0; i < 20 && packets.size() < 2; ++i) {
    static_cast<void>(unwrap(manager.run_with_timeout(std::chrono::milliseconds{50})));
    for (auto& p : r.used_rx()) {
      packets.push_back(std::move(p));
    }
  }

  BOOST_TEST_REQUIRE(packets.size() == 2U);
  BOOST_TEST(packets[0].h.op == vs::op::response);
  BOOST_TEST(vsock_test::text_of(packets[1].payload) == "hello guest");
}

BOOST_AUTO_TEST_CASE(malformed_tx_chain_is_used_and_counted_and_the_next_one_works) {
  device_rig r;
  const auto listener = unwrap(sys::unix_listener::bind(r.dir.path() / "v.sock_52"));
  unwrap(r.activate(negotiated));
  r.offer_rx(4);
  auto bad = guest_header(vs::op::request, guest_port, host_port);
  bad.src_cid = 9;

  r.offer_tx(bad);
  r.offer_tx(guest_header(vs::op::request, guest_port, host_port));
  unwrap(r.device->process_tx());
  const auto packets = r.used_rx();

  BOOST_TEST(r.device->counters().dropped_bad_cid.get() == 1U);
  BOOST_TEST_REQUIRE(packets.size() == 1U);
  BOOST_TEST(packets[0].h.op == vs::op::response);
}

BOOST_AUTO_TEST_CASE(tx_head_out_of_range_is_skipped_and_the_next_chain_works) {
  device_rig r;
  const auto listener = unwrap(sys::unix_listener::bind(r.dir.path() / "v.sock_52"));
  unwrap(r.activate(negotiated));
  r.offer_rx(2);
  auto& tx = r.drivers[vs::queue_index::tx];

  tx.push_head(ring_size + 3);  // names no descriptor
  r.offer_tx(guest_header(vs::op::request, guest_port, host_port));
  unwrap(r.device->process_tx());
  const auto packets = r.used_rx();

  BOOST_TEST_REQUIRE(packets.size() == 1U);
  BOOST_TEST(packets[0].h.op == vs::op::response);
}

BOOST_AUTO_TEST_CASE(tx_available_index_far_ahead_breaks_the_queue_and_is_reported) {
  device_rig r;
  unwrap(r.activate(negotiated));
  auto& tx = r.drivers[vs::queue_index::tx];

  tx.set_avail_idx(ring_size + 5);  // more entries than the ring holds
  tx.publish();
  const auto result = r.device->process_tx();

  BOOST_TEST(vmm::testing::error_of(result) == make_error_code(q::errc::queue_broken));
}

BOOST_AUTO_TEST_CASE(reset_closes_connections_and_deactivates) {
  device_rig r;
  const auto listener = unwrap(sys::unix_listener::bind(r.dir.path() / "v.sock_52"));
  unwrap(r.activate(negotiated));
  r.offer_rx(2);
  r.offer_tx(guest_header(vs::op::request, guest_port, host_port));
  unwrap(r.device->process_tx());
  const auto host = unwrap(listener.accept());

  r.device->reset();

  BOOST_TEST(!r.device->active());
  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(!r.device->queue_event(vs::queue_index::tx).valid());
  BOOST_TEST(r.device->process_tx().has_value());  // inactive: nothing to do
}

BOOST_AUTO_TEST_CASE(transport_reset_writes_event_zero_closes_connections_and_new_ones_work) {
  device_rig r;
  const auto listener = unwrap(sys::unix_listener::bind(r.dir.path() / "v.sock_52"));
  unwrap(r.activate(negotiated));
  r.offer_rx(4);
  r.offer_tx(guest_header(vs::op::request, guest_port, host_port));
  unwrap(r.device->process_tx());
  static_cast<void>(r.used_rx());
  const auto host = unwrap(listener.accept());
  r.offer_event(event_buffer_at);
  const int interrupts = r.interrupt->count;

  unwrap(r.device->transport_reset());
  const auto event = r.drivers[vs::queue_index::event].take_used();
  r.offer_tx(guest_header(vs::op::request, guest_port, host_port));
  unwrap(r.device->process_tx());
  const auto packets = r.used_rx();

  BOOST_TEST_REQUIRE(event.has_value());
  BOOST_TEST(event->length == vs::event_size);
  BOOST_TEST(r.le32_at(event_buffer_at) == vs::event_id::transport_reset);
  BOOST_TEST(r.interrupt->count > interrupts);
  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(r.device->counters().transport_resets.get() == 1U);
  BOOST_TEST(!r.device->transport_reset_pending());
  BOOST_TEST_REQUIRE(packets.size() == 1U);  // the same port pair connects afresh: no reset, no stale state
  BOOST_TEST(packets[0].h.op == vs::op::response);
  BOOST_TEST(unwrap(listener.accept()).valid());
}

BOOST_AUTO_TEST_CASE(transport_reset_without_an_event_buffer_waits_for_one_from_the_handler) {
  device_rig r;
  unwrap(r.activate(negotiated));
  auto manager = unwrap(vmm::event_manager::event_manager<vs::vsock_handler>::create());
  static_cast<void>(unwrap(manager.add_subscriber(vs::vsock_handler{r.device})));
  auto pending_host = unwrap(sys::unix_connect(r.dir.path() / "v.sock"));
  static_cast<void>(unwrap(manager.run_with_timeout(std::chrono::milliseconds{50})));  // accepts the handshake

  unwrap(r.device->transport_reset());
  unwrap(r.device->transport_reset());  // still one event
  const bool pending = r.device->transport_reset_pending();
  r.offer_event(event_buffer_at);
  r.offer_event(event_buffer_at + 0x100);
  unwrap(r.events[vs::queue_index::event].write());
  std::optional<vmm::testing::used_buffer> event;
  for (int i = 0; i < 20 && !event; ++i) {
    static_cast<void>(unwrap(manager.run_with_timeout(std::chrono::milliseconds{50})));
    event = r.drivers[vs::queue_index::event].take_used();
  }

  BOOST_TEST(pending);
  BOOST_TEST(vsock_test::peer_closed(pending_host));
  BOOST_TEST_REQUIRE(event.has_value());
  BOOST_TEST(r.le32_at(event_buffer_at) == vs::event_id::transport_reset);
  BOOST_TEST(!r.drivers[vs::queue_index::event].take_used().has_value());  // the second buffer is kept
  BOOST_TEST(r.device->counters().transport_resets.get() == 1U);
  BOOST_TEST(!r.device->transport_reset_pending());
}

BOOST_AUTO_TEST_CASE(event_buffers_too_small_or_read_only_are_returned_unused_and_the_next_gets_the_event) {
  device_rig r;
  unwrap(r.activate(negotiated));
  r.offer_event(event_buffer_at, 2);
  r.offer_event(event_buffer_at + 0x100, vs::event_size, false);
  r.offer_event(event_buffer_at + 0x200);

  unwrap(r.device->transport_reset());
  std::vector<vmm::testing::used_buffer> used;
  while (const auto u = r.drivers[vs::queue_index::event].take_used()) {
    used.push_back(*u);
  }

  BOOST_TEST_REQUIRE(used.size() == 3U);
  BOOST_TEST(used[0].length == 0U);
  BOOST_TEST(used[1].length == 0U);
  BOOST_TEST(used[2].length == vs::event_size);
  BOOST_TEST(r.le32_at(event_buffer_at) == 0xffffffffU);  // not written into
  BOOST_TEST(r.le32_at(event_buffer_at + 0x100) == 0xffffffffU);
  BOOST_TEST(r.le32_at(event_buffer_at + 0x200) == vs::event_id::transport_reset);
  BOOST_TEST(r.device->counters().event_buffer_errors.get() == 2U);
  BOOST_TEST(r.device->counters().transport_resets.get() == 1U);
}

BOOST_AUTO_TEST_CASE(event_buffer_outside_guest_memory_is_dropped_and_the_event_stays_pending) {
  device_rig r;
  unwrap(r.activate(negotiated));
  const std::array outside{vmm::testing::driver_buffer{.address = at(0x200000), .length = 4, .writable = true}};
  offer_to(r.drivers[vs::queue_index::event], outside);

  unwrap(r.device->transport_reset());
  const auto used = r.drivers[vs::queue_index::event].take_used();

  BOOST_TEST(r.device->transport_reset_pending());
  BOOST_TEST(r.device->counters().transport_resets.get() == 0U);
  BOOST_TEST_REQUIRE(used.has_value());  // consumed either by the queue's checks or as an unwritable buffer
  BOOST_TEST(used->length == 0U);
}

BOOST_AUTO_TEST_CASE(transport_reset_on_an_inactive_device_only_closes_connections) {
  device_rig r;
  auto pending_host = unwrap(sys::unix_connect(r.dir.path() / "v.sock"));

  unwrap(r.device->transport_reset());

  BOOST_TEST(!r.device->transport_reset_pending());
  BOOST_TEST(r.device->process_event().has_value());
  BOOST_TEST(r.device->counters().transport_resets.get() == 0U);
}

BOOST_AUTO_TEST_CASE(host_connect_the_guest_never_answers_is_reset_by_the_device_timer) {
  sys::temp_dir dir = unwrap(sys::temp_dir::create("vsock-device-"));
  device_rig r;
  r.device = unwrap(vs::vsock_device::create({.guest_cid = vsock_test::guest_cid,
                                              .uds_path = dir.path() / "v.sock",
                                              .connect_timeout = vsock_test::short_timeout}));
  unwrap(r.activate(negotiated));
  r.offer_rx(4);
  auto host = unwrap(sys::unix_connect(dir.path() / "v.sock"));
  vsock_test::write_all(host, "CONNECT 52\n");
  std::vector<packet> packets;

  r.drive_backend([&] {
    for (auto& p : r.used_rx()) {
      packets.push_back(std::move(p));
    }
    return packets.size() >= 2;
  });

  BOOST_TEST_REQUIRE(packets.size() == 2U);
  BOOST_TEST(packets[0].h.op == vs::op::request);
  BOOST_TEST(packets[1].h.op == vs::op::rst);
  BOOST_TEST(packets[1].h.src_port == packets[0].h.src_port);
  BOOST_TEST(vsock_test::peer_closed(host));
  BOOST_TEST(r.device->counters().connect_timeouts.get() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()

// The same device over packed virtqueues (VIRTIO_F_RING_PACKED): a guest connect with data each way.
BOOST_AUTO_TEST_SUITE(packed_device)

BOOST_AUTO_TEST_CASE(packed_rings_carry_a_guest_connect_and_data_both_ways) {
  packed_rig r;
  const auto listener = unwrap(sys::unix_listener::bind(r.dir.path() / "v.sock_52"));
  unwrap(r.activate(negotiated_packed));
  r.offer_rx(4);

  r.offer_tx(guest_header(vs::op::request, guest_port, host_port));
  unwrap(r.device->process_tx());
  const auto replies = r.used_rx();
  const auto host = unwrap(listener.accept());
  r.offer_tx(guest_header(vs::op::rw, guest_port, host_port), vsock_test::bytes_of("to host"));
  unwrap(r.device->process_tx());
  const std::string received = vsock_test::read_now(host);
  vsock_test::write_all(host, "to guest");
  std::vector<packet> packets;
  r.drive_backend([&] {
    for (auto& p : r.used_rx()) {
      packets.push_back(std::move(p));
    }
    return !packets.empty();
  });
  std::vector<vmm::testing::used_buffer> tx_used;
  while (const auto u = r.drivers[vs::queue_index::tx].take_used()) {
    tx_used.push_back(*u);
  }

  BOOST_TEST_REQUIRE(replies.size() == 1U);
  BOOST_TEST(replies[0].h.op == vs::op::response);
  BOOST_TEST(replies[0].h.dst_port == guest_port);
  BOOST_TEST(received == "to host");
  BOOST_TEST_REQUIRE(packets.size() == 1U);
  BOOST_TEST(packets[0].h.op == vs::op::rw);
  BOOST_TEST(vsock_test::text_of(packets[0].payload) == "to guest");
  BOOST_TEST(packets[0].h.fwd_cnt == 7U);  // the device forwarded "to host"
  BOOST_TEST(tx_used.size() == 2U);
  BOOST_TEST(r.interrupt->count >= 2);
  BOOST_TEST(r.device->counters().guest_connects.get() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
