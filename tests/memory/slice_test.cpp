// volatile_slice: bounds-checked views of one region; subslices, copies in and out (small copies with single
// accesses), fill, typed and atomic access, dirty marking through the slice, and the readv/writev buffer.
#include <boost/test/unit_test.hpp>

#include "byte_printing.hpp"

import std;
import vmm.sys;
import vmm.memory;
import vmm.testing;

namespace mem = vmm::memory;
using mem::guest_address;
using mem::region_address;
using mem::volatile_slice;
using vmm::testing::error_of;

namespace {

// Two base pages: enough for a slice that crosses a page (and so a dirty-bitmap page) boundary.
const std::uint64_t region_size = 2 * vmm::sys::page_size();
constexpr std::uint64_t bitmap_page = mem::dirty_bitmap::page_size;

const std::error_code out_of_range = make_error_code(mem::errc::out_of_range);

auto tracked_region() -> std::shared_ptr<mem::guest_region> {
  auto region = mem::guest_region::anonymous(guest_address{0x10000}, region_size, {.track_dirty = true});
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  return std::move(*region);
}

auto whole(const mem::guest_region& region, mem::access mode) -> volatile_slice {
  auto slice = region.as_slice(mode);
  BOOST_TEST_REQUIRE(slice.has_value(), vmm::testing::describe(slice));
  return *slice;
}

auto part(const volatile_slice& slice, std::size_t offset, std::size_t length) -> volatile_slice {
  auto sub = slice.subslice(offset, length);
  BOOST_TEST_REQUIRE(sub.has_value(), vmm::testing::describe(sub));
  return *sub;
}

// The bytes 1, 2, 3, ... n.
template <std::size_t N>
auto counting_bytes() -> std::array<std::byte, N> {
  std::array<std::byte, N> bytes{};
  for (std::size_t i = 0; i < N; ++i) {
    bytes[i] = static_cast<std::byte>(i + 1);
  }
  return bytes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_slice)

BOOST_AUTO_TEST_CASE(default_slice_is_empty_and_read_only) {
  const volatile_slice slice;
  BOOST_TEST(slice.empty());
  BOOST_TEST(slice.size() == 0U);
  BOOST_TEST(!slice.writable());
  BOOST_TEST(slice.data() == nullptr);
}

BOOST_AUTO_TEST_CASE(slice_of_a_region_views_its_host_memory) {
  const auto region = tracked_region();
  const auto slice = whole(*region, mem::access::write);
  BOOST_TEST(slice.size() == region_size);
  BOOST_TEST(slice.writable());
  BOOST_TEST(slice.data() == region->host_address());
}

BOOST_AUTO_TEST_CASE(read_slice_is_not_writable) {
  const auto region = tracked_region();
  BOOST_TEST(!whole(*region, mem::access::read).writable());
}

BOOST_AUTO_TEST_CASE(subslice_inside_the_slice_views_that_part) {
  const auto region = tracked_region();
  const auto sub = part(whole(*region, mem::access::write), 0x100, 0x20);
  BOOST_TEST(sub.size() == 0x20U);
  BOOST_TEST(sub.data() == region->host_address() + 0x100);
  BOOST_TEST(sub.writable());
}

BOOST_AUTO_TEST_CASE(empty_subslice_at_the_end_is_allowed) {
  const auto region = tracked_region();
  const auto sub = part(whole(*region, mem::access::read), region_size, 0);
  BOOST_TEST(sub.empty());
}

BOOST_AUTO_TEST_CASE(subslice_running_past_the_end_returns_out_of_range) {
  const auto region = tracked_region();
  const auto slice = whole(*region, mem::access::read);
  BOOST_TEST(error_of(slice.subslice(region_size - 1, 2)) == out_of_range);
  BOOST_TEST(error_of(slice.subslice(region_size + 1, 0)) == out_of_range);
}

BOOST_AUTO_TEST_CASE(subslice_whose_end_wraps_returns_address_overflow) {
  const auto region = tracked_region();
  const auto slice = whole(*region, mem::access::read);
  BOOST_TEST(error_of(slice.subslice(1, std::numeric_limits<std::size_t>::max())) ==
             make_error_code(mem::errc::address_overflow));
}

BOOST_AUTO_TEST_CASE(tail_views_from_the_offset_to_the_end) {
  const auto region = tracked_region();
  const auto tail = whole(*region, mem::access::read).tail(0x10);
  BOOST_TEST_REQUIRE(tail.has_value(), vmm::testing::describe(tail));
  BOOST_TEST(tail->size() == region_size - 0x10);
  BOOST_TEST(tail->data() == region->host_address() + 0x10);
}

BOOST_AUTO_TEST_CASE(tail_past_the_end_returns_out_of_range) {
  const auto region = tracked_region();
  BOOST_TEST(error_of(whole(*region, mem::access::read).tail(region_size + 1)) == out_of_range);
}

BOOST_AUTO_TEST_CASE(copy_from_writes_the_bytes_and_marks_their_pages) {
  const auto region = tracked_region();
  const auto slice = part(whole(*region, mem::access::write), bitmap_page - 2, 16);
  const auto in = counting_bytes<4>();
  BOOST_TEST(slice.copy_from(in) == 4U);
  BOOST_TEST(std::memcmp(region->host_address() + bitmap_page - 2, in.data(), in.size()) == 0);
  BOOST_TEST(region->bitmap()->is_dirty(0));
  BOOST_TEST(region->bitmap()->is_dirty(1));
}

BOOST_AUTO_TEST_CASE(copy_from_a_longer_buffer_copies_only_the_slice_length) {
  const auto region = tracked_region();
  const auto slice = part(whole(*region, mem::access::write), 0, 3);
  const auto in = counting_bytes<32>();
  BOOST_TEST(slice.copy_from(in) == 3U);
  BOOST_TEST(region->host_address()[2] == std::byte{3});
  BOOST_TEST(region->host_address()[3] == std::byte{0});
}

BOOST_AUTO_TEST_CASE(copy_to_reads_as_much_as_both_sides_hold) {
  const auto region = tracked_region();
  const auto writer = whole(*region, mem::access::write);
  const auto in = counting_bytes<32>();
  BOOST_TEST(writer.copy_from(in) == 32U);
  std::array<std::byte, 8> small{};
  BOOST_TEST(part(writer, 4, 28).copy_to(small) == 8U);
  BOOST_TEST(small == (std::array<std::byte, 8>{std::byte{5}, std::byte{6}, std::byte{7}, std::byte{8}, std::byte{9},
                                                std::byte{10}, std::byte{11}, std::byte{12}}));
  std::array<std::byte, 8> large{};
  BOOST_TEST(part(writer, 0, 2).copy_to(large) == 2U);
  BOOST_TEST(large[1] == std::byte{2});
  BOOST_TEST(large[2] == std::byte{0});
}

BOOST_AUTO_TEST_CASE(reads_are_not_marked_dirty) {
  const auto region = tracked_region();
  const auto slice = whole(*region, mem::access::read);
  std::array<std::byte, 64> out{};
  BOOST_TEST(slice.copy_to(out) == 64U);
  BOOST_TEST(slice.read_obj<std::uint64_t>(0).has_value());
  BOOST_TEST(slice.load<std::uint32_t>(8, std::memory_order_acquire).has_value());
  BOOST_TEST(region->bitmap()->dirty_count() == 0U);
}

BOOST_AUTO_TEST_CASE(small_copies_at_every_alignment_move_the_right_bytes) {
  // 1 to 8 bytes at offsets 0 to 7 take every combination of 1-, 2-, 4- and 8-byte accesses.
  const auto region = tracked_region();
  const auto slice = whole(*region, mem::access::write);
  const auto in = counting_bytes<8>();
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t n = 1; n <= 8; ++n) {
      slice.fill(std::byte{0xee});
      BOOST_TEST(part(slice, offset, n).copy_from(std::span{in}.first(n)) == n);
      std::array<std::byte, 8> out{};
      BOOST_TEST(part(slice, offset, n).copy_to(out) == n);
      BOOST_TEST(std::memcmp(out.data(), in.data(), n) == 0, "offset " << offset << " length " << n);
      BOOST_TEST(region->host_address()[offset + n] == std::byte{0xee}, "offset " << offset << " length " << n);
      BOOST_TEST((offset == 0 || region->host_address()[offset - 1] == std::byte{0xee}));
    }
  }
}

