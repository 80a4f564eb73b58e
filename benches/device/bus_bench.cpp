// Bus lookup and dispatch: what a vCPU exit pays to reach a device, against the raw data structures.
//
// Layout: N devices (N = 1, 16, 256) on an MMIO bus, each on a 4 KiB range followed by a 4 KiB hole (range i starts
// at i * 8 KiB), so a lookup must check the range's end too. The addresses are a fixed pseudo-random sequence of
// 4096 addresses, every one inside a range. Cases (one iteration is one lookup or one access):
//   BM_device_bus_lookup/N                bus::find: the lock-free reader section, the binary search and the copy
//                                         of the device's shared_ptr (returned in a bus_entry).
//   BM_device_baseline_map_lookup/N       the raw floor with a std::map<base, entry>: upper_bound, step back, check
//                                         the end; no synchronisation, no reference counting.
//   BM_device_baseline_vector_lookup/N    the same over a sorted std::vector of bases (std::upper_bound).
//   BM_device_bus_dispatch/N              bus::read of 4 bytes through the bus to a trivial device (which fills the
//                                         bytes), i.e. find + offset + straddle check + the virtual call.
//   BM_device_baseline_virtual_call       the device's read called directly through a bus_device pointer: the
//                                         cost of the call that dispatch adds the bus to.
//   BM_device_bus_dispatch_threads        bus::read from 2 threads at once on 16 devices (the shared reader counter
//                                         and device refcount are the contended lines).
#include <benchmark/benchmark.h>

import std;
import vmm.sys;
import vmm.device;

namespace {

namespace dev = vmm::device;

constexpr std::uint64_t range_size = 0x1000;
constexpr std::uint64_t range_stride = 0x2000;
constexpr std::size_t address_count = 4096;  // a power of two
constexpr std::size_t address_mask = address_count - 1;

/// A device that does the least a device can: fills the bytes read, ignores writes.
class trivial_device final : public dev::bus_device {
 public:
  void read(dev::bus_address /*base*/, std::uint64_t offset, std::span<std::byte> data) override {
    std::ranges::fill(data, static_cast<std::byte>(offset));
  }
  void write(dev::bus_address /*base*/, std::uint64_t /*offset*/, std::span<const std::byte> /*data*/) override {}
};

struct layout {
  dev::mmio_bus bus;
  std::map<std::uint64_t, std::pair<std::uint64_t, dev::bus_device*>> map;  // base → (last, device)
  std::vector<std::uint64_t> bases;
  std::vector<std::uint64_t> lasts;
  std::vector<std::shared_ptr<dev::bus_device>> devices;
  std::array<std::uint64_t, address_count> addresses{};
};

auto make_layout(std::uint64_t count) -> std::unique_ptr<layout> {
  auto l = std::make_unique<layout>();
  for (std::uint64_t i = 0; i < count; ++i) {
    auto d = std::make_shared<trivial_device>();
    if (!l->bus.insert(dev::bus_address{i * range_stride}, range_size, d)) {
      return nullptr;
    }
    l->map.emplace(i * range_stride, std::pair{(i * range_stride) + range_size - 1, d.get()});
    l->bases.push_back(i * range_stride);
    l->lasts.push_back((i * range_stride) + range_size - 1);
    l->devices.push_back(std::move(d));
  }
  std::mt19937_64 random{0x5eed'0b05'd1ce'0001ULL};  // fixed seed: the same sequence every run
  for (auto& a : l->addresses) {
    const std::uint64_t r = random();
    a = ((r % count) * range_stride) + ((r >> 32U) % (range_size - 4));
  }
  return l;
}

auto get_layout(benchmark::State& state) -> layout* {
  static std::map<std::int64_t, std::unique_ptr<layout>> layouts;
  static std::mutex mutex;
  const std::scoped_lock lock{mutex};
  auto& l = layouts[state.range(0)];
  if (l == nullptr) {
    l = make_layout(static_cast<std::uint64_t>(state.range(0)));
  }
  if (l == nullptr) {
    state.SkipWithError("cannot build the bus");
  }
  return l.get();
}

void BM_device_bus_lookup(benchmark::State& state) {
  const layout* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    auto e = l->bus.find(dev::bus_address{l->addresses[i++ & address_mask]});
    benchmark::DoNotOptimize(e);
  }
}
BENCHMARK(BM_device_bus_lookup)->Arg(1)->Arg(16)->Arg(256);

void BM_device_baseline_map_lookup(benchmark::State& state) {
  const layout* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const std::uint64_t a = l->addresses[i++ & address_mask];
    auto at = l->map.upper_bound(a);
    dev::bus_device* found = nullptr;
    if (at != l->map.begin()) {
      --at;
      found = a <= at->second.first ? at->second.second : nullptr;
    }
    benchmark::DoNotOptimize(found);
  }
}
BENCHMARK(BM_device_baseline_map_lookup)->Arg(1)->Arg(16)->Arg(256);

void BM_device_baseline_vector_lookup(benchmark::State& state) {
  const layout* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const std::uint64_t a = l->addresses[i++ & address_mask];
    const auto after = std::ranges::upper_bound(l->bases, a);
    const dev::bus_device* found = nullptr;
    if (after != l->bases.begin()) {
      const auto k = static_cast<std::size_t>(after - l->bases.begin()) - 1;
      found = a <= l->lasts[k] ? l->devices[k].get() : nullptr;
    }
    benchmark::DoNotOptimize(found);
  }
}
BENCHMARK(BM_device_baseline_vector_lookup)->Arg(1)->Arg(16)->Arg(256);

void BM_device_bus_dispatch(benchmark::State& state) {
  const layout* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::array<std::byte, 4> data{};
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = l->bus.read(dev::bus_address{l->addresses[i++ & address_mask]}, data);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(data);
  }
}
BENCHMARK(BM_device_bus_dispatch)->Arg(1)->Arg(16)->Arg(256);

void BM_device_bus_dispatch_threads(benchmark::State& state) {
  const layout* l = get_layout(state);
  if (l == nullptr) {
    return;
  }
  std::array<std::byte, 4> data{};
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 97;
  for (auto _ : state) {
    auto r = l->bus.read(dev::bus_address{l->addresses[i++ & address_mask]}, data);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(data);
  }
}
BENCHMARK(BM_device_bus_dispatch_threads)->Arg(16)->Threads(2)->UseRealTime();

void BM_device_baseline_virtual_call(benchmark::State& state) {
  const auto device = std::make_shared<trivial_device>();
  dev::bus_device* target = device.get();
  std::array<std::byte, 4> data{};
  std::uint64_t offset = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(target);  // hides the dynamic type, so the call stays virtual
    target->read(dev::bus_address{0}, offset++ & 0xffcU, data);
    benchmark::DoNotOptimize(data);
  }
}
BENCHMARK(BM_device_baseline_virtual_call);

}  // namespace
