// Where place_initrd puts an initrd, and load_initrd's copy.
#include <boost/test/unit_test.hpp>

#include "byte_printing.hpp"

import std;
import vmm.sys;
import vmm.memory;
import vmm.loader;
import vmm.testing;

#include "support.hpp"

using namespace loader_test;
using mem::guest_address;
using vmm::testing::describe;

namespace {

const mem::guest_range kernel_at_16m{.start = guest_address{0x1000000}, .size = 0x3400000};
constexpr std::uint64_t page = 4096;

}  // namespace

BOOST_AUTO_TEST_SUITE(initrd)

BOOST_AUTO_TEST_CASE(initrd_goes_to_the_top_of_memory_page_aligned) {
  const auto memory = memory_of(0, 256 * mib);
  const auto at = ld::place_initrd(memory, 10'000, 0x7fffffff, kernel_at_16m);
  BOOST_TEST_REQUIRE(at.has_value(), describe(at));
  // 256 MiB - 10000 rounded down to a page: 0x10000000 - 0x2710 = 0xfffd8f0 → 0xfffd000.
  BOOST_TEST(at->raw() == 0xfffd000U);
}

BOOST_AUTO_TEST_CASE(initrd_ends_at_or_below_initrd_addr_max) {
  const auto memory = memory_of(0, 256 * mib);
  const auto at = ld::place_initrd(memory, 2 * page, 0x5fffffe, kernel_at_16m);
  BOOST_TEST_REQUIRE(at.has_value(), describe(at));
  // The initrd must end at or below 0x5fffffe (inclusive limit): start <= 0x5ffffff - 0x2000, page-aligned.
  BOOST_TEST(at->raw() == 0x5ffd000U);
}

BOOST_AUTO_TEST_CASE(initrd_goes_below_the_kernel_when_above_is_full) {
  // Memory ends where the kernel's init_size ends: nothing above it.
  const auto memory = memory_of(0, 0x4400000);
  const auto at = ld::place_initrd(memory, 3 * mib, 0x7fffffff, kernel_at_16m);
  BOOST_TEST_REQUIRE(at.has_value(), describe(at));
  BOOST_TEST(at->raw() == 0x1000000U - (3 * mib));
}

BOOST_AUTO_TEST_CASE(initrd_stays_below_4g_when_memory_is_larger) {
  const std::array ranges{mem::guest_range{.start = guest_address{0}, .size = 64 * mib},
                          mem::guest_range{.start = guest_address{std::uint64_t{1} << 32U}, .size = 64 * mib}};
  auto memory = mem::guest_memory::anonymous(ranges);
  BOOST_TEST_REQUIRE(memory.has_value(), describe(memory));
  const auto at = ld::place_initrd(*memory, page, 0xffffffffffff, {.start = guest_address{0x100000}, .size = mib});
  BOOST_TEST_REQUIRE(at.has_value(), describe(at));
  BOOST_TEST(at->raw() == (64 * mib) - page);
}

BOOST_AUTO_TEST_CASE(highest_region_that_fits_is_chosen) {
  // Regions [0, 16M), [32M, 33M): a 2 MiB initrd fits only in the lower one.
  const std::array ranges{mem::guest_range{.start = guest_address{0}, .size = 16 * mib},
                          mem::guest_range{.start = guest_address{32 * mib}, .size = mib}};
  auto memory = mem::guest_memory::anonymous(ranges);
  BOOST_TEST_REQUIRE(memory.has_value(), describe(memory));
  const auto at = ld::place_initrd(*memory, 2 * mib, 0x7fffffff, {.start = guest_address{0x100000}, .size = mib});
  BOOST_TEST_REQUIRE(at.has_value(), describe(at));
  BOOST_TEST(at->raw() == 14 * mib);
}

BOOST_AUTO_TEST_CASE(load_initrd_copies_the_bytes) {
  const auto memory = memory_of(0, 16 * mib);
  std::vector<std::byte> initrd(3 * page + 17);
  for (std::size_t i = 0; i < initrd.size(); ++i) {
    initrd[i] = static_cast<std::byte>(i % 251);
  }
  const auto range = ld::load_initrd(memory, guest_address{8 * mib}, initrd);
  BOOST_TEST_REQUIRE(range.has_value(), describe(range));
  BOOST_TEST(range->start.raw() == 8 * mib);
  BOOST_TEST(range->size == initrd.size());
  BOOST_TEST(std::ranges::equal(guest_bytes(memory, 8 * mib, initrd.size()), initrd));
}

BOOST_AUTO_TEST_SUITE_END()
