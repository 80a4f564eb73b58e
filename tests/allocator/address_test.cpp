// vmm::allocator::address_allocator: placement by policy and alignment, fixed allocations, freeing and coalescing.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.allocator;
import vmm.testing;

namespace alloc = vmm::allocator;
using alloc::address_range;
using alloc::allocation_policy;
using vmm::testing::describe;
using vmm::testing::error_of;

namespace {

// A 32-bit MMIO hole below 4 GiB, as a VMM hands out for PCI BARs: [0xc000'0000, 0xd000'0000).
constexpr std::uint64_t hole = 0xc000'0000;
constexpr std::uint64_t hole_size = 0x1000'0000;
constexpr std::uint64_t page = 0x1000;

auto make_hole() -> alloc::address_allocator {
  auto a = alloc::address_allocator::create(hole, hole_size);
  BOOST_TEST_REQUIRE(a.has_value(), describe(a));
  return std::move(*a);
}

auto error(alloc::errc e) -> std::error_code {
  return make_error_code(e);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(address_allocation)

BOOST_AUTO_TEST_CASE(new_allocator_has_the_whole_pool_free) {
  const auto a = make_hole();
  BOOST_TEST((a.pool() == address_range{.base = hole, .size = hole_size}));
  BOOST_TEST(a.free_bytes() == hole_size);
  BOOST_TEST(a.allocated_count() == 0U);
  BOOST_TEST(a.free_ranges().size() == 1U);
}

BOOST_AUTO_TEST_CASE(first_fit_packs_from_the_bottom) {
  auto a = make_hole();
  const auto r1 = a.allocate(page, page);
  const auto r2 = a.allocate(page, page);
  BOOST_TEST_REQUIRE(r1.has_value(), describe(r1));
  BOOST_TEST_REQUIRE(r2.has_value(), describe(r2));
  BOOST_TEST(r1->base == hole);
  BOOST_TEST(r2->base == hole + page);
  BOOST_TEST(a.free_bytes() == hole_size - (2 * page));
}

BOOST_AUTO_TEST_CASE(last_fit_packs_from_the_top) {
  auto a = make_hole();
  const auto r1 = a.allocate(page, page, allocation_policy::last_fit);
  const auto r2 = a.allocate(0x10, 0x100, allocation_policy::last_fit);
  BOOST_TEST_REQUIRE(r1.has_value(), describe(r1));
  BOOST_TEST_REQUIRE(r2.has_value(), describe(r2));
  BOOST_TEST(r1->last() == hole + hole_size - 1);
  BOOST_TEST(r2->base == hole + hole_size - page - 0x100);
}

BOOST_AUTO_TEST_CASE(alignment_skips_to_the_next_multiple) {
  auto a = make_hole();
  BOOST_TEST_REQUIRE(a.allocate(0x10, 1).has_value());
  // A 1 MiB BAR must be 1 MiB-aligned: the first 16 bytes are taken, so it lands at the next MiB.
  const auto bar = a.allocate(0x10'0000, 0x10'0000);
  BOOST_TEST_REQUIRE(bar.has_value(), describe(bar));
  BOOST_TEST(bar->base == hole + 0x10'0000);
  // The gap the alignment left is still free and usable.
  const auto small = a.allocate(0x100, 0x100);
  BOOST_TEST_REQUIRE(small.has_value(), describe(small));
  BOOST_TEST(small->base == hole + 0x100);
}

BOOST_AUTO_TEST_CASE(allocate_at_takes_exactly_the_range) {
  auto a = make_hole();
  const auto r = a.allocate_at(hole + 0x5000, 0x3000);
  BOOST_TEST_REQUIRE(r.has_value(), describe(r));
  BOOST_TEST((*r == address_range{.base = hole + 0x5000, .size = 0x3000}));
  BOOST_TEST(a.free_ranges().size() == 2U);
  BOOST_TEST((a.find(hole + 0x7fff) == *r));
  BOOST_TEST(!a.find(hole + 0x8000).has_value());
  BOOST_TEST(!a.find(hole + 0x4fff).has_value());
}

BOOST_AUTO_TEST_CASE(allocate_at_the_edges_of_the_pool_succeeds) {
  auto a = make_hole();
  BOOST_TEST(a.allocate_at(hole, page).has_value());
  BOOST_TEST(a.allocate_at(hole + hole_size - page, page).has_value());
  BOOST_TEST(a.allocate_at(hole + page, hole_size - (2 * page)).has_value());
  BOOST_TEST(a.free_bytes() == 0U);
  BOOST_TEST(error_of(a.allocate(1, 1)) == error(alloc::errc::out_of_space));
}

BOOST_AUTO_TEST_CASE(free_coalesces_with_both_neighbours) {
  auto a = make_hole();
  const auto r1 = a.allocate(page, page).value();
  const auto r2 = a.allocate(page, page).value();
  const auto r3 = a.allocate(page, page).value();
  BOOST_TEST(a.free(r1).has_value());
  BOOST_TEST(a.free(r3).has_value());
  BOOST_TEST(a.free_ranges().size() == 2U);
  BOOST_TEST(a.free(r2).has_value());
  BOOST_TEST(a.free_ranges().size() == 1U);
  BOOST_TEST(a.free_bytes() == hole_size);
  BOOST_TEST(a.allocated_count() == 0U);
}

BOOST_AUTO_TEST_CASE(freed_range_is_reused_by_first_fit) {
  auto a = make_hole();
  const auto r1 = a.allocate(page, page).value();
  BOOST_TEST_REQUIRE(a.allocate(page, page).has_value());
  BOOST_TEST(a.free(r1).has_value());
  const auto again = a.allocate(page, page);
  BOOST_TEST_REQUIRE(again.has_value());
  BOOST_TEST((*again == r1));
}

BOOST_AUTO_TEST_CASE(pool_ending_at_top_of_address_space_is_fully_usable) {
  constexpr std::uint64_t top = std::numeric_limits<std::uint64_t>::max() - 0xffff;
  auto a = alloc::address_allocator::create(top, 0x10000).value();
  const auto high = a.allocate(page, page, allocation_policy::last_fit);
  BOOST_TEST_REQUIRE(high.has_value(), describe(high));
  BOOST_TEST(high->last() == std::numeric_limits<std::uint64_t>::max());
  BOOST_TEST(a.free(*high).has_value());
  BOOST_TEST(a.allocate_at(top, 0x10000).has_value());
  BOOST_TEST(a.free_bytes() == 0U);
}

BOOST_AUTO_TEST_CASE(listing_is_in_address_order) {
  auto a = make_hole();
  BOOST_TEST_REQUIRE(a.allocate_at(hole + 0x8000, page).has_value());
  BOOST_TEST_REQUIRE(a.allocate_at(hole + 0x2000, page).has_value());
  const auto all = a.allocated();
  BOOST_TEST_REQUIRE(all.size() == 2U);
  BOOST_TEST(all[0].base == hole + 0x2000);
  BOOST_TEST(all[1].base == hole + 0x8000);
  BOOST_TEST(a.is_allocated({.base = hole + 0x2000, .size = page}));
  BOOST_TEST(!a.is_allocated({.base = hole + 0x2000, .size = page - 1}));
  BOOST_TEST(!a.is_allocated({.base = hole + 0x2000, .size = 0}));
}

BOOST_AUTO_TEST_SUITE_END()
