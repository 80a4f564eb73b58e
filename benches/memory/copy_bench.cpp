// Bulk copies between guest memory and a VMM buffer, each against std::memcpy of the same size between plain
// buffers. The target: from 4 KiB up, a copy runs at 0.95× memcpy's speed or better (time ratio to its
// baseline at most 1/0.95 ≈ 1.053).
//
// Layout: one anonymous region at guest address 0, as large as the largest size asked for so far in the process; the
// VMM's buffer and the baselines' stand-in for guest memory are anonymous mappings of the same size (the same kind of
// memory as the region, page-aligned like it). Everything is written once before timing, so no page faults are
// measured. The memory is made for the size a benchmark needs, so a process that measures one 4 KiB case (the PR
// gate runs one benchmark per process) never faults in 3 × 64 MiB.
// Cases, at 4 KiB, 64 KiB, 1 MiB, 16 MiB and 64 MiB (the /<bytes> suffix; one iteration is one copy of that many
// bytes; bytes_per_second counts them):
//   BM_memory_copy_guest_to_host/<bytes>           guest_memory::read_exact from the region into the buffer.
//   BM_memory_baseline_copy_guest_to_host/<bytes>  std::memcpy from the stand-in into the buffer.
//   BM_memory_copy_host_to_guest/<bytes>           guest_memory::write_all from the buffer into the region.
//   BM_memory_baseline_copy_host_to_guest/<bytes>  std::memcpy from the buffer into the stand-in.
// Up to 1 MiB the copies run from cache (this machine: 2 MiB L2 per core); 16 MiB and 64 MiB copies measure the
// memory hierarchy as much as the copy routine, on both sides alike.
#include <benchmark/benchmark.h>

import std;
import vmm.sys;
import vmm.memory;

namespace {

namespace mem = vmm::memory;

struct copy_layout {
  std::size_t capacity = 0;
  mem::guest_memory memory;
  vmm::sys::mapping buffer;  // the VMM's buffer
  vmm::sys::mapping plain;   // the baselines' stand-in for guest memory
};

auto make_layout(std::size_t capacity) -> std::unique_ptr<copy_layout> {
  const std::array ranges{mem::guest_range{.start = mem::guest_address{0}, .size = capacity}};
  auto memory = mem::guest_memory::anonymous(ranges);
  const vmm::sys::map_options how{.prot = vmm::sys::protection::read_write, .noreserve = true};
  auto buffer = vmm::sys::mapping::anonymous(capacity, how);
  auto plain = vmm::sys::mapping::anonymous(capacity, how);
  if (!memory || !buffer || !plain) {
    return nullptr;
  }
  auto l = std::make_unique<copy_layout>();
  l->capacity = capacity;
  l->memory = std::move(*memory);
  l->buffer = std::move(*buffer);
  l->plain = std::move(*plain);
  std::memset(l->memory.regions().front()->host_address(), 0x5a, capacity);  // faults every page in
  std::memset(l->buffer.data(), 0x5a, capacity);
  std::memset(l->plain.data(), 0x5a, capacity);
  return l;
}

/// The layout for copies of `bytes`, grown (made again) when a larger size is asked for.
auto get_layout(benchmark::State& state, std::size_t bytes) -> copy_layout* {
  static std::unique_ptr<copy_layout> layout;
  if (layout == nullptr || layout->capacity < bytes) {
    layout.reset();
    layout = make_layout(bytes);
  }
  if (layout == nullptr) {
    state.SkipWithError("cannot map the region or the buffers");
  }
  return layout.get();
}

auto size_of(const benchmark::State& state) -> std::size_t {
  return static_cast<std::size_t>(state.range(0));
}

void set_bytes(benchmark::State& state, std::size_t per_iteration) {
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(per_iteration));
}

void BM_memory_copy_guest_to_host(benchmark::State& state) {
  const auto bytes = size_of(state);
  auto* l = get_layout(state, bytes);
  if (l == nullptr) {
    return;
  }
  const std::span<std::byte> out{l->buffer.data(), bytes};
  for (auto _ : state) {
    auto r = l->memory.read_exact(mem::guest_address{0}, out);
    if (!r) [[unlikely]] {
      state.SkipWithError("read_exact failed");
      break;
    }
    benchmark::DoNotOptimize(r);  // a full compiler barrier: the copy into the buffer must have happened
    benchmark::ClobberMemory();
  }
  set_bytes(state, bytes);
}

void BM_memory_baseline_copy_guest_to_host(benchmark::State& state) {
  const auto bytes = size_of(state);
  auto* l = get_layout(state, bytes);
  if (l == nullptr) {
    return;
  }
  std::byte* to = l->buffer.data();
  const std::byte* from = l->plain.data();
  for (auto _ : state) {
    benchmark::DoNotOptimize(to);
    benchmark::DoNotOptimize(from);
    std::memcpy(to, from, bytes);
    benchmark::ClobberMemory();
  }
  set_bytes(state, bytes);
}

void BM_memory_copy_host_to_guest(benchmark::State& state) {
  const auto bytes = size_of(state);
  auto* l = get_layout(state, bytes);
  if (l == nullptr) {
    return;
  }
  const std::span<const std::byte> in{l->buffer.data(), bytes};
  for (auto _ : state) {
    auto r = l->memory.write_all(mem::guest_address{0}, in);
    if (!r) [[unlikely]] {
      state.SkipWithError("write_all failed");
      break;
    }
    benchmark::DoNotOptimize(r);
    benchmark::ClobberMemory();
  }
  set_bytes(state, bytes);
}

void BM_memory_baseline_copy_host_to_guest(benchmark::State& state) {
  const auto bytes = size_of(state);
  auto* l = get_layout(state, bytes);
  if (l == nullptr) {
    return;
  }
  std::byte* to = l->plain.data();
  const std::byte* from = l->buffer.data();
  for (auto _ : state) {
    benchmark::DoNotOptimize(to);
    benchmark::DoNotOptimize(from);
    std::memcpy(to, from, bytes);
    benchmark::ClobberMemory();
  }
  set_bytes(state, bytes);
}

void copy_sizes(benchmark::internal::Benchmark* b) {
  for (const std::int64_t bytes : {std::int64_t{4} << 10U, std::int64_t{64} << 10U, std::int64_t{1} << 20U,
                                   std::int64_t{16} << 20U, std::int64_t{64} << 20U}) {
    b->Arg(bytes);
  }
}

BENCHMARK(BM_memory_copy_guest_to_host)->Apply(copy_sizes);
BENCHMARK(BM_memory_baseline_copy_guest_to_host)->Apply(copy_sizes);
BENCHMARK(BM_memory_copy_host_to_guest)->Apply(copy_sizes);
BENCHMARK(BM_memory_baseline_copy_host_to_guest)->Apply(copy_sizes);

}  // namespace
