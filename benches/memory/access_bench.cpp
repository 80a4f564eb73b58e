// Guest memory accesses in rust-vmm vm-memory's bench layout, and one-object accesses against a raw load.
//
// Layout: 8 anonymous MAP_NORESERVE regions of 2 GiB each, back to back from guest address 0 (16 GiB of address
// space; guest_memory::anonymous). Every page a case touches is written once in setup, so no case measures a page
// fault. Each case below runs at four places, its name's suffix:
//   inside_0     at the start of region 0 (the fast path: one lookup, one copy);
//   across_0_1   straddling the boundary of regions 0 and 1, half the access in each (the slow path: the range is
//                checked region by region, then copied piece by piece);
//   across_6_7   straddling the boundary of regions 6 and 7 (the same, with the lookup at the far end of the array);
//   inside_7     at the start of region 7, the last region.
// Cases (one iteration is one call; 0x200-byte accesses unless said otherwise; bytes_per_second counts the bytes
// moved):
//   BM_memory_read/<place>              guest_memory::read of 0x200 bytes into a buffer (the partial form).
//   BM_memory_read_exact/<place>        read_exact of 0x200 bytes.
//   BM_memory_write/<place>             guest_memory::write of 0x200 bytes from a buffer (the partial form).
//   BM_memory_write_all/<place>         write_all of 0x200 bytes.
//   BM_memory_read_obj_small/<place>    read_obj of an 8-byte object (across a boundary: 4 bytes in each region).
//   BM_memory_read_obj_big/<place>      read_obj of a 96-byte object (48 bytes in each region across a boundary).
//   BM_memory_write_obj_small/<place>   write_obj of the 8-byte object.
//   BM_memory_write_obj_big/<place>     write_obj of the 96-byte object.
//   BM_memory_read_exact_from/<place>   read_exact_from /dev/zero into 0x200 bytes of guest memory (one readv, plus
//                                       building the scatter-gather list).
//   BM_memory_write_all_to/<place>      write_all_to /dev/null of 0x200 bytes (one writev, plus the list).
// One-object accesses at a fixed aligned address in the first region, each against its raw floor (read them as
// ratios: vmm-bench ratios), in two guests, the /regions:<n> suffix: regions:1 is a guest of one 2 GiB region (the
// common case: the lookup is one compare), regions:8 the 16 GiB layout above (a three-step binary search):
//   BM_memory_read_obj_u64/regions:<n>              read_obj<std::uint64_t>: lookup, bounds check and one 8-byte
//                                                   load. The target is 2 ns or less.
//   BM_memory_baseline_read_obj_u64/regions:<n>     the raw floor: one 8-byte load from the host pointer (the same
//                                                   for both n; measured twice so that each case has its partner).
//   BM_memory_load_u16_acquire/regions:<n>          load<std::uint16_t> with memory_order_acquire (a virtio ring
//                                                   index).
//   BM_memory_baseline_load_u16_acquire/regions:<n> the raw floor: std::atomic_ref<std::uint16_t>::load(acquire)
//                                                   on the host pointer.
// The result of every call is passed to benchmark::DoNotOptimize (whose "memory" clobber also makes each iteration
// reload what it needs), and every buffer a call filled is passed to it too, so no copy can be dropped as dead.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <unistd.h>

import std;
import vmm.sys;
import vmm.memory;

