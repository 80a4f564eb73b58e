// The vsock header: its layout, and read_tx_packet / check_type_and_op / write_rx_packet on chains built in guest
// memory, one case per check.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.vsock;
import vmm.testing;
import vsock_fakes;

namespace vs = vmm::virtio::vsock;
using vmm::testing::error_of;
using vsock_test::guest;
using vsock_test::guest_header;

namespace {

auto code(vs::errc e) -> std::error_code {
  return make_error_code(e);
}

const vs::header every_field{.src_cid = 0x0102030405060708,
                             .dst_cid = 0x1112131415161718,
                             .src_port = 0x21222324,
                             .dst_port = 0x31323334,
                             .len = 0x41424344,
                             .type = 0x5152,
                             .op = 0x6162,
                             .flags = 0x71727374,
                             .buf_alloc = 0x81828384,
                             .fwd_cnt = 0x91929394};

}  // namespace

BOOST_AUTO_TEST_SUITE(header_layout)

BOOST_AUTO_TEST_CASE(encode_then_decode_keeps_every_field) {
  const auto bytes = vs::encode(every_field);

  BOOST_TEST((vs::decode(bytes) == every_field));
}

BOOST_AUTO_TEST_CASE(fields_sit_at_virtio_vsock_hdr_offsets_little_endian) {
  const auto bytes = vs::encode(every_field);

  // src_cid's low byte first, then dst_cid at 8, ports at 16/20, len 24, type 28, op 30, flags 32, buf_alloc 36,
  // fwd_cnt 40.
  BOOST_TEST(std::to_integer<int>(bytes[0]) == 0x08);
  BOOST_TEST(std::to_integer<int>(bytes[8]) == 0x18);
  BOOST_TEST(std::to_integer<int>(bytes[16]) == 0x24);
  BOOST_TEST(std::to_integer<int>(bytes[20]) == 0x34);
  BOOST_TEST(std::to_integer<int>(bytes[24]) == 0x44);
  BOOST_TEST(std::to_integer<int>(bytes[28]) == 0x52);
  BOOST_TEST(std::to_integer<int>(bytes[30]) == 0x62);
  BOOST_TEST(std::to_integer<int>(bytes[32]) == 0x74);
  BOOST_TEST(std::to_integer<int>(bytes[36]) == 0x84);
  BOOST_TEST(std::to_integer<int>(bytes[43]) == 0x91);
}

