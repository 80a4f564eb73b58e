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

import std;
import vmm.sys;
import vmm.memory;
import vmm.kvm;

namespace {

namespace kvm = vmm::kvm;
namespace mem = vmm::memory;

constexpr std::uint64_t memory_size = 0x10000;
constexpr std::uint64_t code_address = 0x1000;

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

struct guest {
  kvm::kvm system;
  kvm::vm vm;
  std::shared_ptr<mem::guest_region> memory;
  kvm::vcpu vcpu;
};

auto make_guest(std::span<const std::uint8_t> code) -> vmm::result<guest> {
  auto system = kvm::kvm::open();
  if (!system) {
    return std::unexpected(system.error());
  }
  auto vm = system->create_vm();
  if (!vm) {
    return std::unexpected(vm.error());
  }
  auto memory = mem::guest_region::anonymous(mem::guest_address{0}, memory_size);
  if (!memory) {
    return std::unexpected(memory.error());
  }
  std::ranges::copy(std::as_bytes(code), (*memory)->host_address() + code_address);
  if (auto slot = vm->set_memory_region(0, **memory); !slot) {
    return std::unexpected(slot.error());
  }
  auto vcpu = vm->create_vcpu(0);
  if (!vcpu) {
    return std::unexpected(vcpu.error());
  }
  auto sregs = vcpu->get_sregs();
  if (!sregs) {
    return std::unexpected(sregs.error());
  }
  sregs->cs.base = 0;
  sregs->cs.selector = 0;
  kvm::regs regs{};
  regs.rip = code_address;
  regs.rflags = 2;
  if (auto set = vcpu->set_sregs(*sregs).and_then([&] { return vcpu->set_regs(regs); }); !set) {
    return std::unexpected(set.error());
  }
  return guest{
      .system = std::move(*system), .vm = std::move(*vm), .memory = std::move(*memory), .vcpu = std::move(*vcpu)};
}

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

// The floor: KVM_RUN, then the exit read straight from kvm_run with only the checks a careless VMM would make.
void run_raw(benchmark::State& state, std::span<const std::uint8_t> code, std::uint32_t expected_reason) {
  auto g = make_guest(code);
  if (!g) {
    state.SkipWithError(g.error().message().c_str());
    return;
  }
  const int fd = g->vcpu.fd().get();
  const auto area = g->vcpu.run_area();
  auto* run = reinterpret_cast<::kvm_run*>(area.data());  // NOLINT(*-reinterpret-cast)
  std::uint64_t sum = 0;
  for (auto _ : state) {
    if (::ioctl(fd, KVM_RUN, 0) < 0 || run->exit_reason != expected_reason) [[unlikely]] {
      state.SkipWithError("KVM_RUN failed or exited unexpectedly");
      return;
    }
    if (expected_reason == KVM_EXIT_IO) {
      sum += std::to_integer<std::uint64_t>(area[run->io.data_offset]);
    } else {
      sum += run->mmio.data[0];
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