namespace {

namespace mem = vmm::memory;

constexpr std::uint64_t region_size = std::uint64_t{2} << 30U;
constexpr std::uint64_t region_count = 8;
constexpr std::size_t access_size = 0x200;

/// rust-vmm's "big" object: 96 bytes.
struct big_object {
  std::array<std::uint64_t, 12> words{};
};
static_assert(sizeof(big_object) == 96);

enum class place : std::uint8_t { inside_0, across_0_1, across_6_7, inside_7 };

constexpr std::array<std::pair<std::string_view, place>, 4> places{{{"inside_0", place::inside_0},
                                                                    {"across_0_1", place::across_0_1},
                                                                    {"across_6_7", place::across_6_7},
                                                                    {"inside_7", place::inside_7}}};

/// Where an access of `size` bytes at `where` starts: a straddling access has half its bytes on each side.
auto address_of(place where, std::size_t size) -> mem::guest_address {
  switch (where) {
    case place::inside_0:
      return mem::guest_address{0};
    case place::across_0_1:
      return mem::guest_address{region_size - size / 2};
    case place::across_6_7:
      return mem::guest_address{7 * region_size - size / 2};
    case place::inside_7:
      return mem::guest_address{7 * region_size};
  }
  return {};
}

/// The addresses of the one-object cases (inside region 0, naturally aligned).
constexpr mem::guest_address u64_address{0x1000};
constexpr mem::guest_address u16_address{0x1002};

/// The 16 GiB layout with every page the cases touch already faulted in, and the fds of the fd cases.
struct layout {
  mem::guest_memory memory;
  vmm::sys::unique_fd zero;  // /dev/zero
  vmm::sys::unique_fd null;  // /dev/null
};

auto make_layout() -> std::unique_ptr<layout> {
  std::vector<mem::guest_range> ranges;
  for (std::uint64_t i = 0; i < region_count; ++i) {
    ranges.push_back({.start = mem::guest_address{i * region_size}, .size = region_size});
  }
  auto memory = mem::guest_memory::anonymous(ranges);
  if (!memory) {
    return nullptr;
  }
  // Two pages on each side of every place: more than any case reaches (at most 0x200 bytes from the place).
  const std::array<std::byte, 0x4000> zeros{};
  for (const std::uint64_t around : {std::uint64_t{0}, region_size - 0x2000, 7 * region_size - 0x2000}) {
    if (!memory->write_all(mem::guest_address{around}, zeros)) {
      return nullptr;
    }
  }
  auto l = std::make_unique<layout>();
  l->memory = std::move(*memory);
  // SAFETY: open(2) of constant paths; the fds are owned by unique_fd right away.
  l->zero = vmm::sys::unique_fd{::open("/dev/zero", O_RDONLY | O_CLOEXEC)};
  l->null = vmm::sys::unique_fd{::open("/dev/null", O_WRONLY | O_CLOEXEC)};
  if (!l->zero.valid() || !l->null.valid()) {
    return nullptr;
  }
  return l;
}

/// The layout, made once per process (every benchmark of this file shares it).
auto the_layout() -> const layout* {
  static const std::unique_ptr<layout> l = make_layout();
  return l.get();
}

auto get_layout(benchmark::State& state) -> const layout* {
  const auto* l = the_layout();
  if (l == nullptr) {
    state.SkipWithError("cannot map the 16 GiB layout or open /dev/zero and /dev/null");
  }
  return l;
}

void set_bytes(benchmark::State& state, std::size_t per_iteration) {
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(per_iteration));
}

void bm_read(benchmark::State& state, place where) {
  const auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::array<std::byte, access_size> buffer{};
  const auto at = address_of(where, access_size);
  if (auto n = l->memory.read(at, buffer); !n || *n != access_size) {
    state.SkipWithError("read did not read the whole access");
    return;
  }
  for (auto _ : state) {
    auto n = l->memory.read(at, buffer);
    benchmark::DoNotOptimize(n);
    benchmark::DoNotOptimize(buffer);
  }
  set_bytes(state, access_size);
}

void bm_read_exact(benchmark::State& state, place where) {
  const auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::array<std::byte, access_size> buffer{};
  const auto at = address_of(where, access_size);
  if (!l->memory.read_exact(at, buffer)) {
    state.SkipWithError("read_exact failed");
    return;
  }
  for (auto _ : state) {
    auto r = l->memory.read_exact(at, buffer);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(buffer);
  }
  set_bytes(state, access_size);
}

