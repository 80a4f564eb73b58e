// The descriptor chain walk of vmm.virtio.queue, per descriptor, against a raw walk over the same guest memory.
//
// Layout: one 2 MiB anonymous region at guest address 0; a queue of 256 descriptors (descriptor table or packed
// ring at 0x1000, available ring / driver event at 0x2000, used ring / device event at 0x3000); a chain of n
// descriptors, each naming its own 512-byte buffer from 0x10000, the first half device-readable, the rest
// device-writable (n = 1, 4, 16, 64: the /<n> suffix). One iteration is one request: the driver's part (split: one
// release store of the available index, the ring pre-filled with the chain's head; packed: rewriting the chain's
// head descriptor with the current wrap counter's flags), then the device's. Counters: time_per_descriptor (CPU time
// of an iteration divided by n) and items_per_second (descriptors).
// Cases:
//   BM_virtio_queue_split_pop_add_used/<n>         split_queue::pop (every check on: avail index distance, head
//                                                  range, in-flight bitmap, next range, chain length, direction,
//                                                  every buffer inside guest memory) + add_used.
//   BM_virtio_queue_split_indirect_pop_add_used/<n> the same chain as one indirect table (INDIRECT_DESC).
//   BM_virtio_queue_baseline_split_walk/<n>        the raw floor: read avail idx and the head, follow next through
//                                                  the table with plain loads and no checks, store each (addr,
//                                                  len, writable) into a preallocated array, write the used
//                                                  element and index.
//   BM_virtio_queue_packed_pop_add_used/<n>        packed_queue::pop + add_used (the same checks, wrap counters).
//   BM_virtio_queue_baseline_packed_walk/<n>       the raw floor for the packed ring: check the head's AVAIL bit,
//                                                  walk the slots while NEXT is set, store each buffer, write the
//                                                  used descriptor.
// Read them as ratios (vmm-bench ratios): the target is 5 ns or less per descriptor with all checks on.
#include <benchmark/benchmark.h>

import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;

