// Fixed-byte-order integers (le16 .. be64): conversion, raw bits, and the bytes they put in guest memory; and the
// type requirements of typed guest access (byte_valued, atomic_value).
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.memory;
import vmm.testing;

namespace mem = vmm::memory;
using mem::guest_address;

namespace {

// A device structure as it lies in guest memory (a virtio-style descriptor with mixed byte orders).
struct wire_header {
  mem::le32 length;
  mem::be16 port;
  mem::le16 flags;
};

auto one_page_memory() -> mem::guest_memory {
  auto region = mem::guest_region::anonymous(guest_address{0}, vmm::sys::page_size());
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  auto memory = mem::guest_memory::create({std::move(*region)});
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  return std::move(*memory);
}

template <std::size_t N>
auto guest_bytes(const mem::guest_memory& memory, std::uint64_t address) -> std::array<std::uint8_t, N> {
  auto bytes = memory.read_obj<std::array<std::uint8_t, N>>(guest_address{address});
  BOOST_TEST_REQUIRE(bytes.has_value(), vmm::testing::describe(bytes));
  return *bytes;
}

}  // namespace

// The layout guarantees the types exist for: a structure of them has the guest's layout.
static_assert(sizeof(mem::le16) == 2 && alignof(mem::le16) == 2);
static_assert(sizeof(mem::le32) == 4 && alignof(mem::le32) == 4);
static_assert(sizeof(mem::le64) == 8 && alignof(mem::le64) == 8);
static_assert(sizeof(mem::be16) == 2 && alignof(mem::be16) == 2);
static_assert(sizeof(mem::be32) == 4 && alignof(mem::be32) == 4);
static_assert(sizeof(mem::be64) == 8 && alignof(mem::be64) == 8);
static_assert(sizeof(wire_header) == 8);

// What typed access accepts: trivially copyable values, never pointers; atomics only for 1/2/4/8-byte integers.
static_assert(mem::byte_valued<std::uint32_t>);
static_assert(mem::byte_valued<wire_header>);
static_assert(mem::byte_valued<std::array<std::byte, 16>>);
static_assert(!mem::byte_valued<int*>);
static_assert(!mem::byte_valued<int wire_header::*>);
static_assert(!mem::byte_valued<std::string>);
static_assert(!mem::byte_valued<bool>);
static_assert(mem::atomic_value<std::uint8_t>);
static_assert(mem::atomic_value<std::uint16_t>);
static_assert(mem::atomic_value<std::uint32_t>);
static_assert(mem::atomic_value<std::uint64_t>);
static_assert(mem::atomic_value<std::int64_t>);
static_assert(mem::atomic_value<mem::le16>);
static_assert(mem::atomic_value<mem::be64>);
static_assert(!mem::atomic_value<bool>);
static_assert(!mem::atomic_value<wire_header>);
static_assert(!mem::atomic_value<double>);
static_assert(!mem::atomic_value<std::array<std::uint8_t, 3>>);

BOOST_AUTO_TEST_SUITE(memory_endian)

BOOST_AUTO_TEST_CASE(default_value_is_zero) {
  BOOST_TEST(mem::le32{}.value() == 0U);
  BOOST_TEST(mem::be32{}.raw() == 0U);
}

BOOST_AUTO_TEST_CASE(value_returns_what_was_stored_in_either_order) {
  BOOST_TEST(mem::le16{0x1234}.value() == 0x1234U);
  BOOST_TEST(mem::le32{0x12345678}.value() == 0x12345678U);
  BOOST_TEST(mem::le64{0x0102030405060708}.value() == 0x0102030405060708U);
  BOOST_TEST(mem::be16{0x1234}.value() == 0x1234U);
  BOOST_TEST(mem::be32{0x12345678}.value() == 0x12345678U);
  BOOST_TEST(mem::be64{0x0102030405060708}.value() == 0x0102030405060708U);
}

