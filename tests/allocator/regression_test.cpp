// Regression tests for vmm.allocator: one case per issue or bug class of rust-vmm's vm-allocator (and allocators
// like it) that this module must not repeat, each named after it.
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

constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();

auto error(alloc::errc e) -> std::error_code {
  return make_error_code(e);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(regression)

// vm-allocator#41 (rust-vmm#111): IdAllocator cannot hand out a specific id, which x86 legacy IRQs need (COM1 is
// IRQ 4 whatever else was allocated first). Here allocate(id) takes it, and allocate() then skips it.
BOOST_AUTO_TEST_CASE(vm_allocator_41_specific_id_can_be_requested) {
  auto irqs = alloc::id_allocator::create(1, 23).value();
  BOOST_TEST(irqs.allocate().value() == 1U);
  const auto com1 = irqs.allocate(4);
  BOOST_TEST_REQUIRE(com1.has_value(), describe(com1));
  BOOST_TEST(*com1 == 4U);
  BOOST_TEST(irqs.allocate().value() == 2U);
  BOOST_TEST(irqs.allocate().value() == 3U);
  BOOST_TEST(irqs.allocate().value() == 5U);
  BOOST_TEST(error_of(irqs.allocate(4)) == error(alloc::errc::id_taken));
}

// vm-allocator 0.1.4's fix: free_id accepted an id that was never allocated, which the allocator could then hand
// out twice. Freeing a never-allocated id must fail, and the next allocate() must still return it once.
BOOST_AUTO_TEST_CASE(vm_allocator_free_of_never_allocated_id_is_rejected) {
  auto ids = alloc::id_allocator::create(0, 9).value();
  BOOST_TEST(error_of(ids.free(3)) == error(alloc::errc::id_not_allocated));
  BOOST_TEST(error_of(ids.free(9)) == error(alloc::errc::id_not_allocated));
  for (std::uint32_t expected = 0; expected <= 9; ++expected) {
    BOOST_TEST(ids.allocate().value() == expected);
  }
  BOOST_TEST(error_of(ids.allocate()) == error(alloc::errc::ids_exhausted));
}

// Aligning up a free range's start near 2^64 overflows: computed unchecked, (start + align - 1) & ~(align - 1)
// wraps to 0, which then looks like a low, well-aligned address that "fits". It must be out_of_space instead.
BOOST_AUTO_TEST_CASE(alignment_that_would_overflow_at_top_of_address_space_is_out_of_space) {
  auto a = alloc::address_allocator::create(max_u64 - 0xfff, 0x1000).value();
  BOOST_TEST(error_of(a.allocate(0x10, std::uint64_t{1} << 63U)) == error(alloc::errc::out_of_space));
  BOOST_TEST(error_of(a.allocate(0x10, std::uint64_t{1} << 63U, allocation_policy::last_fit)) ==
             error(alloc::errc::out_of_space));
  BOOST_TEST(a.free_bytes() == 0x1000U);
  // An alignment the top page does satisfy still works, and the range ends at 2^64.
  const auto r = a.allocate(0x1000, 0x1000);
  BOOST_TEST_REQUIRE(r.has_value(), describe(r));
  BOOST_TEST(r->last() == max_u64);
}

// Freeing a sub-range of an allocation (or a range that covers two adjacent allocations) must be refused: an
// allocator that splits on free leaves the rest of the allocation "allocated" with no owner, or frees a range the
// neighbour still uses.
BOOST_AUTO_TEST_CASE(freeing_a_sub_range_or_a_merged_range_is_rejected) {
  auto a = alloc::address_allocator::create(0x1000, 0x10000).value();
  const auto r1 = a.allocate(0x2000, 0x1000).value();
  const auto r2 = a.allocate(0x2000, 0x1000).value();
  BOOST_TEST(error_of(a.free({.base = r1.base, .size = 0x1000})) == error(alloc::errc::not_allocated));
  BOOST_TEST(error_of(a.free({.base = r1.base + 0x1000, .size = 0x1000})) == error(alloc::errc::not_allocated));
  BOOST_TEST(error_of(a.free({.base = r1.base, .size = 0x4000})) == error(alloc::errc::not_allocated));
  BOOST_TEST((a.allocated() == std::vector<address_range>{r1, r2}));
  BOOST_TEST(a.free_bytes() == 0x10000U - 0x4000U);
}

// A last-fit computation as `end - size` rounded down can land below the free range's start when the range is
// barely big enough but misaligned; it must move on to a lower range, not allocate over the neighbour.
BOOST_AUTO_TEST_CASE(last_fit_in_a_misaligned_free_range_does_not_spill_below_it) {
  auto a = alloc::address_allocator::create(0, 0x10000).value();
  BOOST_TEST_REQUIRE(a.allocate_at(0x8000, 0x801).has_value());   // free above: [0x8801, 0x10000)
  BOOST_TEST_REQUIRE(a.allocate_at(0x9000, 0x7000).has_value());  // free above it now: [0x8801, 0x9000)
  const auto r = a.allocate(0x7ff, 0x800, allocation_policy::last_fit);
  BOOST_TEST_REQUIRE(r.has_value(), describe(r));
  BOOST_TEST(r->base == 0x7800U);
}

// A zero-size request has no last address (base - 1 wraps); accepting it makes a range that covers everything.
BOOST_AUTO_TEST_CASE(zero_size_requests_are_rejected_everywhere) {
  auto a = alloc::address_allocator::create(0, 0x1000).value();
  BOOST_TEST(error_of(a.allocate(0, 1)) == error(alloc::errc::zero_size));
  BOOST_TEST(error_of(a.allocate_at(0, 0)) == error(alloc::errc::zero_size));
  BOOST_TEST(error_of(a.free({.base = 0, .size = 0})) == error(alloc::errc::not_allocated));
  BOOST_TEST(a.free_bytes() == 0x1000U);
}

BOOST_AUTO_TEST_SUITE_END()
