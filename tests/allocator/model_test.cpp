// Randomized model tests: a few thousand random operations (fixed seed, the same every run) on each allocator and
// on a brute-force model (allocator_model), checking after every operation that both returned the same result or
// exact error and that the real allocator's whole state (allocated ranges, coalesced free ranges, counts, lookups)
// matches the model's.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.allocator;
import allocator_model;

namespace alloc = vmm::allocator;
using allocator_model::same;

namespace {

constexpr int operations = 4000;
constexpr std::uint64_t pool_size = 1024;

/// Sizes mostly small, sometimes 0, sometimes larger than the pool.
auto random_size(std::mt19937_64& random) -> std::uint64_t {
  switch (random() % 8) {
    case 0:
      return 0;
    case 1:
      return pool_size + (random() % 4);
    case 2:
      return 1 + (random() % 256);
    default:
      return 1 + (random() % 24);
  }
}

/// Powers of two up to 256, sometimes 2^63 (overflows near the top), sometimes not a power of two.
auto random_alignment(std::mt19937_64& random) -> std::uint64_t {
  switch (random() % 16) {
    case 0:
      return std::uint64_t{1} << 63U;
    case 1:
      return 3 + (2 * (random() % 8));  // odd and above 1: never a power of two
    case 2:
      return 0;
    default:
      return std::uint64_t{1} << (random() % 9);
  }
}

void run_address_model(std::uint64_t base, std::uint64_t seed) {
  auto real = alloc::address_allocator::create(base, pool_size).value();
  allocator_model::address_model model{base, pool_size};
  std::mt19937_64 random{seed};
  for (int op = 0; op < operations; ++op) {
    BOOST_TEST_CONTEXT("operation " << op) {
      switch (random() % 4) {
        case 0: {
          const auto size = random_size(random);
          const auto alignment = random_alignment(random);
          const auto policy =
              (random() % 2) == 0 ? alloc::allocation_policy::first_fit : alloc::allocation_policy::last_fit;
          BOOST_TEST_REQUIRE(same(real.allocate(size, alignment, policy), model.allocate(size, alignment, policy)));
          break;
        }
        case 1: {
          // Anywhere from below the pool to beyond its end (wrapping at 2^64 for a pool at the top).
          const std::uint64_t at = base + (random() % (pool_size + 64)) - 32;
          const auto size = random_size(random);
          BOOST_TEST_REQUIRE(same(real.allocate_at(at, size), model.allocate_at(at, size)));
          break;
        }
        default: {
          // Mostly an allocated range; sometimes a part of one, one byte longer, or a range never allocated.
          auto range = model.some_allocation(random()).value_or(alloc::address_range{.base = base, .size = 1});
          switch (random() % 6) {
            case 0:
              range.size = range.size > 1 ? range.size - 1 : 1;
              break;
            case 1:
              ++range.size;
              break;
            case 2:
              range.base += 1;
              break;
            default:
              break;
          }
          BOOST_TEST_REQUIRE(same(real.free(range), model.free(range)));
          break;
        }
      }
      BOOST_TEST_REQUIRE(model.check(real) == "");
    }
  }
}

void run_id_model(std::uint32_t first, std::uint32_t count, std::uint64_t seed) {
  auto real = alloc::id_allocator::create(first, first + count - 1).value();
  allocator_model::id_model model{first, count};
  std::mt19937_64 random{seed};
  for (int op = 0; op < operations; ++op) {
    BOOST_TEST_CONTEXT("operation " << op) {
      // Ids from a little below to a little above the range.
      const auto id = static_cast<std::uint32_t>(first + (random() % (count + 8)) - std::min<std::uint32_t>(first, 4));
      switch (random() % 3) {
        case 0:
          BOOST_TEST_REQUIRE(same(real.allocate(), model.allocate()));
          break;
        case 1:
          BOOST_TEST_REQUIRE(same(real.allocate(id), model.allocate(id)));
          break;
        default:
          BOOST_TEST_REQUIRE(same(real.free(id), model.free(id)));
          break;
      }
      BOOST_TEST_REQUIRE(model.check(real) == "");
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(model)

BOOST_AUTO_TEST_CASE(address_allocator_matches_model_in_a_low_pool) {
  run_address_model(0x1000, 0x5eed'0001);
}

BOOST_AUTO_TEST_CASE(address_allocator_matches_model_in_a_pool_ending_at_2_pow_64) {
  run_address_model(std::numeric_limits<std::uint64_t>::max() - pool_size + 1, 0x5eed'0002);
}

BOOST_AUTO_TEST_CASE(address_allocator_matches_model_in_an_unaligned_pool) {
  run_address_model(0x1003, 0x5eed'0003);
}

BOOST_AUTO_TEST_CASE(id_allocator_matches_model) {
  run_id_model(5, 64, 0x5eed'0004);
}

BOOST_AUTO_TEST_CASE(id_allocator_matches_model_at_top_of_32_bit_space) {
  run_id_model(std::numeric_limits<std::uint32_t>::max() - 63, 64, 0x5eed'0005);
}

BOOST_AUTO_TEST_SUITE_END()