BOOST_AUTO_TEST_CASE(copy_to_another_slice_copies_and_marks_the_destination) {
  const auto region = tracked_region();
  const auto slice = whole(*region, mem::access::write);
  const auto in = counting_bytes<64>();
  BOOST_TEST(part(slice, 0, 64).copy_from(in) == 64U);
  region->bitmap()->reset_all();
  const auto to = part(slice, bitmap_page + 8, 100);
  BOOST_TEST(part(slice, 0, 64).copy_to(to) == 64U);
  BOOST_TEST(std::memcmp(region->host_address() + bitmap_page + 8, in.data(), 64) == 0);
  BOOST_TEST(!region->bitmap()->is_dirty(0));
  BOOST_TEST(region->bitmap()->is_dirty(1));
}

BOOST_AUTO_TEST_CASE(small_copy_to_another_slice_copies_the_bytes) {
  const auto region = tracked_region();
  const auto slice = whole(*region, mem::access::write);
  const auto in = counting_bytes<6>();
  BOOST_TEST(part(slice, 1, 6).copy_from(in) == 6U);
  BOOST_TEST(part(slice, 1, 6).copy_to(part(slice, 0x101, 6)) == 6U);
  BOOST_TEST(std::memcmp(region->host_address() + 0x101, in.data(), in.size()) == 0);
}

