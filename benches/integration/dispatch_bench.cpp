// vCPU exit dispatch as a VMM does it — vmm::kvm::vcpu::run(), the decoded exit visited, the access sent through
// vmm.device's port-I/O or MMIO bus to the device that owns the address — against a bare KVM_RUN loop that reads
// kvm_run by hand and does nothing with the access, on the same guest in the same process. Read each pair as a
// ratio (issue #6's target: 1.05x or less). The exit itself (6-8 us on an emulating host) dominates both.
//
// Cases (one iteration is one guest exit):
//   BM_integration_pio_exit_dispatch   a guest looping `out 0x3f8, al`; the write goes through a port-I/O bus holding
//                                      16 devices to a counting device at 0x3f8.
//   BM_integration_raw_pio_exit        the same guest, ::ioctl(KVM_RUN) and kvm_run's io fields read directly.
//   BM_integration_mmio_exit_dispatch  a guest looping a byte store to 0x10000 (no memory slot); the write goes
//                                      through an MMIO bus holding 16 devices to a counting device at 0x10000.
//   BM_integration_raw_mmio_exit       the same guest, ::ioctl(KVM_RUN) and kvm_run's mmio fields read directly.
// Each case skips with an error message where /dev/kvm cannot be opened.
#include <benchmark/benchmark.h>

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "../support/real_mode_guest.hpp"

import std;
import vmm.sys;
import vmm.memory;
import vmm.kvm;
import vmm.device;

namespace {

using bench_guest::make_guest;
using bench_guest::run_raw;

namespace kvm = vmm::kvm;
namespace mem = vmm::memory;
namespace dev = vmm::device;

constexpr std::uint16_t pio_port = 0x3f8;
constexpr std::uint64_t mmio_address = 0x10000;
/// Devices on each bus: about what a small VMM registers (serial ports, i8042, RTC, virtio-mmio slots).
constexpr std::uint64_t devices_per_bus = 16;

// mov dx, 0x3f8 ; out dx, al ; jmp back to the out
constexpr std::array<std::uint8_t, 6> pio_loop{
    0xba, 0xf8, 0x03,  // mov dx, 0x3f8
    0xee,              // out dx, al
    0xeb, 0xfd,        // jmp -3 (back to the out)
};

// DS = 0x1000 (base 0x10000, no memory there), then a byte store to [0] in a loop
constexpr std::array<std::uint8_t, 10> mmio_loop{
    0xb8, 0x00, 0x10,  // mov ax, 0x1000
    0x8e, 0xd8,        // mov ds, ax
    0xa2, 0x00, 0x00,  // mov [0x0000], al   (MMIO write at 0x10000)
    0xeb, 0xfb,        // jmp -5 (back to the store)
};

/// Counts the bytes written to it.
class counting_device final : public dev::bus_device {
 public:
  void read(dev::bus_address /*base*/, std::uint64_t /*offset*/, std::span<std::byte> data) override {
    std::ranges::fill(data, std::byte{0});
  }
  void write(dev::bus_address /*base*/, std::uint64_t offset, std::span<const std::byte> data) override {
    sum_.fetch_add(offset + std::to_integer<std::uint64_t>(data.empty() ? std::byte{0} : data[0]),
                   std::memory_order_relaxed);
  }
  [[nodiscard]] auto sum() const -> std::uint64_t { return sum_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> sum_{0};
};

/// Fills `bus` with devices_per_bus devices of `stride` addresses each, the counting one at `target`.
auto populate(dev::bus& bus, std::uint64_t target, std::uint64_t stride,
              const std::shared_ptr<counting_device>& counter) -> vmm::result<void> {
  const std::uint64_t first = target - ((devices_per_bus / 2) * stride);
  for (std::uint64_t i = 0; i < devices_per_bus; ++i) {
    const std::uint64_t base = first + (i * stride);
    std::shared_ptr<dev::bus_device> device =
        base == target ? counter : std::shared_ptr<dev::bus_device>{std::make_shared<counting_device>()};
    if (auto inserted = bus.insert(dev::bus_address{base}, stride, std::move(device)); !inserted) {
      return std::unexpected(inserted.error());
    }
  }
  return {};
}

/// run(), visit, dispatch: what a VMM's vCPU loop does with each exit.
void run_dispatched(benchmark::State& state, std::span<const std::uint8_t> code, bool pio) {
  auto g = make_guest(code);
  if (!g) {
    state.SkipWithError(g.error().message().c_str());
    return;
  }
  dev::pio_bus pio_bus;
  dev::mmio_bus mmio_bus;
  const auto counter = std::make_shared<counting_device>();
  constexpr std::uint64_t pio_stride = 8;
  constexpr std::uint64_t mmio_stride = 0x1000;
  if (auto filled = pio ? populate(pio_bus, pio_port, pio_stride, counter)
                        : populate(mmio_bus, mmio_address, mmio_stride, counter);
      !filled) {
    state.SkipWithError(filled.error().message().c_str());
    return;
  }
  std::uint64_t unclaimed = 0;
  for (auto _ : state) {
    auto exit = g->vcpu.run();
    if (!exit) [[unlikely]] {
      state.SkipWithError(exit.error().message().c_str());
      return;
    }
    const bool handled = std::visit(
        [&]<class T>(T& e) {
          if constexpr (std::is_same_v<T, kvm::io_out>) {
            unclaimed += pio_bus.write(dev::bus_address{e.port}, e.data).has_value() ? 0 : 1;
            return true;
          } else if constexpr (std::is_same_v<T, kvm::io_in>) {
            unclaimed += pio_bus.read(dev::bus_address{e.port}, e.data).has_value() ? 0 : 1;
            return true;
          } else if constexpr (std::is_same_v<T, kvm::mmio_write>) {
            unclaimed += mmio_bus.write(dev::bus_address{e.address}, e.data).has_value() ? 0 : 1;
            return true;
          } else if constexpr (std::is_same_v<T, kvm::mmio_read>) {
            unclaimed += mmio_bus.read(dev::bus_address{e.address}, e.data).has_value() ? 0 : 1;
            return true;
          } else {
            return false;
          }
        },
        *exit);
    if (!handled || unclaimed != 0) [[unlikely]] {
      state.SkipWithError("unexpected exit, or an access no device claimed");
      return;
    }
  }
  benchmark::DoNotOptimize(counter->sum());
  state.SetItemsProcessed(state.iterations());
}

void BM_integration_pio_exit_dispatch(benchmark::State& state) {
  run_dispatched(state, pio_loop, true);
}
BENCHMARK(BM_integration_pio_exit_dispatch);

void BM_integration_raw_pio_exit(benchmark::State& state) {
  run_raw(state, pio_loop, KVM_EXIT_IO);
}
BENCHMARK(BM_integration_raw_pio_exit);

void BM_integration_mmio_exit_dispatch(benchmark::State& state) {
  run_dispatched(state, mmio_loop, false);
}
BENCHMARK(BM_integration_mmio_exit_dispatch);

void BM_integration_raw_mmio_exit(benchmark::State& state) {
  run_raw(state, mmio_loop, KVM_EXIT_MMIO);
}
BENCHMARK(BM_integration_raw_mmio_exit);

}  // namespace
