// vmm::allocator::address_range: construction, containment, formatting; the error category.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.allocator;
import vmm.testing;

namespace alloc = vmm::allocator;
using vmm::testing::describe;
using vmm::testing::error_of;

namespace {

constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();

auto error(alloc::errc e) -> std::error_code {
  return make_error_code(e);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(range)

BOOST_AUTO_TEST_CASE(make_keeps_base_and_size_and_last_is_inclusive) {
  const auto r = alloc::address_range::make(0x1000, 0x1000);
  BOOST_TEST_REQUIRE(r.has_value(), describe(r));
  BOOST_TEST(r->base == 0x1000U);
  BOOST_TEST(r->last() == 0x1fffU);
  BOOST_TEST(std::format("{}", *r) == "[0x1000, 0x2000)");
}

BOOST_AUTO_TEST_CASE(inclusive_range_has_the_matching_size) {
  const auto r = alloc::address_range::inclusive(0x10, 0x1f);
  BOOST_TEST_REQUIRE(r.has_value(), describe(r));
  BOOST_TEST(r->size == 0x10U);
  const auto top = alloc::address_range::inclusive(1, max_u64);
  BOOST_TEST_REQUIRE(top.has_value(), describe(top));
  BOOST_TEST(top->size == max_u64);
  BOOST_TEST(std::format("{}", *top) == "[0x1, 0x10000000000000000)");
}

BOOST_AUTO_TEST_CASE(bad_ranges_are_rejected_with_the_exact_error) {
  BOOST_TEST(error_of(alloc::address_range::make(0, 0)) == error(alloc::errc::zero_size));
  BOOST_TEST(error_of(alloc::address_range::make(max_u64, 2)) == error(alloc::errc::range_overflow));
  BOOST_TEST(error_of(alloc::address_range::inclusive(2, 1)) == error(alloc::errc::zero_size));
  BOOST_TEST(error_of(alloc::address_range::inclusive(0, max_u64)) == error(alloc::errc::range_overflow));
}

BOOST_AUTO_TEST_CASE(contains_and_overlaps_check_both_ends) {
  const alloc::address_range r{.base = 0x10, .size = 0x10};
  BOOST_TEST(r.contains(0x10U));
  BOOST_TEST(r.contains(0x1fU));
  BOOST_TEST(!r.contains(0x20U));
  BOOST_TEST(!r.contains(0xfU));
  BOOST_TEST(r.contains(alloc::address_range{.base = 0x18, .size = 8}));
  BOOST_TEST(!r.contains(alloc::address_range{.base = 0x18, .size = 9}));
  BOOST_TEST(r.overlaps({.base = 0x1f, .size = 1}));
  BOOST_TEST(!r.overlaps({.base = 0x20, .size = 1}));
  BOOST_TEST(!r.overlaps({.base = 0x0, .size = 0x10}));
}

BOOST_AUTO_TEST_CASE(power_of_two_check_rejects_zero_and_non_powers) {
  BOOST_TEST(alloc::is_power_of_two(1));
  BOOST_TEST(alloc::is_power_of_two(std::uint64_t{1} << 63U));
  BOOST_TEST(!alloc::is_power_of_two(0));
  BOOST_TEST(!alloc::is_power_of_two(3));
}

BOOST_AUTO_TEST_CASE(category_is_named_after_the_module_and_messages_differ) {
  BOOST_TEST(std::string{alloc::allocator_category().name()} == "vmm.allocator");
  std::set<std::string> messages;
  const int count = static_cast<int>(alloc::errc::id_not_allocated);
  for (int e = 1; e <= count; ++e) {
    messages.insert(make_error_code(static_cast<alloc::errc>(e)).message());
  }
  BOOST_TEST(messages.size() == static_cast<std::size_t>(count));
  BOOST_TEST(alloc::allocator_category().message(250).find("250") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
