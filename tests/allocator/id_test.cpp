// vmm::allocator::id_allocator: lowest-free allocation, specific ids, freeing and reuse.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.allocator;
import vmm.testing;

namespace alloc = vmm::allocator;
using vmm::testing::describe;
using vmm::testing::error_of;

namespace {

// The GSIs a VMM hands to devices after the 16 legacy IRQs of the IOAPIC's 24 pins.
constexpr std::uint32_t first_gsi = 5;
constexpr std::uint32_t last_gsi = 23;

auto make_gsis() -> alloc::id_allocator {
  auto a = alloc::id_allocator::create(first_gsi, last_gsi);
  BOOST_TEST_REQUIRE(a.has_value(), describe(a));
  return std::move(*a);
}

auto error(alloc::errc e) -> std::error_code {
  return make_error_code(e);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(id_allocation)

BOOST_AUTO_TEST_CASE(allocate_hands_out_ids_in_increasing_order) {
  auto a = make_gsis();
  BOOST_TEST(a.first() == first_gsi);
  BOOST_TEST(a.last() == last_gsi);
  BOOST_TEST(a.allocate().value() == first_gsi);
  BOOST_TEST(a.allocate().value() == first_gsi + 1);
  BOOST_TEST(a.allocated_count() == 2U);
}

BOOST_AUTO_TEST_CASE(freed_id_is_the_next_one_handed_out) {
  auto a = make_gsis();
  BOOST_TEST_REQUIRE(a.allocate().has_value());
  BOOST_TEST_REQUIRE(a.allocate().has_value());
  BOOST_TEST_REQUIRE(a.allocate().has_value());
  BOOST_TEST(a.free(first_gsi + 1).has_value());
  BOOST_TEST(!a.is_allocated(first_gsi + 1));
  BOOST_TEST(a.allocate().value() == first_gsi + 1);
  BOOST_TEST(a.allocate().value() == first_gsi + 3);
}

BOOST_AUTO_TEST_CASE(specific_id_is_taken_and_skipped_by_allocate) {
  auto a = make_gsis();
  BOOST_TEST(a.allocate(first_gsi + 1).value() == first_gsi + 1);
  BOOST_TEST(a.is_allocated(first_gsi + 1));
  BOOST_TEST(a.allocate().value() == first_gsi);
  BOOST_TEST(a.allocate().value() == first_gsi + 2);
}

BOOST_AUTO_TEST_CASE(every_id_can_be_allocated_then_the_range_is_exhausted) {
  auto a = make_gsis();
  for (std::uint32_t id = first_gsi; id <= last_gsi; ++id) {
    BOOST_TEST(a.allocate().value() == id);
  }
  BOOST_TEST(error_of(a.allocate()) == error(alloc::errc::ids_exhausted));
  BOOST_TEST(a.free(last_gsi).has_value());
  BOOST_TEST(a.allocate().value() == last_gsi);
}

BOOST_AUTO_TEST_CASE(range_may_span_the_whole_32_bit_space) {
  constexpr std::uint32_t max_id = std::numeric_limits<std::uint32_t>::max();
  auto a = alloc::id_allocator::create(0, max_id).value();
  BOOST_TEST(a.allocate(max_id).has_value());
  BOOST_TEST(a.allocate(0).has_value());
  BOOST_TEST(a.allocate().value() == 1U);
  BOOST_TEST(a.free(max_id).has_value());
  BOOST_TEST(a.free(0).has_value());
  BOOST_TEST(a.free(1).has_value());
  BOOST_TEST(a.allocated_count() == 0U);
  BOOST_TEST(a.allocate().value() == 0U);
}

BOOST_AUTO_TEST_CASE(single_id_range_allocates_once) {
  auto a = alloc::id_allocator::create(7, 7).value();
  BOOST_TEST(a.allocate().value() == 7U);
  BOOST_TEST(error_of(a.allocate()) == error(alloc::errc::ids_exhausted));
}

BOOST_AUTO_TEST_SUITE_END()
