// The muxer and its connections with real unix sockets in a temporary directory: guest → host connections to
// "<uds>_<port>", host → guest connections through the CONNECT handshake, data both ways, shutdown and reset,
// credit flow control, and seqpacket message boundaries.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
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
