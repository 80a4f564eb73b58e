// Region lookup: which of 256 regions holds a guest address.
//
// Layout: 256 anonymous regions of 1 MiB, each followed by a 1 MiB hole (starts at i * 2 MiB), so the lookup must
// check the end of the region too. The addresses are a precomputed pseudo-random sequence of 4096 addresses spread
// over all regions and over each region's whole MiB (fixed seed, the same in every run); every one of them is mapped.
// Cases (one iteration is one lookup):
//   BM_memory_find_region                   guest_memory::find_region over the sequence, the lookups independent of
//                                           one another (throughput, as a device model's accesses overlap). The
//                                           issue's target is 20 ns or less.
//   BM_memory_baseline_find_region          the raw floor: std::upper_bound over a plain sorted std::vector of the
//                                           256 starts, then the same containment check.
//   BM_memory_find_region_dependent         find_region where the next address depends on the result of this
//                                           lookup (latency: one lookup cannot start before the last one ended).
//   BM_memory_baseline_find_region_dependent std::upper_bound in the same dependent chain.
#include <benchmark/benchmark.h>

import std;
import vmm.sys;
import vmm.memory;

namespace {

namespace mem = vmm::memory;

constexpr std::uint64_t region_count = 256;
constexpr std::uint64_t region_size = std::uint64_t{1} << 20U;
constexpr std::uint64_t region_stride = 2 * region_size;
constexpr std::size_t address_count = 4096;  // a power of two
constexpr std::size_t address_mask = address_count - 1;

struct lookup_layout {
  mem::guest_memory memory;
  std::vector<std::uint64_t> starts;  // the baseline's sorted array
  std::array<mem::guest_address, address_count> addresses{};
};

auto make_layout() -> std::unique_ptr<lookup_layout> {
  auto l = std::make_unique<lookup_layout>();
  std::vector<mem::guest_range> ranges;
  for (std::uint64_t i = 0; i < region_count; ++i) {
    ranges.push_back({.start = mem::guest_address{i * region_stride}, .size = region_size});
    l->starts.push_back(i * region_stride);
  }
  auto memory = mem::guest_memory::anonymous(ranges);
  if (!memory) {
    return nullptr;
  }
  l->memory = std::move(*memory);
  std::mt19937_64 random{0x5eed'cafe'f00d'd00dULL};  // fixed seed: the same sequence every run
  for (auto& a : l->addresses) {
    const std::uint64_t r = random();
    a = mem::guest_address{(r % region_count) * region_stride + (r >> 32U) % region_size};
  }
  return l;
}

auto get_layout(benchmark::State& state) -> const lookup_layout* {
  static const std::unique_ptr<lookup_layout> layout = make_layout();
  if (layout == nullptr) {
    state.SkipWithError("cannot map 256 regions");
    return nullptr;
  }
  for (const auto a : layout->addresses) {
    if (layout->memory.find_region(a) == nullptr) {
      state.SkipWithError("an address of the sequence is not mapped");
      return nullptr;
    }
  }
  return layout.get();
}

/// The baseline's lookup: the index of the region containing `a`, or region_count.
auto raw_lookup(const std::vector<std::uint64_t>& starts, std::uint64_t a) -> std::size_t {
  const auto it = std::upper_bound(starts.begin(), starts.end(), a);
  if (it == starts.begin()) {
    return region_count;
  }
  const auto index = static_cast<std::size_t>(it - starts.begin()) - 1;
  return a - starts[index] < region_size ? index : region_count;
}

void BM_memory_find_region(benchmark::State& state) {
  const auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const auto* region = l->memory.find_region(l->addresses[i]);
    benchmark::DoNotOptimize(region);
    i = (i + 1) & address_mask;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_memory_find_region);

void BM_memory_baseline_find_region(benchmark::State& state) {
  const auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    auto index = raw_lookup(l->starts, l->addresses[i].raw());
    benchmark::DoNotOptimize(index);
    i = (i + 1) & address_mask;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_memory_baseline_find_region);

void BM_memory_find_region_dependent(benchmark::State& state) {
  const auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const auto* region = l->memory.find_region(l->addresses[i]);
    benchmark::DoNotOptimize(region);
    // The pointer's top bit is 0 (a user-space address) but the compiler cannot know: the next index waits for it.
    i = (i + 1 + static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(region) >> 63U)) &  // NOLINT
        address_mask;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_memory_find_region_dependent);

void BM_memory_baseline_find_region_dependent(benchmark::State& state) {
  const auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    auto index = raw_lookup(l->starts, l->addresses[i].raw());
    benchmark::DoNotOptimize(index);
    i = (i + 1 + (index >> 63U)) & address_mask;  // index < 257: adds 0, but only once the lookup is done
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_memory_baseline_find_region_dependent);

}  // namespace
