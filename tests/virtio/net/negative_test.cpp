// What the network device refuses, one case per rule: transmit headers (flags, GSO types, checksum offsets, header
// length, num_buffers, frame sizes), malformed tx chains (short, oversize, outside memory, too many buffers), rx
// writes that do not fit, and feature sets that break virtio-net's dependencies. Also what it accepts at each
// boundary, the configuration space layout, and regression cases at the end.
#include <boost/test/unit_test.hpp>

#include <cerrno>

import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.net;
import vmm.testing;

namespace mem = vmm::memory;
namespace q = vmm::virtio::queue;
namespace net = vmm::virtio::net;
using mem::guest_address;
using vmm::testing::error_of;

namespace {

constexpr std::uint64_t version_1 = std::uint64_t{1} << q::feature::version_1;
constexpr std::uint64_t csum = std::uint64_t{1} << net::feature::csum;
constexpr std::uint64_t host_tso4 = std::uint64_t{1} << net::feature::host_tso4;
constexpr std::uint64_t host_tso6 = std::uint64_t{1} << net::feature::host_tso6;
constexpr std::uint64_t host_ecn = std::uint64_t{1} << net::feature::host_ecn;
constexpr std::uint64_t all_tx_offloads = version_1 | csum | host_tso4 | host_tso6;
// A minimum-size Ethernet frame (without FCS): what most cases transmit.
constexpr std::uint64_t frame = 60;

auto refusal(const net::net_header& h, std::uint64_t length = frame, std::uint64_t features = all_tx_offloads)
    -> std::error_code {
  return error_of(net::validate_tx_header(h, length, features));
}

auto code(net::errc e) -> std::error_code {
  return make_error_code(e);
}

// A TCPv4 GSO header that every rule accepts: checksum offload at the TCP checksum, 1448-byte segments.
constexpr net::net_header tso4{.flags = net::header_flag::needs_csum,
                               .gso_type = net::gso::tcpv4,
                               .hdr_len = 54,
                               .gso_size = 1448,
                               .csum_start = 34,
                               .csum_offset = 16,
                               .num_buffers = 0};

// 64 KiB of guest memory at 0.
auto make_memory() -> mem::guest_memory {
  const std::array layout{mem::guest_range{.start = guest_address{0}, .size = 0x20000}};
  return mem::guest_memory::anonymous(layout).value();
}

auto in(std::uint64_t address, std::uint32_t length) -> q::descriptor {
  return {.address = guest_address{address}, .length = length, .writable = false};
}
auto out(std::uint64_t address, std::uint32_t length) -> q::descriptor {
  return {.address = guest_address{address}, .length = length, .writable = true};
}

auto chain_of(std::initializer_list<q::descriptor> descriptors) -> q::descriptor_chain {
  q::descriptor_chain chain;
  chain.reset({.id = 7});
  for (const auto& d : descriptors) {
    chain.append(d);
  }
  return chain;
}

void put_header(const mem::guest_memory& memory, std::uint64_t address, const net::net_header& h) {
  BOOST_TEST_REQUIRE(memory.write_all(guest_address{address}, net::encode_header(h)).has_value());
}

auto total(const std::vector<vmm::sys::io_buffer>& buffers) -> std::size_t {
  std::size_t sum = 0;
  for (const auto& b : buffers) {
    sum += b.length;
  }
  return sum;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(net_tx_header)

BOOST_AUTO_TEST_CASE(a_plain_header_and_a_checksum_at_the_frame_end_and_tso_are_accepted) {
  const net::net_header at_end{.flags = net::header_flag::needs_csum, .csum_start = frame - 4, .csum_offset = 2};

  BOOST_TEST(refusal({}) == std::error_code{});
  BOOST_TEST(refusal(at_end) == std::error_code{});
  BOOST_TEST(refusal(tso4) == std::error_code{});
  BOOST_TEST(refusal({}, net::min_frame_bytes) == std::error_code{});
  BOOST_TEST(refusal({}, net::max_frame_bytes) == std::error_code{});
}

BOOST_AUTO_TEST_CASE(frames_outside_14_bytes_to_64_kib_are_refused) {
  BOOST_TEST(refusal({}, net::min_frame_bytes - 1) == code(net::errc::frame_too_short));
  BOOST_TEST(refusal({}, 0) == code(net::errc::frame_too_short));
  BOOST_TEST(refusal({}, net::max_frame_bytes + 1) == code(net::errc::frame_too_large));
}

BOOST_AUTO_TEST_CASE(device_only_and_unknown_flags_are_refused) {
  BOOST_TEST(refusal({.flags = net::header_flag::data_valid}) == code(net::errc::unknown_header_flags));
  BOOST_TEST(refusal({.flags = net::header_flag::rsc_info}) == code(net::errc::unknown_header_flags));
  BOOST_TEST(refusal({.flags = 0x80}) == code(net::errc::unknown_header_flags));
}

BOOST_AUTO_TEST_CASE(checksum_offload_without_the_csum_feature_is_refused) {
  const net::net_header h{.flags = net::header_flag::needs_csum, .csum_start = 34, .csum_offset = 16};

  BOOST_TEST(refusal(h, frame, version_1) == code(net::errc::checksum_not_negotiated));
}

BOOST_AUTO_TEST_CASE(a_checksum_one_byte_past_the_frame_is_refused) {
  const net::net_header h{.flags = net::header_flag::needs_csum, .csum_start = frame - 4, .csum_offset = 3};

  BOOST_TEST(refusal(h) == code(net::errc::checksum_out_of_frame));
}

BOOST_AUTO_TEST_CASE(maximal_checksum_fields_do_not_wrap_into_the_frame) {
  const net::net_header h{.flags = net::header_flag::needs_csum, .csum_start = 0xffff, .csum_offset = 0xffff};

  BOOST_TEST(refusal(h, net::max_frame_bytes) == code(net::errc::checksum_out_of_frame));
}

BOOST_AUTO_TEST_CASE(unknown_gso_types_are_refused) {
  for (const std::uint8_t type : {std::uint8_t{2}, std::uint8_t{5}, std::uint8_t{0x7f}}) {
    auto h = tso4;
    h.gso_type = type;
    BOOST_TEST(refusal(h) == code(net::errc::unknown_gso_type), "gso_type " << int{type});
  }
  BOOST_TEST(refusal({.gso_type = net::gso::ecn}) == code(net::errc::unknown_gso_type));
}

BOOST_AUTO_TEST_CASE(gso_types_without_their_host_feature_are_refused) {
  auto v6 = tso4;
  v6.gso_type = net::gso::tcpv6;
  auto udp = tso4;
  udp.gso_type = net::gso::udp;
  auto ecn = tso4;
  ecn.gso_type = net::gso::tcpv4 | net::gso::ecn;

  BOOST_TEST(refusal(tso4, frame, version_1 | csum) == code(net::errc::gso_not_negotiated));
  BOOST_TEST(refusal(v6, frame, version_1 | csum | host_tso4) == code(net::errc::gso_not_negotiated));
  BOOST_TEST(refusal(udp) == code(net::errc::gso_not_negotiated));
  BOOST_TEST(refusal(ecn) == code(net::errc::gso_not_negotiated));
  BOOST_TEST(refusal(ecn, frame, all_tx_offloads | host_ecn) == std::error_code{});
}

BOOST_AUTO_TEST_CASE(gso_without_checksum_offload_or_with_a_zero_segment_size_is_refused) {
  auto no_csum = tso4;
  no_csum.flags = 0;
  auto zero_size = tso4;
  zero_size.gso_size = 0;

  BOOST_TEST(refusal(no_csum) == code(net::errc::gso_without_checksum));
  BOOST_TEST(refusal(zero_size) == code(net::errc::bad_gso_size));
}

BOOST_AUTO_TEST_CASE(a_header_length_beyond_the_frame_is_refused) {
  BOOST_TEST(refusal({.hdr_len = frame + 1}) == code(net::errc::header_length_out_of_frame));
  BOOST_TEST(refusal({.hdr_len = frame}) == std::error_code{});
}

BOOST_AUTO_TEST_CASE(a_transmit_header_with_num_buffers_set_is_refused) {
  BOOST_TEST(refusal({.num_buffers = 1}) == code(net::errc::nonzero_num_buffers));
}

BOOST_AUTO_TEST_CASE(headers_encode_little_endian_and_decode_back) {
  const auto bytes = net::encode_header(tso4);

  BOOST_TEST(std::to_integer<int>(bytes[2]) == 54);  // hdr_len, low byte first
  BOOST_TEST(std::to_integer<int>(bytes[4]) == (1448 & 0xff));
  BOOST_TEST(std::to_integer<int>(bytes[5]) == (1448 >> 8));
  BOOST_TEST((net::decode_header(bytes) == tso4));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(net_tx_gather)

BOOST_AUTO_TEST_CASE(a_header_split_over_three_buffers_is_read_and_the_frame_follows_it) {
  const auto memory = make_memory();
  const auto h = net::encode_header(tso4);
  BOOST_TEST_REQUIRE(memory.write_all(guest_address{0x1000}, std::span{h}.first(5)).has_value());
  BOOST_TEST_REQUIRE(memory.write_all(guest_address{0x2000}, std::span{h}.subspan(5, 4)).has_value());
  BOOST_TEST_REQUIRE(memory.write_all(guest_address{0x3000}, std::span{h}.subspan(9)).has_value());
  const auto chain = chain_of({in(0x1000, 5), in(0x2000, 4), in(0x3000, 3 + 20), in(0x4000, 40)});
  std::vector<vmm::sys::io_buffer> buffers;

  const auto gathered = net::gather_tx_frame(memory, chain, all_tx_offloads, buffers);

  BOOST_TEST_REQUIRE(gathered.has_value(), vmm::testing::describe(gathered));
  BOOST_TEST((gathered->header == tso4));
  BOOST_TEST(gathered->frame_length == frame);
  BOOST_TEST(buffers.size() == 2U);
  BOOST_TEST(total(buffers) == frame);
}

BOOST_AUTO_TEST_CASE(a_header_and_frame_in_one_buffer_give_one_frame_buffer_after_the_header) {
  const auto memory = make_memory();
  put_header(memory, 0x1000, {});
  std::vector<vmm::sys::io_buffer> buffers;

  const auto gathered = net::gather_tx_frame(memory, chain_of({in(0x1000, 12 + frame)}), version_1, buffers);

  BOOST_TEST_REQUIRE(gathered.has_value());
  BOOST_TEST_REQUIRE(buffers.size() == 1U);
  BOOST_TEST(buffers[0].length == frame);
}

BOOST_AUTO_TEST_CASE(zero_length_buffers_around_the_header_are_skipped) {
  const auto memory = make_memory();
  put_header(memory, 0x1000, {});
  const auto chain = chain_of({in(0x5000, 0), in(0x1000, 12), in(0x6000, 0), in(0x2000, frame)});
  std::vector<vmm::sys::io_buffer> buffers;

  const auto gathered = net::gather_tx_frame(memory, chain, version_1, buffers);

  BOOST_TEST_REQUIRE(gathered.has_value(), vmm::testing::describe(gathered));
  BOOST_TEST(buffers.size() == 1U);
  BOOST_TEST(total(buffers) == frame);
}

BOOST_AUTO_TEST_CASE(fewer_than_twelve_readable_bytes_are_a_short_header) {
  const auto memory = make_memory();
  std::vector<vmm::sys::io_buffer> buffers;

  BOOST_TEST(error_of(net::gather_tx_frame(memory, chain_of({in(0x1000, 11)}), version_1, buffers)) ==
             code(net::errc::short_header));
  BOOST_TEST(error_of(net::gather_tx_frame(memory, chain_of({out(0x1000, 64)}), version_1, buffers)) ==
             code(net::errc::short_header));
}

BOOST_AUTO_TEST_CASE(an_oversize_frame_is_refused_before_any_byte_is_read) {
  const auto memory = make_memory();
  std::vector<vmm::sys::io_buffer> buffers;
  // The buffer lies outside guest memory: had it been read, the error would be vmm.memory's.
  const auto chain = chain_of({in(0x1000'0000, 12 + net::max_frame_bytes + 1)});

  BOOST_TEST(error_of(net::gather_tx_frame(memory, chain, version_1, buffers)) == code(net::errc::frame_too_large));
}

BOOST_AUTO_TEST_CASE(a_header_outside_guest_memory_is_a_memory_error) {
  const auto memory = make_memory();
  std::vector<vmm::sys::io_buffer> buffers;

  const auto gathered = net::gather_tx_frame(memory, chain_of({in(0x1000'0000, 12 + frame)}), version_1, buffers);

  BOOST_TEST(error_of(gathered) == make_error_code(mem::errc::out_of_range));
}

BOOST_AUTO_TEST_CASE(a_frame_buffer_outside_guest_memory_is_a_memory_error_and_leaves_no_buffers) {
  const auto memory = make_memory();
  put_header(memory, 0x1000, {});
  std::vector<vmm::sys::io_buffer> buffers;
  const auto chain = chain_of({in(0x1000, 12 + 20), in(0x1000'0000, 40)});

  const auto gathered = net::gather_tx_frame(memory, chain, version_1, buffers);

  BOOST_TEST(error_of(gathered) == make_error_code(mem::errc::out_of_range));
  BOOST_TEST(buffers.empty());
}

BOOST_AUTO_TEST_CASE(a_frame_in_more_buffers_than_one_writev_takes_is_refused) {
  const auto memory = make_memory();
  put_header(memory, 0x1000, {});
  q::descriptor_chain chain;
  chain.reset({.id = 0});
  chain.append(in(0x1000, 12));
  for (std::uint64_t i = 0; i < vmm::sys::max_io_buffers; ++i) {  // 1024 frame buffers + the header copy > 1024
    chain.append(in(0x2000 + i, 1));
  }
  std::vector<vmm::sys::io_buffer> buffers;

  BOOST_TEST(error_of(net::gather_tx_frame(memory, chain, version_1, buffers)) == code(net::errc::too_many_buffers));
  BOOST_TEST(buffers.empty());
}

BOOST_AUTO_TEST_CASE(a_header_the_rules_refuse_leaves_no_buffers) {
  const auto memory = make_memory();
  put_header(memory, 0x1000, {.gso_type = 9});
  std::vector<vmm::sys::io_buffer> buffers;

  const auto gathered = net::gather_tx_frame(memory, chain_of({in(0x1000, 12 + frame)}), version_1, buffers);

  BOOST_TEST(error_of(gathered) == code(net::errc::unknown_gso_type));
  BOOST_TEST(buffers.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(net_rx_write)

BOOST_AUTO_TEST_CASE(bytes_go_across_writable_buffers_from_the_offset_and_stop_when_full) {
  const auto memory = make_memory();
  const auto chain = chain_of({in(0x100, 8), out(0x1000, 4), out(0x2000, 4)});
  const std::array<std::byte, 10> bytes{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5},
                                        std::byte{6}, std::byte{7}, std::byte{8}, std::byte{9}, std::byte{10}};

  const auto written = net::write_to_chain(memory, chain, 2, bytes);

  BOOST_TEST(written.value_or(0) == 6U);
  BOOST_TEST(memory.read_obj<std::uint8_t>(guest_address{0x1002}).value_or(0) == 1U);
  BOOST_TEST(memory.read_obj<std::uint8_t>(guest_address{0x2000}).value_or(0) == 3U);
  BOOST_TEST(memory.read_obj<std::uint8_t>(guest_address{0x2003}).value_or(0) == 6U);
}

BOOST_AUTO_TEST_CASE(an_offset_past_the_writable_part_writes_nothing) {
  const auto memory = make_memory();
  const std::array<std::byte, 4> bytes{};

  BOOST_TEST(net::write_to_chain(memory, chain_of({out(0x1000, 4)}), 4, bytes).value_or(1) == 0U);
}

BOOST_AUTO_TEST_CASE(a_writable_buffer_outside_guest_memory_is_a_memory_error) {
  const auto memory = make_memory();
  const std::array<std::byte, 4> bytes{};

  BOOST_TEST(error_of(net::write_to_chain(memory, chain_of({out(0x1000'0000, 4)}), 0, bytes)) ==
             make_error_code(mem::errc::out_of_range));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(net_features)

BOOST_AUTO_TEST_CASE(offloads_are_offered_only_as_far_as_the_tap_takes_them) {
  const auto none = net::features_for_offloads(0);
  const auto checksum = net::features_for_offloads(net::tun_offload::csum);
  const auto all = net::features_for_offloads(net::tun_offload::csum | net::tun_offload::tso4 | net::tun_offload::tso6);

  BOOST_TEST(q::has_feature(none, q::feature::version_1));
  BOOST_TEST(q::has_feature(none, net::feature::mrg_rxbuf));
  BOOST_TEST(q::has_feature(none, net::feature::mac));
  BOOST_TEST(!q::has_feature(none, net::feature::csum));
  BOOST_TEST(q::has_feature(checksum, net::feature::csum));
  BOOST_TEST(q::has_feature(checksum, net::feature::guest_csum));
  BOOST_TEST(!q::has_feature(checksum, net::feature::host_tso4));
  BOOST_TEST(q::has_feature(all, net::feature::host_tso4));
  BOOST_TEST(q::has_feature(all, net::feature::guest_tso6));
  BOOST_TEST(!q::has_feature(all, net::feature::host_ufo));
  BOOST_TEST(!q::has_feature(all, net::feature::host_ecn));
}

BOOST_AUTO_TEST_CASE(segmentation_without_its_checksum_feature_is_an_invalid_feature_set) {
  constexpr std::uint64_t guest_csum = std::uint64_t{1} << net::feature::guest_csum;
  constexpr std::uint64_t guest_tso4 = std::uint64_t{1} << net::feature::guest_tso4;

  BOOST_TEST(error_of(net::check_feature_dependencies(host_tso4)) == code(net::errc::invalid_features));
  BOOST_TEST(error_of(net::check_feature_dependencies(guest_tso4 | csum)) == code(net::errc::invalid_features));
  BOOST_TEST(net::check_feature_dependencies(host_tso4 | csum | guest_tso4 | guest_csum).has_value());
}

BOOST_AUTO_TEST_CASE(the_tap_gets_the_offloads_the_driver_takes) {
  constexpr std::uint64_t guest_csum = std::uint64_t{1} << net::feature::guest_csum;
  constexpr std::uint64_t guest_tso4 = std::uint64_t{1} << net::feature::guest_tso4;
  constexpr std::uint64_t guest_tso6 = std::uint64_t{1} << net::feature::guest_tso6;

  BOOST_TEST(net::offload_for_features(version_1 | guest_tso4) == 0U);
  BOOST_TEST(net::offload_for_features(guest_csum) == net::tun_offload::csum);
  BOOST_TEST(net::offload_for_features(guest_csum | guest_tso4 | guest_tso6) ==
             (net::tun_offload::csum | net::tun_offload::tso4 | net::tun_offload::tso6));
}

BOOST_AUTO_TEST_CASE(the_config_space_is_mac_status_pairs_and_mtu_little_endian) {
  const net::net_config config{.mac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55},
                               .status = net::status_link_up,
                               .max_virtqueue_pairs = 1,
                               .mtu = 9000};

  const auto bytes = config.bytes();

  BOOST_TEST(std::to_integer<int>(bytes[0]) == 0x02);
  BOOST_TEST(std::to_integer<int>(bytes[5]) == 0x55);
  BOOST_TEST(std::to_integer<int>(bytes[6]) == 1);
  BOOST_TEST(std::to_integer<int>(bytes[8]) == 1);
  BOOST_TEST(std::to_integer<int>(bytes[10]) == (9000 & 0xff));
  BOOST_TEST(std::to_integer<int>(bytes[11]) == (9000 >> 8));
}

BOOST_AUTO_TEST_CASE(every_error_has_a_message_in_the_net_category) {
  for (int value = 1; value <= static_cast<int>(net::errc::bad_rx_buffer); ++value) {
    const std::error_code e = static_cast<net::errc>(value);
    BOOST_TEST(!e.message().starts_with("Unknown"), value);
  }
  for (int value = static_cast<int>(net::errc::wrong_queue_count);
       value <= static_cast<int>(net::errc::interface_name_too_long); ++value) {
    const std::error_code e = static_cast<net::errc>(value);
    BOOST_TEST(e.category().name() == std::string_view{"vmm.virtio.net"});
    BOOST_TEST(!e.message().starts_with("Unknown"), value);
  }
  BOOST_TEST(std::error_code(static_cast<net::errc>(0)).message().starts_with("Unknown"));
}

BOOST_AUTO_TEST_CASE(a_tap_name_longer_than_15_bytes_is_refused_before_anything_is_opened) {
  BOOST_TEST(error_of(net::tap::open("a-name-of-16-byte")) == code(net::errc::interface_name_too_long));
  BOOST_TEST(error_of(net::tap::open(std::string_view{"nul\0name", 8})) == code(net::errc::interface_name_too_long));
}

BOOST_AUTO_TEST_CASE(a_tap_on_a_missing_or_wrong_clone_device_is_refused_with_the_os_error) {
  BOOST_TEST(error_of(net::tap::open("vmm0", {.device = "/nonexistent/tun"})) == vmm::testing::os_error(ENOENT));
  BOOST_TEST(error_of(net::tap::open("vmm0", {.device = "/dev/null"})) == vmm::testing::os_error(ENOTTY));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(net_regression)

// The header a guest wrote is checked and then copied: the tap gets the checked copy, and the frame buffers begin
// after the guest's header, so rewriting the header in guest memory after the check changes nothing the tap sees.
BOOST_AUTO_TEST_CASE(tx_header_is_copied_so_a_later_guest_write_cannot_change_what_the_tap_gets) {
  const auto memory = make_memory();
  put_header(memory, 0x1000, {});
  std::vector<vmm::sys::io_buffer> buffers;
  const auto gathered = net::gather_tx_frame(memory, chain_of({in(0x1000, 12 + frame)}), version_1, buffers);
  BOOST_TEST_REQUIRE(gathered.has_value());

  put_header(memory, 0x1000, {.flags = 0xff, .gso_type = 0xff, .num_buffers = 0xffff});

  BOOST_TEST((net::decode_header(gathered->header_bytes) == net::net_header{}));
  const auto header_host = memory.get_slice(guest_address{0x1000}, 12, mem::access::read).value();
  BOOST_TEST(static_cast<std::byte*>(buffers.front().base) == header_host.data() + 12);
}

BOOST_AUTO_TEST_SUITE_END()