BOOST_AUTO_TEST_CASE(copy_between_overlapping_slices_behaves_like_memmove) {
  const auto region = tracked_region();
  const auto slice = whole(*region, mem::access::write);
  const auto in = counting_bytes<32>();
  BOOST_TEST(part(slice, 0, 32).copy_from(in) == 32U);
  BOOST_TEST(part(slice, 0, 32).copy_to(part(slice, 4, 32)) == 32U);
  BOOST_TEST(std::memcmp(region->host_address() + 4, in.data(), in.size()) == 0);
}

BOOST_AUTO_TEST_CASE(fill_sets_every_byte_and_marks_the_slice) {
  const auto region = tracked_region();
  const auto slice = part(whole(*region, mem::access::write), bitmap_page, 10);
  slice.fill(std::byte{0x5a});
  BOOST_TEST(region->host_address()[bitmap_page] == std::byte{0x5a});
  BOOST_TEST(region->host_address()[bitmap_page + 9] == std::byte{0x5a});
  BOOST_TEST(region->host_address()[bitmap_page + 10] == std::byte{0});
  BOOST_TEST(region->bitmap()->snapshot() == std::vector<std::uint64_t>{0b10});
}

BOOST_AUTO_TEST_CASE(write_obj_then_read_obj_round_trips_and_marks_the_page) {
  struct record {
    std::uint32_t a;
    std::uint16_t b;
    std::uint16_t c;
  };
  const auto region = tracked_region();
  const auto slice = whole(*region, mem::access::write);
  BOOST_TEST_REQUIRE(slice.write_obj(bitmap_page + 4, record{.a = 1, .b = 2, .c = 3}).has_value());
  const auto back = slice.read_obj<record>(bitmap_page + 4);
  BOOST_TEST_REQUIRE(back.has_value(), vmm::testing::describe(back));
  BOOST_TEST(back->a == 1U);
  BOOST_TEST(back->b == 2U);
  BOOST_TEST(back->c == 3U);
  BOOST_TEST(region->bitmap()->snapshot() == std::vector<std::uint64_t>{0b10});
}

BOOST_AUTO_TEST_CASE(object_that_does_not_fit_returns_out_of_range) {
  const auto region = tracked_region();
  const auto slice = part(whole(*region, mem::access::write), 0, 6);
  BOOST_TEST(error_of(slice.read_obj<std::uint64_t>(0)) == out_of_range);
  BOOST_TEST(error_of(slice.read_obj<std::uint16_t>(7)) == out_of_range);
  BOOST_TEST(error_of(slice.write_obj<std::uint32_t>(3, 0xffffffff)) == out_of_range);
  BOOST_TEST(error_of(slice.write_obj<std::uint32_t>(7, 0xffffffff)) == out_of_range);
  BOOST_TEST(region->host_address()[3] == std::byte{0});
  BOOST_TEST(region->bitmap()->dirty_count() == 0U);
}

BOOST_AUTO_TEST_CASE(store_then_load_round_trips_every_width) {
  const auto region = tracked_region();
  const auto slice = whole(*region, mem::access::write);
  BOOST_TEST_REQUIRE(slice.store<std::uint8_t>(1, 0x11, std::memory_order_relaxed).has_value());
  BOOST_TEST_REQUIRE(slice.store<std::uint16_t>(2, 0x2222, std::memory_order_release).has_value());
  BOOST_TEST_REQUIRE(slice.store<std::uint32_t>(4, 0x44444444, std::memory_order_seq_cst).has_value());
  BOOST_TEST_REQUIRE(slice.store<std::uint64_t>(8, 0x8888888888888888, std::memory_order_release).has_value());
  BOOST_TEST(slice.load<std::uint8_t>(1, std::memory_order_relaxed).value() == 0x11U);
  BOOST_TEST(slice.load<std::uint16_t>(2, std::memory_order_acquire).value() == 0x2222U);
  BOOST_TEST(slice.load<std::uint32_t>(4, std::memory_order_seq_cst).value() == 0x44444444U);
  BOOST_TEST(slice.load<std::uint64_t>(8, std::memory_order_acquire).value() == 0x8888888888888888U);
  BOOST_TEST(region->bitmap()->snapshot() == std::vector<std::uint64_t>{0b1});
}

