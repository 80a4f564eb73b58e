// Bad input to vmm.allocator: every vmm::allocator::errc each allocator returns, each with the exact error, and
// proof that nothing changed (allocated ranges, free ranges, free bytes; allocated ids and count).
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.allocator;
import vmm.testing;

namespace alloc = vmm::allocator;
using alloc::address_range;
using alloc::allocation_policy;
using vmm::testing::error_of;

namespace {

constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t pool_base = 0x10'0000;
constexpr std::uint64_t pool_size = 0x10'0000;

auto error(alloc::errc e) -> std::error_code {
  return make_error_code(e);
}

/// A pool [1 MiB, 2 MiB) with [1 MiB + 64 KiB, +4 KiB) allocated.
struct pool {
  alloc::address_allocator a = alloc::address_allocator::create(pool_base, pool_size).value();
  address_range taken = a.allocate_at(pool_base + 0x1'0000, 0x1000).value();
  std::vector<address_range> allocated_before = a.allocated();
  std::vector<address_range> free_before = a.free_ranges();

  void check_unchanged() const {
    BOOST_TEST((a.allocated() == allocated_before));
    BOOST_TEST((a.free_ranges() == free_before));
    BOOST_TEST(a.free_bytes() == pool_size - 0x1000);
  }
};

/// Ids [16, 23] with 16 and 20 allocated.
struct ids {
  alloc::id_allocator a = alloc::id_allocator::create(16, 23).value();
  ids() {
    BOOST_TEST_REQUIRE(a.allocate(16).has_value());
    BOOST_TEST_REQUIRE(a.allocate(20).has_value());
  }
  void check_unchanged() const {
    BOOST_TEST(a.allocated_count() == 2U);
    for (std::uint32_t id = 16; id <= 23; ++id) {
      BOOST_TEST(a.is_allocated(id) == (id == 16 || id == 20));
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(negative_address)

BOOST_AUTO_TEST_CASE(create_with_zero_size_or_wrapping_pool_fails) {
  BOOST_TEST(error_of(alloc::address_allocator::create(0, 0)) == error(alloc::errc::zero_size));
  BOOST_TEST(error_of(alloc::address_allocator::create(max_u64, 2)) == error(alloc::errc::range_overflow));
  BOOST_TEST(error_of(alloc::address_allocator::create(2, max_u64)) == error(alloc::errc::range_overflow));
}

BOOST_FIXTURE_TEST_CASE(allocate_of_zero_bytes_fails, pool) {
  BOOST_TEST(error_of(a.allocate(0, 1)) == error(alloc::errc::zero_size));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(alignment_that_is_not_a_power_of_two_fails, pool) {
  for (const std::uint64_t alignment : {std::uint64_t{0}, std::uint64_t{3}, std::uint64_t{0x1800}, max_u64}) {
    BOOST_TEST(error_of(a.allocate(0x10, alignment)) == error(alloc::errc::invalid_alignment));
    BOOST_TEST(error_of(a.allocate(0x10, alignment, allocation_policy::last_fit)) ==
               error(alloc::errc::invalid_alignment));
  }
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(allocation_larger_than_any_free_range_fails, pool) {
  BOOST_TEST(error_of(a.allocate(pool_size, 1)) == error(alloc::errc::out_of_space));
  BOOST_TEST(error_of(a.allocate(max_u64, 1, allocation_policy::last_fit)) == error(alloc::errc::out_of_space));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(allocation_that_fits_only_unaligned_fails, pool) {
  // The pool is 1 MiB at 1 MiB: a 1 MiB-aligned 0.5 MiB range fits only at 1 MiB, where [1 MiB + 64 KiB) is taken,
  // and 2 MiB is past the end.
  BOOST_TEST(error_of(a.allocate(0x8'0000, 0x10'0000)) == error(alloc::errc::out_of_space));
  BOOST_TEST(error_of(a.allocate(0x8'0000, 0x10'0000, allocation_policy::last_fit)) ==
             error(alloc::errc::out_of_space));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(allocate_at_outside_the_pool_fails, pool) {
  BOOST_TEST(error_of(a.allocate_at(pool_base - 0x1000, 0x1000)) == error(alloc::errc::outside_pool));
  BOOST_TEST(error_of(a.allocate_at(pool_base - 1, 2)) == error(alloc::errc::outside_pool));
  BOOST_TEST(error_of(a.allocate_at(pool_base + pool_size - 1, 2)) == error(alloc::errc::outside_pool));
  BOOST_TEST(error_of(a.allocate_at(pool_base + pool_size, 1)) == error(alloc::errc::outside_pool));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(allocate_at_with_bad_size_fails, pool) {
  BOOST_TEST(error_of(a.allocate_at(pool_base, 0)) == error(alloc::errc::zero_size));
  BOOST_TEST(error_of(a.allocate_at(pool_base, max_u64)) == error(alloc::errc::range_overflow));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(allocate_at_over_an_allocated_range_fails, pool) {
  BOOST_TEST(error_of(a.allocate_at(taken.base, taken.size)) == error(alloc::errc::range_taken));
  BOOST_TEST(error_of(a.allocate_at(taken.base - 1, 2)) == error(alloc::errc::range_taken));
  BOOST_TEST(error_of(a.allocate_at(taken.last(), 2)) == error(alloc::errc::range_taken));
  BOOST_TEST(error_of(a.allocate_at(taken.base + 0x10, 1)) == error(alloc::errc::range_taken));
  BOOST_TEST(error_of(a.allocate_at(pool_base, pool_size)) == error(alloc::errc::range_taken));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(free_of_anything_but_an_allocated_range_fails, pool) {
  BOOST_TEST(error_of(a.free({.base = pool_base, .size = 0x1000})) == error(alloc::errc::not_allocated));
  BOOST_TEST(error_of(a.free({.base = taken.base, .size = taken.size + 1})) == error(alloc::errc::not_allocated));
  BOOST_TEST(error_of(a.free({.base = taken.base, .size = 0})) == error(alloc::errc::not_allocated));
  BOOST_TEST(error_of(a.free({.base = taken.base + 1, .size = taken.size - 1})) == error(alloc::errc::not_allocated));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(double_free_fails_the_second_time, pool) {
  BOOST_TEST(a.free(taken).has_value());
  BOOST_TEST(error_of(a.free(taken)) == error(alloc::errc::not_allocated));
  BOOST_TEST(a.free_bytes() == pool_size);
  BOOST_TEST(a.free_ranges().size() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(negative_id)

BOOST_AUTO_TEST_CASE(create_with_first_above_last_fails) {
  BOOST_TEST(error_of(alloc::id_allocator::create(10, 9)) == error(alloc::errc::empty_id_range));
}

BOOST_FIXTURE_TEST_CASE(specific_id_outside_the_range_fails, ids) {
  BOOST_TEST(error_of(a.allocate(15)) == error(alloc::errc::id_out_of_range));
  BOOST_TEST(error_of(a.allocate(24)) == error(alloc::errc::id_out_of_range));
  BOOST_TEST(error_of(a.allocate(std::numeric_limits<std::uint32_t>::max())) == error(alloc::errc::id_out_of_range));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(specific_id_already_taken_fails, ids) {
  BOOST_TEST(error_of(a.allocate(16)) == error(alloc::errc::id_taken));
  BOOST_TEST(error_of(a.allocate(20)) == error(alloc::errc::id_taken));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(free_outside_the_range_or_of_a_free_id_fails, ids) {
  BOOST_TEST(error_of(a.free(0)) == error(alloc::errc::id_out_of_range));
  BOOST_TEST(error_of(a.free(24)) == error(alloc::errc::id_out_of_range));
  BOOST_TEST(error_of(a.free(17)) == error(alloc::errc::id_not_allocated));
  BOOST_TEST(error_of(a.free(23)) == error(alloc::errc::id_not_allocated));
  BOOST_TEST(!a.is_allocated(0));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(exhausted_range_fails_and_stays_full, ids) {
  for (int i = 0; i < 6; ++i) {
    BOOST_TEST_REQUIRE(a.allocate().has_value());
  }
  BOOST_TEST(error_of(a.allocate()) == error(alloc::errc::ids_exhausted));
  BOOST_TEST(a.allocated_count() == 8U);
}

BOOST_AUTO_TEST_SUITE_END()