BOOST_AUTO_TEST_CASE(raw_holds_the_bytes_in_the_stored_order) {
  // The test host is little-endian (x86-64, arm64): little-endian values are stored as they are, big-endian ones
  // byte-swapped.
  BOOST_TEST_REQUIRE((std::endian::native == std::endian::little));
  BOOST_TEST(mem::le32{0x12345678}.raw() == 0x12345678U);
  BOOST_TEST(mem::be16{0x1234}.raw() == 0x3412U);
  BOOST_TEST(mem::be32{0x12345678}.raw() == 0x78563412U);
  BOOST_TEST(mem::be64{0x0102030405060708}.raw() == 0x0807060504030201U);
}

BOOST_AUTO_TEST_CASE(from_raw_takes_the_bits_as_they_lie_in_memory) {
  BOOST_TEST(mem::be16::from_raw(0x3412).value() == 0x1234U);
  BOOST_TEST(mem::le16::from_raw(0x3412).value() == 0x3412U);
}

BOOST_AUTO_TEST_CASE(set_replaces_the_value) {
  mem::be32 field{1};
  field.set(0xdeadbeef);
  BOOST_TEST(field.value() == 0xdeadbeefU);
  BOOST_TEST(field.raw() == 0xefbeaddeU);
}

BOOST_AUTO_TEST_CASE(values_compare_by_stored_bits) {
  BOOST_TEST((mem::le32{7} == mem::le32{7}));
  BOOST_TEST(!(mem::le32{7} == mem::le32{8}));
}

BOOST_AUTO_TEST_CASE(big_endian_value_lies_in_guest_memory_most_significant_byte_first) {
  const auto memory = one_page_memory();
  BOOST_TEST_REQUIRE(memory.write_obj(guest_address{0x10}, mem::be32{0x01020304}).has_value());
  const std::array<std::uint8_t, 4> expected{1, 2, 3, 4};
  BOOST_TEST(guest_bytes<4>(memory, 0x10) == expected);
}

BOOST_AUTO_TEST_CASE(little_endian_value_lies_in_guest_memory_least_significant_byte_first) {
  const auto memory = one_page_memory();
  BOOST_TEST_REQUIRE(memory.write_obj(guest_address{0x10}, mem::le64{0x0102030405060708}).has_value());
  const std::array<std::uint8_t, 8> expected{8, 7, 6, 5, 4, 3, 2, 1};
  BOOST_TEST(guest_bytes<8>(memory, 0x10) == expected);
}

BOOST_AUTO_TEST_CASE(structure_of_endian_fields_round_trips_through_guest_memory) {
  const auto memory = one_page_memory();
  const wire_header header{.length = mem::le32{0x100}, .port = mem::be16{0x1f90}, .flags = mem::le16{3}};
  BOOST_TEST_REQUIRE(memory.write_obj(guest_address{0x40}, header).has_value());
  const auto back = memory.read_obj<wire_header>(guest_address{0x40});
  BOOST_TEST_REQUIRE(back.has_value(), vmm::testing::describe(back));
  BOOST_TEST(back->length.value() == 0x100U);
  BOOST_TEST(back->port.value() == 0x1f90U);
  BOOST_TEST(back->flags.value() == 3U);
  const std::array<std::uint8_t, 8> expected{0x00, 0x01, 0x00, 0x00, 0x1f, 0x90, 0x03, 0x00};
  BOOST_TEST(guest_bytes<8>(memory, 0x40) == expected);
}

BOOST_AUTO_TEST_CASE(atomic_store_of_a_big_endian_value_writes_wire_order) {
  const auto memory = one_page_memory();
  BOOST_TEST_REQUIRE(memory.store(guest_address{0x20}, mem::be16{0xabcd}, std::memory_order_release).has_value());
  const std::array<std::uint8_t, 2> expected{0xab, 0xcd};
  BOOST_TEST(guest_bytes<2>(memory, 0x20) == expected);
  const auto loaded = memory.load<mem::be16>(guest_address{0x20}, std::memory_order_acquire);
  BOOST_TEST_REQUIRE(loaded.has_value(), vmm::testing::describe(loaded));
  BOOST_TEST(loaded->value() == 0xabcdU);
}

BOOST_AUTO_TEST_SUITE_END()