BOOST_AUTO_TEST_CASE(atomic_access_that_does_not_fit_returns_out_of_range) {
  const auto region = tracked_region();
  const auto slice = part(whole(*region, mem::access::write), 0, 6);
  BOOST_TEST(error_of(slice.load<std::uint64_t>(0, std::memory_order_relaxed)) == out_of_range);
  BOOST_TEST(error_of(slice.store<std::uint32_t>(4, 1, std::memory_order_relaxed)) == out_of_range);
  BOOST_TEST(error_of(slice.store<std::uint16_t>(8, 1, std::memory_order_relaxed)) == out_of_range);
  BOOST_TEST(region->bitmap()->dirty_count() == 0U);
}

BOOST_AUTO_TEST_CASE(misaligned_atomic_access_returns_misaligned_access) {
  const auto region = tracked_region();
  const auto slice = whole(*region, mem::access::write);
  const auto misaligned = make_error_code(mem::errc::misaligned_access);
  BOOST_TEST(error_of(slice.load<std::uint16_t>(1, std::memory_order_relaxed)) == misaligned);
  BOOST_TEST(error_of(slice.load<std::uint64_t>(4, std::memory_order_relaxed)) == misaligned);
  BOOST_TEST(error_of(slice.store<std::uint32_t>(2, 0xffffffff, std::memory_order_relaxed)) == misaligned);
  BOOST_TEST(region->host_address()[2] == std::byte{0});
  BOOST_TEST(region->bitmap()->dirty_count() == 0U);
}

BOOST_AUTO_TEST_CASE(alignment_is_that_of_the_host_address_not_of_the_offset) {
  // A subslice starting at an odd address: offset 1 inside it is 2-aligned in the region.
  const auto region = tracked_region();
  const auto odd = part(whole(*region, mem::access::write), 1, 16);
  BOOST_TEST(odd.store<std::uint16_t>(1, 0xbeef, std::memory_order_relaxed).has_value());
  BOOST_TEST(error_of(odd.load<std::uint16_t>(0, std::memory_order_relaxed)) ==
             make_error_code(mem::errc::misaligned_access));
}

BOOST_AUTO_TEST_CASE(mark_dirty_marks_the_part_of_the_slice_it_names) {
  const auto region = tracked_region();
  const auto slice = part(whole(*region, mem::access::write), bitmap_page - 1, 10);
  slice.mark_dirty(1, 1);
  BOOST_TEST(region->bitmap()->snapshot() == std::vector<std::uint64_t>{0b10});
}

BOOST_AUTO_TEST_CASE(mark_dirty_beyond_the_slice_is_clipped_to_it) {
  const auto region = tracked_region();
  const auto slice = part(whole(*region, mem::access::write), 0, 10);
  slice.mark_dirty(5, region_size);  // would reach page 1, but the slice ends in page 0
  slice.mark_dirty(10, 1);           // starts past the slice: nothing
  BOOST_TEST(region->bitmap()->snapshot() == std::vector<std::uint64_t>{0b1});
}

BOOST_AUTO_TEST_CASE(writes_through_a_slice_without_a_bitmap_need_no_tracking) {
  auto region = mem::guest_region::anonymous(guest_address{0}, region_size);
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  const auto slice = whole(**region, mem::access::write);
  BOOST_TEST((*region)->bitmap() == nullptr);
  BOOST_TEST(slice.write_obj<std::uint32_t>(0, 7).has_value());
  slice.mark_dirty(0, 4);
  BOOST_TEST(slice.read_obj<std::uint32_t>(0).value() == 7U);
}

BOOST_AUTO_TEST_CASE(io_buffer_is_the_slice_base_and_length) {
  const auto region = tracked_region();
  const auto slice = part(whole(*region, mem::access::read), 0x30, 0x40);
  const auto buffer = slice.io_buffer();
  BOOST_TEST(buffer.base == static_cast<void*>(region->host_address() + 0x30));
  BOOST_TEST(buffer.length == 0x40U);
}

BOOST_AUTO_TEST_CASE(slice_over_caller_memory_with_its_own_bitmap_marks_at_its_bitmap_offset) {
  alignas(8) std::array<std::byte, 64> memory{};
  mem::dirty_bitmap bitmap{4 * bitmap_page};
  const volatile_slice slice{memory.data(), memory.size(), mem::access::write, &bitmap, 3 * bitmap_page};
  BOOST_TEST_REQUIRE(slice.write_obj<std::uint8_t>(0, 9).has_value());
  BOOST_TEST(memory[0] == std::byte{9});
  BOOST_TEST(bitmap.snapshot() == std::vector<std::uint64_t>{0b1000});
}

BOOST_AUTO_TEST_SUITE_END()
