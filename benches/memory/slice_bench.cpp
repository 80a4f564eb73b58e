// volatile_slice copies (rust-vmm vm-memory's volatile slice benches), each against the raw copy it wraps.
//
// Layout: one anonymous region of 64 KiB at guest address 0, every page written once in setup; the slices are taken
// once, before the timed loop. The plain buffers of the baselines are anonymous mappings too (the same kind of
// memory, page-aligned like the region), also faulted in up front.
// Cases (one iteration is one copy; bytes_per_second counts the bytes copied):
//   BM_memory_slice_copy_to_buffer            volatile_slice::copy_to(std::span) of a 1 KiB slice into a buffer.
//   BM_memory_baseline_slice_copy_to_buffer   std::memcpy of 1 KiB from one plain buffer to another.
//   BM_memory_slice_copy_from_buffer          volatile_slice::copy_from(std::span): 1 KiB from a buffer into a
//                                             writable slice.
//   BM_memory_baseline_slice_copy_from_buffer std::memcpy of 1 KiB, the other way.
//   BM_memory_slice_copy_to_slice             volatile_slice::copy_to(const volatile_slice&): 10 KiB between two
//                                             slices of the region (a memmove: the slices could overlap).
//   BM_memory_baseline_slice_copy_to_slice    std::memmove of 10 KiB inside one plain buffer.
#include <benchmark/benchmark.h>

import std;
import vmm.sys;
import vmm.memory;

namespace {

namespace mem = vmm::memory;

constexpr std::size_t region_bytes = 64 * 1024;
constexpr std::size_t small_copy = 1024;
constexpr std::size_t large_copy = 10 * 1024;
constexpr std::size_t second_half = region_bytes / 2;  // where the destination slices start

struct slice_layout {
  mem::guest_memory memory;
  mem::volatile_slice small_source;       // [0, 1 KiB), read
  mem::volatile_slice small_destination;  // [32 KiB, 33 KiB), write
  mem::volatile_slice large_source;       // [0, 10 KiB), read
  mem::volatile_slice large_destination;  // [32 KiB, 42 KiB), write
  vmm::sys::mapping buffer;               // the VMM's side of copy_to/copy_from
  vmm::sys::mapping plain;                // the baselines' stand-in for guest memory
};

auto make_layout() -> std::unique_ptr<slice_layout> {
  const std::array ranges{mem::guest_range{.start = mem::guest_address{0}, .size = region_bytes}};
  auto memory = mem::guest_memory::anonymous(ranges);
  if (!memory) {
    return nullptr;
  }
  auto l = std::make_unique<slice_layout>();
  l->memory = std::move(*memory);
  auto whole = l->memory.get_slice(mem::guest_address{0}, region_bytes, mem::access::write);
  auto small_source = l->memory.get_slice(mem::guest_address{0}, small_copy, mem::access::read);
  auto small_destination = l->memory.get_slice(mem::guest_address{second_half}, small_copy, mem::access::write);
  auto large_source = l->memory.get_slice(mem::guest_address{0}, large_copy, mem::access::read);
  auto large_destination = l->memory.get_slice(mem::guest_address{second_half}, large_copy, mem::access::write);
  const vmm::sys::map_options how{.prot = vmm::sys::protection::read_write};
  auto buffer = vmm::sys::mapping::anonymous(region_bytes, how);
  auto plain = vmm::sys::mapping::anonymous(region_bytes, how);
  if (!whole || !small_source || !small_destination || !large_source || !large_destination || !buffer || !plain) {
    return nullptr;
  }
  whole->fill(std::byte{0x5a});  // faults every page in
  std::memset(buffer->data(), 0x5a, buffer->size());
  std::memset(plain->data(), 0x5a, plain->size());
  l->small_source = *small_source;
  l->small_destination = *small_destination;
  l->large_source = *large_source;
  l->large_destination = *large_destination;
  l->buffer = std::move(*buffer);
  l->plain = std::move(*plain);
  return l;
}

auto get_layout(benchmark::State& state) -> slice_layout* {
  static const std::unique_ptr<slice_layout> layout = make_layout();
  if (layout == nullptr) {
    state.SkipWithError("cannot map the region or the buffers");
  }
  return layout.get();
}

void set_bytes(benchmark::State& state, std::size_t per_iteration) {
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(per_iteration));
}

void BM_memory_slice_copy_to_buffer(benchmark::State& state) {
  auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  const std::span<std::byte> out{l->buffer.data(), small_copy};
  for (auto _ : state) {
    auto n = l->small_source.copy_to(out);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  set_bytes(state, small_copy);
}
BENCHMARK(BM_memory_slice_copy_to_buffer);

void BM_memory_baseline_slice_copy_to_buffer(benchmark::State& state) {
  auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::byte* to = l->buffer.data();
  const std::byte* from = l->plain.data();
  for (auto _ : state) {
    benchmark::DoNotOptimize(to);
    benchmark::DoNotOptimize(from);
    std::memcpy(to, from, small_copy);
    benchmark::ClobberMemory();
  }
  set_bytes(state, small_copy);
}
BENCHMARK(BM_memory_baseline_slice_copy_to_buffer);

void BM_memory_slice_copy_from_buffer(benchmark::State& state) {
  auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  const std::span<const std::byte> in{l->buffer.data(), small_copy};
  for (auto _ : state) {
    auto n = l->small_destination.copy_from(in);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  set_bytes(state, small_copy);
}
BENCHMARK(BM_memory_slice_copy_from_buffer);

void BM_memory_baseline_slice_copy_from_buffer(benchmark::State& state) {
  auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::byte* to = l->plain.data() + second_half;
  const std::byte* from = l->buffer.data();
  for (auto _ : state) {
    benchmark::DoNotOptimize(to);
    benchmark::DoNotOptimize(from);
    std::memcpy(to, from, small_copy);
    benchmark::ClobberMemory();
  }
  set_bytes(state, small_copy);
}
BENCHMARK(BM_memory_baseline_slice_copy_from_buffer);

void BM_memory_slice_copy_to_slice(benchmark::State& state) {
  auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  for (auto _ : state) {
    auto n = l->large_source.copy_to(l->large_destination);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  set_bytes(state, large_copy);
}
BENCHMARK(BM_memory_slice_copy_to_slice);

void BM_memory_baseline_slice_copy_to_slice(benchmark::State& state) {
  auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::byte* to = l->plain.data() + second_half;
  const std::byte* from = l->plain.data();
  for (auto _ : state) {
    benchmark::DoNotOptimize(to);
    benchmark::DoNotOptimize(from);
    std::memmove(to, from, large_copy);
    benchmark::ClobberMemory();
  }
  set_bytes(state, large_copy);
}
BENCHMARK(BM_memory_baseline_slice_copy_to_slice);

}  // namespace
