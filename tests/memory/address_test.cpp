// Guest addresses, region addresses and guest ranges: checked arithmetic that refuses to wrap at 2^64, alignment,
// containment and overlap, and formatting.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.memory;
import vmm.testing;

namespace mem = vmm::memory;
using mem::guest_address;
using mem::guest_range;
using mem::region_address;
using vmm::testing::error_of;

namespace {

// The highest guest address, 2^64 - 1.
constexpr std::uint64_t max_address = std::numeric_limits<std::uint64_t>::max();

const std::error_code address_overflow = make_error_code(mem::errc::address_overflow);

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_address)

// --- guest_address ---

BOOST_AUTO_TEST_CASE(default_guest_address_is_zero) {
  BOOST_TEST(guest_address{}.raw() == 0U);
}

BOOST_AUTO_TEST_CASE(checked_add_within_range_returns_the_sum) {
  const auto sum = guest_address{0x1000}.checked_add(0x234);
  BOOST_TEST_REQUIRE(sum.has_value(), vmm::testing::describe(sum));
  BOOST_TEST(sum->raw() == 0x1234U);
}

BOOST_AUTO_TEST_CASE(checked_add_reaching_the_last_address_succeeds) {
  const auto sum = guest_address{max_address - 1}.checked_add(1);
  BOOST_TEST_REQUIRE(sum.has_value(), vmm::testing::describe(sum));
  BOOST_TEST(sum->raw() == max_address);
}

BOOST_AUTO_TEST_CASE(checked_add_past_2_64_returns_address_overflow) {
  BOOST_TEST(error_of(guest_address{max_address}.checked_add(1)) == address_overflow);
  BOOST_TEST(error_of(guest_address{1}.checked_add(max_address)) == address_overflow);
}

BOOST_AUTO_TEST_CASE(checked_sub_down_to_zero_returns_the_difference) {
  const auto difference = guest_address{0x1000}.checked_sub(0x1000);
  BOOST_TEST_REQUIRE(difference.has_value(), vmm::testing::describe(difference));
  BOOST_TEST(difference->raw() == 0U);
}

BOOST_AUTO_TEST_CASE(checked_sub_below_zero_returns_address_overflow) {
  BOOST_TEST(error_of(guest_address{0xfff}.checked_sub(0x1000)) == address_overflow);
}

BOOST_AUTO_TEST_CASE(offset_from_a_lower_base_returns_the_distance) {
  const auto offset = guest_address{0x3000}.offset_from(guest_address{0x1000});
  BOOST_TEST_REQUIRE(offset.has_value(), vmm::testing::describe(offset));
  BOOST_TEST(*offset == 0x2000U);
}

BOOST_AUTO_TEST_CASE(offset_from_a_higher_base_returns_address_overflow) {
  BOOST_TEST(error_of(guest_address{0x1000}.offset_from(guest_address{0x1001})) == address_overflow);
}

BOOST_AUTO_TEST_CASE(unchecked_add_that_fits_returns_the_sum) {
  BOOST_TEST(guest_address{max_address - 0x10}.unchecked_add(0x10).raw() == max_address);
}

BOOST_AUTO_TEST_CASE(is_aligned_says_whether_the_address_is_a_multiple) {
  BOOST_TEST(guest_address{0x2000}.is_aligned(0x1000));
  BOOST_TEST(!guest_address{0x2001}.is_aligned(0x1000));
  BOOST_TEST(guest_address{0x2001}.is_aligned(1));
  BOOST_TEST(guest_address{0}.is_aligned(std::uint64_t{1} << 63U));
}

BOOST_AUTO_TEST_CASE(align_up_rounds_to_the_next_multiple) {
  const auto up = guest_address{0x1001}.align_up(0x1000);
  BOOST_TEST_REQUIRE(up.has_value(), vmm::testing::describe(up));
  BOOST_TEST(up->raw() == 0x2000U);
}

BOOST_AUTO_TEST_CASE(align_up_of_an_aligned_address_keeps_it) {
  const auto up = guest_address{0x3000}.align_up(0x1000);
  BOOST_TEST_REQUIRE(up.has_value(), vmm::testing::describe(up));
  BOOST_TEST(up->raw() == 0x3000U);
}

BOOST_AUTO_TEST_CASE(align_up_past_2_64_returns_address_overflow) {
  BOOST_TEST(error_of(guest_address{max_address}.align_up(0x1000)) == address_overflow);
}

BOOST_AUTO_TEST_CASE(align_down_rounds_to_the_multiple_below) {
  BOOST_TEST(guest_address{0x1fff}.align_down(0x1000).raw() == 0x1000U);
  BOOST_TEST(guest_address{max_address}.align_down(0x1000).raw() == max_address - 0xfff);
}

BOOST_AUTO_TEST_CASE(guest_addresses_compare_by_value) {
  BOOST_TEST((guest_address{1} < guest_address{2}));
  BOOST_TEST((guest_address{2} == guest_address{2}));
  BOOST_TEST((guest_address{max_address} > guest_address{0}));
}

BOOST_AUTO_TEST_CASE(guest_address_formats_as_prefixed_hex) {
  BOOST_TEST(std::format("{}", guest_address{0x1000}) == "0x1000");
  BOOST_TEST(std::format("{}", guest_address{0}) == "0x0");
  BOOST_TEST(std::format("{}", guest_address{max_address}) == "0xffffffffffffffff");
}

