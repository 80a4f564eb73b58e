// vCPU exits through vcpu::run() and its decoded std::variant, against a bare KVM_RUN loop reading kvm_run
// directly, on the same guest in the same process. Read each case as a ratio to its raw partner (the target
// is 1.05x or less): the exit itself (6-8 us on an emulating host) dominates, so the ratio shows what the wrapper's
// stop bookkeeping, bounds checks and variant add.
//
// Cases (one iteration is one guest exit, handled):
//   BM_kvm_pio_exit        run() on a guest looping `out 0x10, al; jmp $-2`; the io_out alternative is visited and
//                          its data byte consumed.
//   BM_kvm_raw_pio_exit    the same guest, ::ioctl(KVM_RUN) and the kvm_run io fields read by hand.
//   BM_kvm_mmio_exit       run() on a guest looping a byte store to 0x10000 (no memory slot there); the mmio_write
//                          alternative is visited and its byte consumed.
//   BM_kvm_raw_mmio_exit   the same guest, ::ioctl(KVM_RUN) and the kvm_run mmio fields read by hand.
// Each case skips with an error message where /dev/kvm cannot be opened.
#include <benchmark/benchmark.h>

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "../support/real_mode_guest.hpp"

import std;
import vmm.sys;
import vmm.memory;
import vmm.kvm;

namespace {

using bench_guest::make_guest;
using bench_guest::run_raw;

namespace kvm = vmm::kvm;
namespace mem = vmm::memory;

// out 0x10, al ; jmp back to the out
constexpr std::array<std::uint8_t, 4> pio_loop{
    0xe6, 0x10,  // out 0x10, al
    0xeb, 0xfc,  // jmp -4
};

// DS = 0x1000 (base 0x10000, no memory there), then a byte store to [0] in a loop
constexpr std::array<std::uint8_t, 10> mmio_loop{
    0xb8, 0x00, 0x10,  // mov ax, 0x1000
    0x8e, 0xd8,        // mov ds, ax
    0xa2, 0x00, 0x00,  // mov [0x0000], al   (MMIO write at 0x10000)
    0xeb, 0xfb,        // jmp -5 (back to the store)
};

// Handles one exit the way a VMM's loop does: visit the variant, consume the data of the expected alternative.
template <class Expected>
void run_wrapped(benchmark::State& state, std::span<const std::uint8_t> code) {
  auto g = make_guest(code);
  if (!g) {
    state.SkipWithError(g.error().message().c_str());
    return;
  }
  std::uint64_t sum = 0;
  for (auto _ : state) {
    const auto exit = g->vcpu.run();
    if (!exit) [[unlikely]] {
      state.SkipWithError(exit.error().message().c_str());
      return;
    }
    const bool handled = std::visit(
        [&]<class T>(const T& e) {
          if constexpr (std::is_same_v<T, Expected>) {
            sum += std::to_integer<std::uint64_t>(e.data[0]);
            return true;
          } else {
            return false;
          }
        },
        *exit);
    if (!handled) [[unlikely]] {
      state.SkipWithError("unexpected exit");
      return;
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

void BM_kvm_pio_exit(benchmark::State& state) {
  run_wrapped<kvm::io_out>(state, pio_loop);
}
BENCHMARK(BM_kvm_pio_exit);

void BM_kvm_raw_pio_exit(benchmark::State& state) {
  run_raw(state, pio_loop, KVM_EXIT_IO);
}
BENCHMARK(BM_kvm_raw_pio_exit);

void BM_kvm_mmio_exit(benchmark::State& state) {
  run_wrapped<kvm::mmio_write>(state, mmio_loop);
}
BENCHMARK(BM_kvm_mmio_exit);

void BM_kvm_raw_mmio_exit(benchmark::State& state) {
  run_raw(state, mmio_loop, KVM_EXIT_MMIO);
}
BENCHMARK(BM_kvm_raw_mmio_exit);

}  // namespace