BOOST_AUTO_TEST_CASE(error_messages_name_the_module_and_the_problem) {
  BOOST_TEST(vs::vsock_category().name() == std::string{"vmm.virtio.vsock"});
  for (int e = 1; e <= static_cast<int>(vs::errc::event_buffer_too_small); ++e) {
    BOOST_TEST(code(static_cast<vs::errc>(e)).message().starts_with("Vsock"));
  }
  BOOST_TEST(code(static_cast<vs::errc>(200)).message().starts_with("Unknown"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(read_tx_packet)

BOOST_AUTO_TEST_CASE(valid_packet_returns_header_and_payload) {
  guest g;
  const auto payload = vsock_test::bytes_of("hello");
  auto h = guest_header(vs::op::rw, 1000, 52);
  h.len = 5;
  std::vector<std::byte> out;

  const auto got = vs::read_tx_packet(g.memory(), g.tx_chain(h, payload), vsock_test::guest_cid, out);

  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST((*got == h));
  BOOST_TEST(vsock_test::text_of(out) == "hello");
}

BOOST_AUTO_TEST_CASE(header_split_across_descriptors_is_read_whole) {
  guest g;
  auto h = guest_header(vs::op::request, 1000, 52);
  const auto encoded = vs::encode(h);
  // The header's first 20 bytes in one descriptor, the other 24 as the "payload" descriptor.
  const auto& chain = g.tx_chain(h, std::span{encoded}.subspan(20), 20);
  std::vector<std::byte> out;

  const auto got = vs::read_tx_packet(g.memory(), chain, vsock_test::guest_cid, out);

  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST((*got == h));
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(header_of_43_bytes_returns_header_too_short) {
  guest g;
  std::vector<std::byte> out;

  const auto got = vs::read_tx_packet(g.memory(), g.tx_chain(guest_header(vs::op::request, 1, 2), {}, 43),
                                      vsock_test::guest_cid, out);

  BOOST_TEST(error_of(got) == code(vs::errc::header_too_short));
}

BOOST_AUTO_TEST_CASE(source_cid_of_another_guest_returns_wrong_source_cid) {
  guest g;
  auto h = guest_header(vs::op::request, 1, 2);
  h.src_cid = 4;
  std::vector<std::byte> out;

  const auto got = vs::read_tx_packet(g.memory(), g.tx_chain(h, {}), vsock_test::guest_cid, out);

  BOOST_TEST(error_of(got) == code(vs::errc::wrong_source_cid));
}

BOOST_AUTO_TEST_CASE(destination_other_than_host_returns_wrong_destination_cid) {
  guest g;
  auto h = guest_header(vs::op::request, 1, 2);
  h.dst_cid = vsock_test::guest_cid;  // guest to itself
  std::vector<std::byte> out;

  const auto got = vs::read_tx_packet(g.memory(), g.tx_chain(h, {}), vsock_test::guest_cid, out);

  BOOST_TEST(error_of(got) == code(vs::errc::wrong_destination_cid));
}

BOOST_AUTO_TEST_CASE(len_above_64_kib_returns_payload_too_long_even_with_room) {
  guest g;
  auto h = guest_header(vs::op::rw, 1, 2);
  h.len = vs::max_packet_payload + 1;
  std::vector<std::byte> out;

  const auto got = vs::read_tx_packet(g.memory(), g.tx_chain(h, {}, vs::header_size, vs::max_packet_payload + 1),
                                      vsock_test::guest_cid, out);

  BOOST_TEST(error_of(got) == code(vs::errc::payload_too_long));
}

BOOST_AUTO_TEST_CASE(len_beyond_readable_payload_returns_payload_truncated) {
  guest g;
  auto h = guest_header(vs::op::rw, 1, 2);
  h.len = 11;
  const auto payload = vsock_test::bytes_of("ten bytes!");
  std::vector<std::byte> out;

  const auto got = vs::read_tx_packet(g.memory(), g.tx_chain(h, payload), vsock_test::guest_cid, out);

  BOOST_TEST(error_of(got) == code(vs::errc::payload_truncated));
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(len_max_u32_returns_payload_too_long_without_overflow) {
  guest g;
  auto h = guest_header(vs::op::rw, 1, 2);
  h.len = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::byte> out;

  const auto got = vs::read_tx_packet(g.memory(), g.tx_chain(h, {}), vsock_test::guest_cid, out);

  BOOST_TEST(error_of(got) == code(vs::errc::payload_too_long));
}

BOOST_AUTO_TEST_CASE(descriptor_outside_memory_returns_memory_error) {
  guest g;
  vmm::virtio::queue::descriptor_chain chain;
  chain.reset({});
  chain.append({.address = vmm::memory::guest_address{vsock_test::memory_size}, .length = 64, .writable = false});
  std::vector<std::byte> out;

  const auto got = vs::read_tx_packet(g.memory(), chain, vsock_test::guest_cid, out);

  BOOST_TEST_REQUIRE(!got.has_value());
  BOOST_TEST(got.error().category().name() == std::string{"vmm.memory"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(check_type_and_op)

BOOST_AUTO_TEST_CASE(stream_with_every_known_op_is_accepted) {
  for (std::uint16_t o = vs::op::request; o <= vs::op::credit_request; ++o) {
    BOOST_TEST(vs::check_type_and_op(guest_header(o, 1, 2), false).has_value());
  }
}

BOOST_AUTO_TEST_CASE(seqpacket_without_the_feature_returns_unknown_type) {
  const auto h = guest_header(vs::op::request, 1, 2, vs::socket_type::seqpacket);

  BOOST_TEST(error_of(vs::check_type_and_op(h, false)) == code(vs::errc::unknown_type));
  BOOST_TEST(vs::check_type_and_op(h, true).has_value());
}

BOOST_AUTO_TEST_CASE(type_3_returns_unknown_type) {
  BOOST_TEST(error_of(vs::check_type_and_op(guest_header(vs::op::request, 1, 2, 3), true)) ==
             code(vs::errc::unknown_type));
}

BOOST_AUTO_TEST_CASE(op_0_and_op_8_return_unknown_op) {
  BOOST_TEST(error_of(vs::check_type_and_op(guest_header(vs::op::invalid, 1, 2), true)) == code(vs::errc::unknown_op));
  BOOST_TEST(error_of(vs::check_type_and_op(guest_header(8, 1, 2), true)) == code(vs::errc::unknown_op));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(write_rx_packet)

BOOST_AUTO_TEST_CASE(packet_lands_in_the_writable_buffer_with_len_set) {
  guest g;
  const auto payload = vsock_test::bytes_of("data");
  const auto h = guest_header(vs::op::rw, 1, 2);

  const auto used = vs::write_rx_packet(g.memory(), g.rx_chain(), h, payload);

  BOOST_TEST_REQUIRE(used.has_value());
  BOOST_TEST(*used == vs::header_size + 4);
  const auto p = g.rx_packet(*used);
  BOOST_TEST(p.h.len == 4U);
  BOOST_TEST(vsock_test::text_of(p.payload) == "data");
}

BOOST_AUTO_TEST_CASE(buffer_smaller_than_header_and_payload_returns_rx_buffer_too_small) {
  guest g;
  const auto payload = vsock_test::bytes_of("data");

  const auto used =
      vs::write_rx_packet(g.memory(), g.rx_chain(vs::header_size + 3), guest_header(vs::op::rw, 1, 2), payload);

  BOOST_TEST(error_of(used) == code(vs::errc::rx_buffer_too_small));
}

BOOST_AUTO_TEST_SUITE_END()