// --- region_address ---

BOOST_AUTO_TEST_CASE(region_address_checked_add_returns_the_sum) {
  const auto sum = region_address{0x10}.checked_add(0x20);
  BOOST_TEST_REQUIRE(sum.has_value(), vmm::testing::describe(sum));
  BOOST_TEST(sum->raw() == 0x30U);
  BOOST_TEST(region_address{}.raw() == 0U);
}

BOOST_AUTO_TEST_CASE(region_address_checked_add_past_2_64_returns_address_overflow) {
  BOOST_TEST(error_of(region_address{max_address}.checked_add(1)) == address_overflow);
}

BOOST_AUTO_TEST_CASE(region_addresses_compare_by_value) {
  BOOST_TEST((region_address{1} < region_address{2}));
  BOOST_TEST((region_address{3} == region_address{3}));
}

// --- guest_range ---

BOOST_AUTO_TEST_CASE(range_ending_exactly_at_2_64_is_allowed) {
  // [2^64 - 0x1000, 2^64): the last byte is the highest address.
  const auto range = guest_range::make(guest_address{max_address - 0xfff}, 0x1000);
  BOOST_TEST_REQUIRE(range.has_value(), vmm::testing::describe(range));
  BOOST_TEST(range->last().raw() == max_address);
}

BOOST_AUTO_TEST_CASE(range_passing_2_64_returns_address_overflow) {
  BOOST_TEST(error_of(guest_range::make(guest_address{max_address - 0xfff}, 0x1001)) == address_overflow);
  BOOST_TEST(error_of(guest_range::make(guest_address{2}, max_address)) == address_overflow);
}

BOOST_AUTO_TEST_CASE(range_of_2_64_minus_1_bytes_from_address_1_ends_at_2_64) {
  const auto range = guest_range::make(guest_address{1}, max_address);
  BOOST_TEST_REQUIRE(range.has_value(), vmm::testing::describe(range));
  BOOST_TEST(range->last().raw() == max_address);
}

BOOST_AUTO_TEST_CASE(empty_range_at_the_top_of_the_address_space_is_allowed) {
  const auto range = guest_range::make(guest_address{max_address}, 0);
  BOOST_TEST_REQUIRE(range.has_value(), vmm::testing::describe(range));
  BOOST_TEST(range->size == 0U);
}

BOOST_AUTO_TEST_CASE(range_contains_its_first_and_last_address_only) {
  const guest_range range{.start = guest_address{0x1000}, .size = 0x1000};
  BOOST_TEST(range.contains(guest_address{0x1000}));
  BOOST_TEST(range.contains(guest_address{0x1fff}));
  BOOST_TEST(!range.contains(guest_address{0x2000}));
  BOOST_TEST(!range.contains(guest_address{0xfff}));
}

BOOST_AUTO_TEST_CASE(empty_range_contains_nothing) {
  const guest_range range{.start = guest_address{0x1000}, .size = 0};
  BOOST_TEST(!range.contains(guest_address{0x1000}));
}

BOOST_AUTO_TEST_CASE(ranges_sharing_a_byte_overlap) {
  const guest_range a{.start = guest_address{0x1000}, .size = 0x1000};
  const guest_range b{.start = guest_address{0x1fff}, .size = 0x10};
  BOOST_TEST(a.overlaps(b));
  BOOST_TEST(b.overlaps(a));
}

BOOST_AUTO_TEST_CASE(adjacent_ranges_do_not_overlap) {
  const guest_range a{.start = guest_address{0x1000}, .size = 0x1000};
  const guest_range b{.start = guest_address{0x2000}, .size = 0x1000};
  BOOST_TEST(!a.overlaps(b));
  BOOST_TEST(!b.overlaps(a));
}

BOOST_AUTO_TEST_CASE(range_inside_another_overlaps_it) {
  const guest_range outer{.start = guest_address{0x1000}, .size = 0x3000};
  const guest_range inner{.start = guest_address{0x2000}, .size = 0x10};
  BOOST_TEST(outer.overlaps(inner));
  BOOST_TEST(inner.overlaps(outer));
}

BOOST_AUTO_TEST_CASE(empty_range_overlaps_nothing) {
  const guest_range outer{.start = guest_address{0x1000}, .size = 0x3000};
  const guest_range empty{.start = guest_address{0x2000}, .size = 0};
  BOOST_TEST(!outer.overlaps(empty));
  BOOST_TEST(!empty.overlaps(outer));
}

BOOST_AUTO_TEST_CASE(ranges_compare_by_start_and_size) {
  const guest_range a{.start = guest_address{0x1000}, .size = 0x1000};
  BOOST_TEST((a == guest_range{.start = guest_address{0x1000}, .size = 0x1000}));
  BOOST_TEST(!(a == guest_range{.start = guest_address{0x1000}, .size = 0x2000}));
}

BOOST_AUTO_TEST_SUITE_END()

// The checked address operations are usable in constant expressions (contract_check is constexpr); their error
// paths are not (std::error_code is not a literal type).
static_assert(vmm::memory::guest_address{0x1000}.is_aligned(0x1000));
static_assert(vmm::memory::guest_address{0x1001}.align_up(0x1000)->raw() == 0x2000);
static_assert(vmm::memory::guest_address{0x1fff}.align_down(0x1000).raw() == 0x1000);
static_assert(vmm::memory::guest_address{1}.unchecked_add(2).raw() == 3);
