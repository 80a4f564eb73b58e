// atomic_guest_memory: the current snapshot swapped on hot-plug; old snapshots (and their regions) stay valid for
// whoever holds them; update() builds the next snapshot under the writer lock; readers on other threads keep reading
// while a writer swaps maps. Every thread loop is bounded by an iteration count.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.memory;
import vmm.testing;

namespace mem = vmm::memory;
using mem::guest_address;
using mem::guest_region;
using vmm::testing::error_of;

namespace {

const std::uint64_t page = vmm::sys::page_size();

// Written at the start of every region the cases make, so a reader can tell a live region from freed memory.
constexpr std::uint64_t marker = 0x5eed'cafe'f00d'0001;

auto region_with_marker(std::uint64_t start, std::uint64_t size = page) -> std::shared_ptr<const guest_region> {
  auto made = guest_region::anonymous(guest_address{start}, size);
  BOOST_TEST_REQUIRE(made.has_value(), vmm::testing::describe(made));
  std::memcpy((*made)->host_address(), &marker, sizeof marker);
  return std::move(*made);
}

// region_with_marker and a one-region memory of it for the worker threads, which must not use Boost.Test's macros
// (they are not thread-safe): the error instead.
auto try_region_with_marker(std::uint64_t start) -> vmm::result<std::shared_ptr<const guest_region>> {
  auto made = guest_region::anonymous(guest_address{start}, page);
  if (!made) {
    return std::unexpected(made.error());
  }
  std::memcpy((*made)->host_address(), &marker, sizeof marker);
  return std::move(*made);
}

auto try_memory_with_marker(std::uint64_t start) -> vmm::result<mem::guest_memory> {
  return try_region_with_marker(start).and_then(
      [](std::shared_ptr<const guest_region> r) { return mem::guest_memory::create({std::move(r)}); });
}

auto memory_of(std::vector<std::shared_ptr<const guest_region>> regions) -> mem::guest_memory {
  auto memory = mem::guest_memory::create(std::move(regions));
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  return std::move(*memory);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_atomic)

BOOST_AUTO_TEST_CASE(default_holder_has_an_empty_snapshot_and_generation_zero) {
  const mem::atomic_guest_memory holder;
  const auto snapshot = holder.memory();
  BOOST_TEST_REQUIRE(snapshot != nullptr);
  BOOST_TEST(snapshot->region_count() == 0U);
  BOOST_TEST(holder.generation() == 0U);
}

BOOST_AUTO_TEST_CASE(holder_serves_its_initial_snapshot) {
  const mem::atomic_guest_memory holder{memory_of({region_with_marker(0)})};
  BOOST_TEST(holder.memory()->region_count() == 1U);
  BOOST_TEST(holder.memory()->read_obj<std::uint64_t>(guest_address{0}).value() == marker);
}

BOOST_AUTO_TEST_CASE(readers_of_one_generation_share_one_snapshot) {
  const mem::atomic_guest_memory holder{memory_of({region_with_marker(0)})};
  BOOST_TEST(holder.memory() == holder.memory());
}

BOOST_AUTO_TEST_CASE(replace_publishes_the_next_snapshot_and_returns_the_previous_one) {
  mem::atomic_guest_memory holder{memory_of({region_with_marker(0)})};
  const auto first = holder.memory();
  const auto previous = holder.replace(memory_of({region_with_marker(0x100000)}));
  BOOST_TEST(previous == first);
  BOOST_TEST(holder.memory()->find_region(guest_address{0}) == nullptr);
  BOOST_TEST(holder.memory()->find_region(guest_address{0x100000}) != nullptr);
  BOOST_TEST(holder.generation() == 1U);
}

BOOST_AUTO_TEST_CASE(snapshot_taken_before_replace_keeps_its_regions_alive) {
  mem::atomic_guest_memory holder{memory_of({region_with_marker(0)})};  // only the snapshot holds the region
  const auto old = holder.memory();
  static_cast<void>(holder.replace({}));
  BOOST_TEST(holder.memory()->region_count() == 0U);
  BOOST_TEST(old->read_obj<std::uint64_t>(guest_address{0}).value() == marker);
  BOOST_TEST(old->write_obj<std::uint64_t>(guest_address{8}, 1).has_value());
}

BOOST_AUTO_TEST_CASE(update_with_insert_hot_plugs_a_region) {
  mem::atomic_guest_memory holder{memory_of({region_with_marker(0)})};
  const auto before = holder.memory();
  const auto added = region_with_marker(0x100000, 2 * page);
  const auto plugged = holder.update([&](const mem::guest_memory& current) { return current.insert(added); });
  BOOST_TEST_REQUIRE(plugged.has_value(), vmm::testing::describe(plugged));
  BOOST_TEST(holder.memory()->region_count() == 2U);
  BOOST_TEST(holder.memory()->read_obj<std::uint64_t>(guest_address{0x100000}).value() == marker);
  BOOST_TEST(before->region_count() == 1U);
  BOOST_TEST(holder.generation() == 1U);
}

BOOST_AUTO_TEST_CASE(update_with_remove_hot_unplugs_a_region) {
  mem::atomic_guest_memory holder{memory_of({region_with_marker(0), region_with_marker(0x100000)})};
  std::shared_ptr<const guest_region> unplugged;
  const auto done = holder.update([&](const mem::guest_memory& current) -> vmm::result<mem::guest_memory> {
    auto removal = current.remove(guest_address{0x100000}, page);
    if (!removal) {
      return std::unexpected(removal.error());
    }
    unplugged = std::move(removal->region);
    return std::move(removal->memory);
  });
  BOOST_TEST_REQUIRE(done.has_value(), vmm::testing::describe(done));
  BOOST_TEST(holder.memory()->region_count() == 1U);
  BOOST_TEST(holder.memory()->find_region(guest_address{0x100000}) == nullptr);
  BOOST_TEST_REQUIRE(unplugged != nullptr);
  BOOST_TEST(unplugged->start().raw() == 0x100000U);
}

BOOST_AUTO_TEST_CASE(failed_update_publishes_nothing) {
  mem::atomic_guest_memory holder{memory_of({region_with_marker(0)})};
  const auto before = holder.memory();
  const auto overlapping = region_with_marker(0);
  const auto refused = holder.update([&](const mem::guest_memory& current) { return current.insert(overlapping); });
  BOOST_TEST(error_of(refused) == make_error_code(mem::errc::overlapping_regions));
  BOOST_TEST(holder.memory() == before);
  BOOST_TEST(holder.generation() == 0U);
}

BOOST_AUTO_TEST_CASE(readers_keep_reading_while_a_writer_swaps_maps) {
  // Four readers take the current snapshot and read the marker from its one region; the writer replaces the map
  // (with a new region each time) 300 times. A reader that got a snapshot whose region was already unmapped would
  // fault or read something else.
  constexpr int readers = 4;
  constexpr int reads_per_reader = 20'000;
  constexpr int swaps = 300;
  mem::atomic_guest_memory holder{memory_of({region_with_marker(0)})};
  std::atomic<int> wrong_reads{0};
  std::atomic<int> failed_swaps{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&] {
      for (int i = 0; i < reads_per_reader; ++i) {
        const auto snapshot = holder.memory();
        const auto* region = snapshot->regions()[0].get();
        const auto value = snapshot->read_obj<std::uint64_t>(region->start());
        if (!value || *value != marker) {
          wrong_reads.fetch_add(1);
        }
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < swaps; ++i) {
      auto next = try_memory_with_marker(static_cast<std::uint64_t>(i % 2) * 0x100000);
      if (!next) {
        failed_swaps.fetch_add(1);
        continue;
      }
      static_cast<void>(holder.replace(std::move(*next)));
    }
  });
  for (auto& thread : threads) {
    thread.join();
  }
  BOOST_TEST(wrong_reads.load() == 0);
  BOOST_TEST(failed_swaps.load() == 0);
  BOOST_TEST(holder.generation() == static_cast<std::uint64_t>(swaps));
}

BOOST_AUTO_TEST_CASE(concurrent_updates_never_lose_one_another) {
  // Two writers each hot-plug 50 regions of their own; readers meanwhile take snapshots. Every region ends up in the
  // final snapshot.
  constexpr std::uint64_t per_writer = 50;
  mem::atomic_guest_memory holder;
  std::atomic<int> failed_updates{0};
  std::vector<std::thread> threads;
  for (std::uint64_t w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (std::uint64_t i = 0; i < per_writer; ++i) {
        const auto added = try_region_with_marker(((2 * i) + w) * page);
        if (!added || !holder.update([&](const mem::guest_memory& current) { return current.insert(*added); })) {
          failed_updates.fetch_add(1);
        }
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 2000; ++i) {
      static_cast<void>(holder.memory()->total_size());
    }
  });
  for (auto& thread : threads) {
    thread.join();
  }
  BOOST_TEST(failed_updates.load() == 0);
  BOOST_TEST(holder.memory()->region_count() == 2 * per_writer);
  BOOST_TEST(holder.memory()->contains_range(guest_address{0}, 2 * per_writer * page));
  BOOST_TEST(holder.generation() == 2 * per_writer);
}

BOOST_AUTO_TEST_SUITE_END()
