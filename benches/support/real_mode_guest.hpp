// The tiny real-mode guest the KVM exit benches share (bench_kvm, bench_integration): 64 KiB of guest memory at 0,
// the code at 0x1000, one vCPU with CS = 0 and IP = 0x1000, and the bare KVM_RUN loop every exit bench measures
// against. Included after the bench's #includes (it imports the modules).
#pragma once

import std;
import vmm.sys;
import vmm.memory;
import vmm.kvm;

namespace bench_guest {

/// Guest memory: [0, 64 KiB), so 0x10000 and above is MMIO.
inline constexpr std::uint64_t memory_size = 0x10000;
/// Where the code is loaded and the vCPU starts.
inline constexpr std::uint64_t code_address = 0x1000;

struct guest {
  vmm::kvm::kvm system;
  vmm::kvm::vm vm;
  std::shared_ptr<vmm::memory::guest_region> memory;
  vmm::kvm::vcpu vcpu;
};

/// A VM running `code` in real mode, or why not (no /dev/kvm, a failed ioctl).
inline auto make_guest(std::span<const std::uint8_t> code) -> vmm::result<guest> {
  namespace mem = vmm::memory;
  auto system = vmm::kvm::kvm::open();
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
  vmm::kvm::regs regs{};
  regs.rip = code_address;
  regs.rflags = 2;
  if (auto set = vcpu->set_sregs(*sregs).and_then([&] { return vcpu->set_regs(regs); }); !set) {
    return std::unexpected(set.error());
  }
  return guest{
      .system = std::move(*system), .vm = std::move(*vm), .memory = std::move(*memory), .vcpu = std::move(*vcpu)};
}

/// The floor every exit bench is read against: KVM_RUN, then the exit read straight from kvm_run (port or address
/// and the first data byte), with only the checks a careless VMM would make and no device behind it.
inline void run_raw(benchmark::State& state, std::span<const std::uint8_t> code, std::uint32_t expected_reason) {
  auto g = make_guest(code);
  if (!g) {
    state.SkipWithError(g.error().message().c_str());
    return;
  }
  const int fd = g->vcpu.fd().get();
  const auto area = g->vcpu.run_area();
  // SAFETY: run_area() is the vCPU's kvm_run mapping (page-aligned, at least sizeof(kvm_run) bytes).
  auto* run = reinterpret_cast<::kvm_run*>(area.data());  // NOLINT(*-reinterpret-cast)
  std::uint64_t sum = 0;
  for (auto _ : state) {
    // SAFETY: fd is the vCPU's open fd; KVM_RUN takes no argument.
    if (::ioctl(fd, KVM_RUN, 0) < 0 || run->exit_reason != expected_reason) [[unlikely]] {
      state.SkipWithError("KVM_RUN failed or exited unexpectedly");
      return;
    }
    if (expected_reason == KVM_EXIT_IO) {
      sum += run->io.port + std::to_integer<std::uint64_t>(area[run->io.data_offset]);
    } else {
      sum += run->mmio.phys_addr + run->mmio.data[0];
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

}  // namespace bench_guest