void bm_write(benchmark::State& state, place where) {
  const auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::array<std::byte, access_size> buffer{};
  buffer.fill(std::byte{0x5a});
  const auto at = address_of(where, access_size);
  if (auto n = l->memory.write(at, buffer); !n || *n != access_size) {
    state.SkipWithError("write did not write the whole access");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(buffer);  // the source is unknown each time: the copy cannot be hoisted
    auto n = l->memory.write(at, buffer);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  set_bytes(state, access_size);
}

void bm_write_all(benchmark::State& state, place where) {
  const auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::array<std::byte, access_size> buffer{};
  buffer.fill(std::byte{0x5a});
  const auto at = address_of(where, access_size);
  if (!l->memory.write_all(at, buffer)) {
    state.SkipWithError("write_all failed");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(buffer);
    auto r = l->memory.write_all(at, buffer);
    benchmark::DoNotOptimize(r);
    benchmark::ClobberMemory();
  }
  set_bytes(state, access_size);
}

template <class T>
void bm_read_obj(benchmark::State& state, place where) {
  const auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  const auto at = address_of(where, sizeof(T));
  for (auto _ : state) {
    auto v = l->memory.read_obj<T>(at);
    if (!v) [[unlikely]] {
      state.SkipWithError("read_obj failed");
      break;
    }
    benchmark::DoNotOptimize(*v);
  }
  set_bytes(state, sizeof(T));
}

template <class T>
void bm_write_obj(benchmark::State& state, place where) {
  const auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  const auto at = address_of(where, sizeof(T));
  T value{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(value);
    auto r = l->memory.write_obj(at, value);
    if (!r) [[unlikely]] {
      state.SkipWithError("write_obj failed");
      break;
    }
    benchmark::ClobberMemory();
  }
  set_bytes(state, sizeof(T));
}

void bm_read_exact_from(benchmark::State& state, place where) {
  const auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  const auto at = address_of(where, access_size);
  for (auto _ : state) {
    auto r = l->memory.read_exact_from(at, l->zero, access_size);
    if (!r) [[unlikely]] {
      state.SkipWithError("read_exact_from /dev/zero failed");
      break;
    }
    benchmark::ClobberMemory();
  }
  set_bytes(state, access_size);
}

void bm_write_all_to(benchmark::State& state, place where) {
  const auto* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  const auto at = address_of(where, access_size);
  for (auto _ : state) {
    auto r = l->memory.write_all_to(at, l->null, access_size);
    if (!r) [[unlikely]] {
      state.SkipWithError("write_all_to /dev/null failed");
      break;
    }
    benchmark::ClobberMemory();
  }
  set_bytes(state, access_size);
}

/// Registers BM_memory_<op>/<place> for every op and place.
[[maybe_unused]] const bool registered = [] {
  using case_fn = void (*)(benchmark::State&, place);
  const std::array<std::pair<std::string_view, case_fn>, 10> ops{{
      {"read", bm_read},
      {"read_exact", bm_read_exact},
      {"write", bm_write},
      {"write_all", bm_write_all},
      {"read_obj_small", bm_read_obj<std::uint64_t>},
      {"read_obj_big", bm_read_obj<big_object>},
      {"write_obj_small", bm_write_obj<std::uint64_t>},
      {"write_obj_big", bm_write_obj<big_object>},
      {"read_exact_from", bm_read_exact_from},
      {"write_all_to", bm_write_all_to},
  }};
  for (const auto& [op, fn] : ops) {
    for (const auto& [suffix, where] : places) {
      const auto name = std::format("BM_memory_{}/{}", op, suffix);
      benchmark::RegisterBenchmark(name.c_str(), [fn, where](benchmark::State& state) { fn(state, where); });
    }
  }
  return true;
}();

/// A guest of one 2 GiB region at 0, the pages of the one-object cases faulted in.
auto make_one_region() -> std::unique_ptr<mem::guest_memory> {
  const std::array ranges{mem::guest_range{.start = mem::guest_address{0}, .size = region_size}};
  auto memory = mem::guest_memory::anonymous(ranges);
  const std::array<std::byte, 0x2000> zeros{};
  if (!memory || !memory->write_all(mem::guest_address{0}, zeros)) {
    return nullptr;
  }
  return std::make_unique<mem::guest_memory>(std::move(*memory));
}

/// The guest of the one-object cases: one region or the 16 GiB layout, as state.range(0) says.
auto object_guest(benchmark::State& state) -> const mem::guest_memory* {
  if (state.range(0) == 1) {
    static const std::unique_ptr<mem::guest_memory> one = make_one_region();
    if (one == nullptr) {
      state.SkipWithError("cannot map the one-region guest");
    }
    return one.get();
  }
  const auto* l = get_layout(state);
  return l != nullptr ? &l->memory : nullptr;
}

void object_guests(benchmark::internal::Benchmark* b) {
  b->ArgName("regions")->Arg(1)->Arg(region_count);
}

void BM_memory_read_obj_u64(benchmark::State& state) {
  const auto* memory = object_guest(state);
  if (memory == nullptr) {
    return;
  }
  for (auto _ : state) {
    auto v = memory->read_obj<std::uint64_t>(u64_address);
    if (!v) [[unlikely]] {
      state.SkipWithError("read_obj failed");
      break;
    }
    benchmark::DoNotOptimize(*v);
  }
}
BENCHMARK(BM_memory_read_obj_u64)->Apply(object_guests);

/// The host address of guest address `at` in `memory` (the raw cases' pointer).
auto host_of(const mem::guest_memory& memory, mem::guest_address at) -> std::byte* {
  const auto* region = memory.find_region(at);
  return region->host_address() + (at.raw() - region->start().raw());
}

void BM_memory_baseline_read_obj_u64(benchmark::State& state) {
  const auto* memory = object_guest(state);
  if (memory == nullptr) {
    return;
  }
  const std::byte* host = host_of(*memory, u64_address);
  for (auto _ : state) {
    std::uint64_t v = 0;
    std::memcpy(&v, host, sizeof v);  // one 8-byte load
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_memory_baseline_read_obj_u64)->Apply(object_guests);

void BM_memory_load_u16_acquire(benchmark::State& state) {
  const auto* memory = object_guest(state);
  if (memory == nullptr) {
    return;
  }
  for (auto _ : state) {
    auto v = memory->load<std::uint16_t>(u16_address, std::memory_order_acquire);
    if (!v) [[unlikely]] {
      state.SkipWithError("load failed");
      break;
    }
    benchmark::DoNotOptimize(*v);
  }
}
BENCHMARK(BM_memory_load_u16_acquire)->Apply(object_guests);

void BM_memory_baseline_load_u16_acquire(benchmark::State& state) {
  const auto* memory = object_guest(state);
  if (memory == nullptr) {
    return;
  }
  // SAFETY: the address is 2-byte aligned inside a live, writable mapping of the guest.
  auto* host = reinterpret_cast<std::uint16_t*>(host_of(*memory, u16_address));  // NOLINT(*-reinterpret-cast)
  for (auto _ : state) {
    const std::uint16_t v = std::atomic_ref<std::uint16_t>{*host}.load(std::memory_order_acquire);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_memory_baseline_load_u16_acquire)->Apply(object_guests);

}  // namespace