namespace {

namespace mem = vmm::memory;
namespace q = vmm::virtio::queue;

constexpr std::uint64_t memory_size = std::uint64_t{2} << 20U;
constexpr std::uint16_t queue_size = 256;
constexpr std::uint64_t table_at = 0x1000;
constexpr std::uint64_t driver_at = 0x2000;
constexpr std::uint64_t device_at = 0x3000;
constexpr std::uint64_t indirect_at = 0x8000;
constexpr std::uint64_t buffers_at = 0x10000;
constexpr std::uint32_t buffer_size = 512;

struct rig {
  mem::guest_memory memory;
  std::byte* host = nullptr;  // guest address 0
};

auto make_rig() -> std::unique_ptr<rig> {
  const std::array layout{mem::guest_range{.start = mem::guest_address{0}, .size = memory_size}};
  auto memory = mem::guest_memory::anonymous(layout);
  if (!memory) {
    return nullptr;
  }
  auto r = std::make_unique<rig>();
  r->memory = std::move(*memory);
  r->host = r->memory.regions()[0]->host_address();
  std::memset(r->host, 0, memory_size);  // fault every page in before timing
  return r;
}

auto get_rig(benchmark::State& state) -> rig* {
  static const std::unique_ptr<rig> r = make_rig();
  if (r == nullptr) {
    state.SkipWithError("cannot map the guest memory");
  }
  std::memset(r->host, 0, 0x10000);  // fresh rings for every case
  return r.get();
}

template <class T>
void put(const rig& r, std::uint64_t guest, const T& value) {
  std::memcpy(r.host + guest, &value, sizeof(T));
}

template <class T>
auto get(const rig& r, std::uint64_t guest) -> T {
  T value;
  std::memcpy(&value, r.host + guest, sizeof(T));
  return value;
}

auto is_writable(std::int64_t i, std::int64_t n) -> bool {
  return i >= n / 2;
}

auto config(std::uint64_t desc) -> q::queue_config {
  return {.max_size = queue_size,
          .size = queue_size,
          .ready = true,
          .descriptor_area = mem::guest_address{desc},
          .driver_area = mem::guest_address{driver_at},
          .device_area = mem::guest_address{device_at}};
}

void set_counters(benchmark::State& state, std::int64_t n) {
  state.SetItemsProcessed(state.iterations() * n);
  // Inverted iteration-invariant rate: CPU seconds per descriptor (printed with an SI prefix, "2.3ns").
  state.counters["time_per_descriptor"] = benchmark::Counter(
      static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

/// Writes a split chain of n descriptors at `table` (indices 0..n-1 linked by next) and fills the available ring
/// with head 0.
void write_split_chain(const rig& r, std::uint64_t table, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const bool last = i + 1 == n;
    const auto flags =
        static_cast<std::uint16_t>((last ? 0U : q::desc_f_next) | (is_writable(i, n) ? q::desc_f_write : 0U));
    put(r, table + (16 * static_cast<std::uint64_t>(i)),
        q::split_descriptor{.addr = buffers_at + (buffer_size * static_cast<std::uint64_t>(i)),
                            .len = buffer_size,
                            .flags = flags,
                            .next = static_cast<std::uint16_t>(last ? 0 : i + 1)});
  }
}

/// The driver's publish: one release store of the available index.
void publish_split(const rig& r, std::uint16_t idx) {
  std::atomic_ref<std::uint16_t>{*reinterpret_cast<std::uint16_t*>(r.host + driver_at + 2)}
      // NOLINT(*-reinterpret-cast)
      .store(idx, std::memory_order_release);
}

void bm_split(benchmark::State& state, bool indirect) {
  rig* r = get_rig(state);
  if (r == nullptr) {
    return;
  }
  const std::int64_t n = state.range(0);
  if (indirect) {
    write_split_chain(*r, indirect_at, n);
    put(*r, table_at,
        q::split_descriptor{
            .addr = indirect_at, .len = static_cast<std::uint32_t>(16 * n), .flags = q::desc_f_indirect, .next = 0});
  } else {
    write_split_chain(*r, table_at, n);
  }
  const std::uint64_t features = indirect ? std::uint64_t{1} << q::feature::indirect_desc : 0;
  auto queue = q::split_queue::create(config(table_at), features, r->memory);
  if (!queue) {
    state.SkipWithError("split_queue::create failed");
    return;
  }
  q::descriptor_chain chain;
  std::uint16_t idx = 0;
  for (auto _ : state) {
    publish_split(*r, ++idx);
    auto popped = queue->pop(r->memory, chain);
    benchmark::DoNotOptimize(popped);
    auto used = queue->add_used(r->memory, chain.token(), 0);
    benchmark::DoNotOptimize(used);
  }
  if (chain.descriptors().size() != static_cast<std::size_t>(n) || queue->stats().chains_dropped != 0) {
    state.SkipWithError("the chain was not walked whole");
  }
  set_counters(state, n);
}

void bm_split_direct(benchmark::State& state) {
  bm_split(state, false);
}
void bm_split_indirect(benchmark::State& state) {
  bm_split(state, true);
}

/// What the raw walks store per descriptor (the chain's storage in the checked walk).
struct raw_buffer {
  std::uint64_t addr;
  std::uint32_t len;
  bool writable;
};

void bm_baseline_split(benchmark::State& state) {
  rig* r = get_rig(state);
  if (r == nullptr) {
    return;
  }
  const std::int64_t n = state.range(0);
  write_split_chain(*r, table_at, n);
  std::vector<raw_buffer> out(static_cast<std::size_t>(n));
  std::uint16_t idx = 0;
  std::uint16_t last_avail = 0;
  std::uint16_t used = 0;
  std::byte* const table = r->host + table_at;
  for (auto _ : state) {
    publish_split(*r, ++idx);
    const auto avail = std::atomic_ref<std::uint16_t>{*reinterpret_cast<std::uint16_t*>(  // NOLINT(*-reinterpret-cast)
                                                          r->host + driver_at + 2)}
                           .load(std::memory_order_acquire);
    benchmark::DoNotOptimize(avail);
    const auto head = get<std::uint16_t>(*r, driver_at + 4 + (2U * (last_avail++ % queue_size)));
    std::uint16_t i = head;
    std::size_t k = 0;
    for (;;) {
      q::split_descriptor d;
      std::memcpy(&d, table + (16U * i), sizeof d);
      out[k++] = {.addr = d.addr, .len = d.len, .writable = (d.flags & q::desc_f_write) != 0};
      if ((d.flags & q::desc_f_next) == 0) {
        break;
      }
      i = d.next;
    }
    benchmark::DoNotOptimize(out.data());
    put(*r, device_at + 4 + (8U * (used % queue_size)), q::used_element{.id = head, .len = 0});
    std::atomic_ref<std::uint16_t>{*reinterpret_cast<std::uint16_t*>(r->host + device_at + 2)}
        // NOLINT(*-reinterpret-cast)
        .store(++used, std::memory_order_release);
    benchmark::ClobberMemory();
  }
  set_counters(state, n);
}

/// Writes packed chains of n descriptors over the whole ring (256 / n chains, ids 0..), NEXT on all but each
/// chain's last; the AVAIL/USED bits are the driver's to set per lap (head_available).
void write_packed_ring(const rig& r, std::int64_t n) {
  for (std::int64_t s = 0; s < queue_size; ++s) {
    const std::int64_t i = s % n;
    const bool last = i + 1 == n;
    const auto flags = static_cast<std::uint16_t>((last ? 0U : q::desc_f_next) |
                                                  (is_writable(i, n) ? q::desc_f_write : 0U) | q::packed_desc_f_avail);
    put(r, table_at + (16 * static_cast<std::uint64_t>(s)),
        q::packed_descriptor{.addr = buffers_at + (buffer_size * static_cast<std::uint64_t>(i)),
                             .len = buffer_size,
                             .id = static_cast<std::uint16_t>(s / n),
                             .flags = flags});
  }
}

/// The driver makes the chain at `slot` available again under wrap counter `wrap`: it rewrites the head descriptor
/// (the device's used descriptor overwrote it), flags last with release. The other slots keep their NEXT flags,
/// which is all the device reads of them.
void head_available(const rig& r, std::uint16_t slot, bool wrap, std::int64_t n) {
  std::byte* p = r.host + table_at + (16U * slot);
  const std::uint64_t lo = buffers_at;
  const auto flags =
      static_cast<std::uint16_t>((n > 1 ? q::desc_f_next : 0U) | (is_writable(0, n) ? q::desc_f_write : 0U) |
                                 (wrap ? q::packed_desc_f_avail : q::packed_desc_f_used));
  const std::uint64_t hi =
      buffer_size | (std::uint64_t{static_cast<std::uint16_t>(slot / n)} << 32U) | (std::uint64_t{flags} << 48U);
  std::atomic_ref<std::uint64_t>{*reinterpret_cast<std::uint64_t*>(p)}.store(
      lo, std::memory_order_relaxed);                                       // NOLINT(*-reinterpret-cast)
  std::atomic_ref<std::uint64_t>{*reinterpret_cast<std::uint64_t*>(p + 8)}  // NOLINT(*-reinterpret-cast)
      .store(hi, std::memory_order_release);
}

void bm_packed(benchmark::State& state) {
  rig* r = get_rig(state);
  if (r == nullptr) {
    return;
  }
  const std::int64_t n = state.range(0);
  write_packed_ring(*r, n);
  auto queue = q::packed_queue::create(config(table_at), std::uint64_t{1} << q::feature::ring_packed, r->memory);
  if (!queue) {
    state.SkipWithError("packed_queue::create failed");
    return;
  }
  q::descriptor_chain chain;
  std::uint16_t slot = 0;
  bool wrap = true;
  for (auto _ : state) {
    head_available(*r, slot, wrap, n);
    auto popped = queue->pop(r->memory, chain);
    benchmark::DoNotOptimize(popped);
    auto used = queue->add_used(r->memory, chain.token(), 0);
    benchmark::DoNotOptimize(used);
    slot = static_cast<std::uint16_t>(slot + n);
    if (slot == queue_size) {
      slot = 0;
      wrap = !wrap;
    }
  }
  if (chain.descriptors().size() != static_cast<std::size_t>(n) || queue->stats().chains_dropped != 0) {
    state.SkipWithError("the chain was not walked whole");
  }
  set_counters(state, n);
}

void bm_baseline_packed(benchmark::State& state) {
  rig* r = get_rig(state);
  if (r == nullptr) {
    return;
  }
  const std::int64_t n = state.range(0);
  write_packed_ring(*r, n);
  std::vector<raw_buffer> out(static_cast<std::size_t>(n));
  std::uint16_t slot = 0;
  bool wrap = true;
  std::byte* const ring = r->host + table_at;
  for (auto _ : state) {
    head_available(*r, slot, wrap, n);
    const auto head_flags =
        std::atomic_ref<std::uint16_t>{*reinterpret_cast<std::uint16_t*>(  // NOLINT(*-reinterpret-cast)
                                           ring + (16U * slot) + 14)}
            .load(std::memory_order_acquire);
    benchmark::DoNotOptimize(head_flags);
    std::uint16_t s = slot;
    std::size_t k = 0;
    std::uint16_t id = 0;
    for (;;) {
      q::packed_descriptor d;
      std::memcpy(&d, ring + (16U * s), sizeof d);
      out[k++] = {.addr = d.addr, .len = d.len, .writable = (d.flags & q::desc_f_write) != 0};
      ++s;
      if ((d.flags & q::desc_f_next) == 0) {
        id = d.id;
        break;
      }
    }
    benchmark::DoNotOptimize(out.data());
    std::byte* used = ring + (16U * slot);
    std::memcpy(used + 8, &buffer_size, 4);
    std::memcpy(used + 12, &id, 2);
    const auto used_flags = static_cast<std::uint16_t>(wrap ? q::packed_desc_f_avail | q::packed_desc_f_used : 0U);
    std::atomic_ref<std::uint16_t>{*reinterpret_cast<std::uint16_t*>(used + 14)}  // NOLINT(*-reinterpret-cast)
        .store(used_flags, std::memory_order_release);
    benchmark::ClobberMemory();
    slot = static_cast<std::uint16_t>(slot + n);
    if (slot == queue_size) {
      slot = 0;
      wrap = !wrap;
    }
  }
  set_counters(state, n);
}

}  // namespace

BENCHMARK(bm_split_direct)->Name("BM_virtio_queue_split_pop_add_used")->Arg(1)->Arg(4)->Arg(16)->Arg(64);
BENCHMARK(bm_split_indirect)->Name("BM_virtio_queue_split_indirect_pop_add_used")->Arg(4)->Arg(16)->Arg(64);
BENCHMARK(bm_baseline_split)->Name("BM_virtio_queue_baseline_split_walk")->Arg(1)->Arg(4)->Arg(16)->Arg(64);
BENCHMARK(bm_packed)->Name("BM_virtio_queue_packed_pop_add_used")->Arg(1)->Arg(4)->Arg(16)->Arg(64);
BENCHMARK(bm_baseline_packed)->Name("BM_virtio_queue_baseline_packed_walk")->Arg(1)->Arg(4)->Arg(16)->Arg(64);
