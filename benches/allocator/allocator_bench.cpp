// Allocation and freeing with many live allocations, against the raw sorted containers.
//
// Cases (one iteration is one allocation and one free of it):
//   BM_allocator_allocate_free/N          address_allocator with N live 4 KiB allocations packed from the bottom of
//                                         a 1 TiB pool (so the maps hold N entries), first-fit allocate of 4 KiB at
//                                         4 KiB alignment and free of that range (split, then coalesce).
//   BM_allocator_baseline_map/N           the raw floor: std::map<base, last> with N entries, insert + erase of one
//                                         entry (what the allocated map alone costs).
//   BM_allocator_allocate_free_fragmented/N  the same pool with N free 4 KiB holes below the tail (every other
//                                         allocation freed) and an 8 KiB request, which no hole fits: first-fit walks
//                                         all N holes (the cost its linear scan has, documented in docs/allocator.md).
//   BM_allocator_id_allocate_free/N       id_allocator with N live ids, allocate() (lowest free) + free.
//   BM_allocator_baseline_id_set/N        std::set<std::uint32_t> with N entries, insert + erase of one id.
#include <benchmark/benchmark.h>

import std;
import vmm.sys;
import vmm.allocator;

namespace {

namespace alloc = vmm::allocator;

constexpr std::uint64_t page = 0x1000;
constexpr std::uint64_t pool_base = std::uint64_t{1} << 32U;
constexpr std::uint64_t pool_size = std::uint64_t{1} << 40U;

void BM_allocator_allocate_free(benchmark::State& state) {
  auto a = alloc::address_allocator::create(pool_base, pool_size).value();
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    if (!a.allocate(page, page)) {
      state.SkipWithError("setup allocation failed");
      return;
    }
  }
  for (auto _ : state) {
    auto r = a.allocate(page, page);
    benchmark::DoNotOptimize(r);
    if (!r || !a.free(*r)) {
      state.SkipWithError("allocate or free failed");
      break;
    }
  }
}
BENCHMARK(BM_allocator_allocate_free)->Arg(16)->Arg(1024)->Arg(65536);

void BM_allocator_baseline_map(benchmark::State& state) {
  std::map<std::uint64_t, std::uint64_t> live;
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    live.emplace(pool_base + (static_cast<std::uint64_t>(i) * page), 0);
  }
  const std::uint64_t next = pool_base + (static_cast<std::uint64_t>(state.range(0)) * page);
  for (auto _ : state) {
    auto [at, inserted] = live.emplace(next, next + page - 1);
    benchmark::DoNotOptimize(at);
    live.erase(at);
  }
}
BENCHMARK(BM_allocator_baseline_map)->Arg(16)->Arg(1024)->Arg(65536);

void BM_allocator_allocate_free_fragmented(benchmark::State& state) {
  auto a = alloc::address_allocator::create(pool_base, pool_size).value();
  std::vector<alloc::address_range> ranges;
  for (std::int64_t i = 0; i < 2 * state.range(0); ++i) {
    auto r = a.allocate(page, page);
    if (!r) {
      state.SkipWithError("setup allocation failed");
      return;
    }
    ranges.push_back(*r);
  }
  for (std::size_t i = 0; i < ranges.size(); i += 2) {
    if (!a.free(ranges[i])) {
      state.SkipWithError("setup free failed");
      return;
    }
  }
  for (auto _ : state) {
    auto r = a.allocate(2 * page, page);
    benchmark::DoNotOptimize(r);
    if (!r || !a.free(*r)) {
      state.SkipWithError("allocate or free failed");
      break;
    }
  }
}
BENCHMARK(BM_allocator_allocate_free_fragmented)->Arg(16)->Arg(1024);

void BM_allocator_id_allocate_free(benchmark::State& state) {
  auto ids = alloc::id_allocator::create(0, std::numeric_limits<std::uint32_t>::max()).value();
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    if (!ids.allocate()) {
      state.SkipWithError("setup allocation failed");
      return;
    }
  }
  for (auto _ : state) {
    auto id = ids.allocate();
    benchmark::DoNotOptimize(id);
    if (!id || !ids.free(*id)) {
      state.SkipWithError("allocate or free failed");
      break;
    }
  }
}
BENCHMARK(BM_allocator_id_allocate_free)->Arg(16)->Arg(1024)->Arg(65536);

void BM_allocator_baseline_id_set(benchmark::State& state) {
  std::set<std::uint32_t> live;
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    live.insert(static_cast<std::uint32_t>(i));
  }
  const auto next = static_cast<std::uint32_t>(state.range(0));
  for (auto _ : state) {
    auto [at, inserted] = live.insert(next);
    benchmark::DoNotOptimize(at);
    live.erase(at);
  }
}
BENCHMARK(BM_allocator_baseline_id_set)->Arg(16)->Arg(1024)->Arg(65536);

}  // namespace
