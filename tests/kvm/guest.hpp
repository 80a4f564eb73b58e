// Tiny real-mode guests for test_kvm: a VM with 64 KiB of memory from vmm.memory at guest address 0, the code at
// 0x1000, and one vCPU in real mode (CS = 0, IP = 0x1000) — plus bounded runs and exit checks. Included last by the
// test_kvm sources (it imports the modules, so every #include of a source must come before it).
#pragma once

import std;
import vmm.sys;
import vmm.memory;
import vmm.kvm;
import vmm.testing;

namespace kvm_test {

namespace kvm = vmm::kvm;
namespace mem = vmm::memory;
namespace sys = vmm::sys;
using namespace std::chrono_literals;

/// Guest memory: [0, 64 KiB), so 0x10000 and above has no memory slot (MMIO).
inline constexpr std::uint64_t memory_size = 0x10000;
/// Where the code is loaded and the vCPU starts.
inline constexpr std::uint64_t code_address = 0x1000;
/// The first guest physical address without memory.
inline constexpr std::uint64_t mmio_base = 0x10000;
/// A run that takes longer than this is stopped by the watchdog (a broken guest must fail, not hang).
inline constexpr auto run_limit = 10s;

/// The system fd, or nullopt (after a message saying why the case is skipped) where /dev/kvm cannot be opened.
inline auto open_system() -> std::optional<kvm::kvm> {
  auto fd = vmm::testing::open_kvm();
  if (!fd) {
    BOOST_TEST_MESSAGE("skipped: /dev/kvm cannot be opened: " << fd.error().message());
    return std::nullopt;
  }
  auto system = kvm::kvm::from_fd(std::move(*fd));
  BOOST_TEST_REQUIRE(system.has_value(), vmm::testing::describe(system));
  return std::move(*system);
}

/// How make_guest sets the VM up.
struct guest_options {
  std::uint32_t slot_flags = 0;  ///< kvm::memory_flags for slot 0
  bool irqchip = false;          ///< create the in-kernel irqchip (before the vCPU)
  std::uint32_t dirty_ring_bytes = 0;
  bool manual_dirty_log = false;  ///< enable KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 (before the slot)
};

struct guest {
  kvm::kvm system;
  kvm::vm vm;
  std::shared_ptr<mem::guest_region> memory;
  kvm::vcpu vcpu;

  /// Host pointer to guest physical address `address` (inside memory).
  [[nodiscard]] auto at(std::uint64_t address) const -> std::byte* { return memory->host_address() + address; }
  [[nodiscard]] auto byte_at(std::uint64_t address) const -> std::uint8_t {
    return std::to_integer<std::uint8_t>(*at(address));
  }
};

/// Puts `vcpu` in real mode at CS:IP = 0:code_address, flags clear.
inline void enter_real_mode(const kvm::vcpu& vcpu) {
  auto sregs = vcpu.get_sregs();
  BOOST_TEST_REQUIRE(sregs.has_value(), vmm::testing::describe(sregs));
  sregs->cs.base = 0;
  sregs->cs.selector = 0;
  BOOST_TEST_REQUIRE(vcpu.set_sregs(*sregs).has_value());
  kvm::regs regs{};
  regs.rip = code_address;
  regs.rflags = 2;  // bit 1 is always set
  regs.rsp = 0x8000;
  BOOST_TEST_REQUIRE(vcpu.set_regs(regs).has_value());
}

/// A VM running `code` in real mode, or nullopt (after a message) where /dev/kvm cannot be opened.
inline auto make_guest(std::span<const std::uint8_t> code, const guest_options& options = {}) -> std::optional<guest> {
  auto system = open_system();
  if (!system) {
    return std::nullopt;
  }
  auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value(), vmm::testing::describe(vm));
  if (options.irqchip) {
    BOOST_TEST_REQUIRE(vm->create_irqchip().has_value());
  }
  if (options.dirty_ring_bytes != 0) {
    auto enabled = vm->enable_dirty_ring(options.dirty_ring_bytes);
    BOOST_TEST_REQUIRE(enabled.has_value(), vmm::testing::describe(enabled));
  }
  if (options.manual_dirty_log) {
    auto enabled = vm->enable_manual_dirty_log_protect();
    BOOST_TEST_REQUIRE(enabled.has_value(), vmm::testing::describe(enabled));
  }
  auto memory = mem::guest_region::anonymous(mem::guest_address{0}, memory_size);
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  std::ranges::copy(std::as_bytes(code), (*memory)->host_address() + code_address);
  auto slot = vm->set_memory_region(0, **memory, options.slot_flags);
  BOOST_TEST_REQUIRE(slot.has_value(), vmm::testing::describe(slot));
  auto vcpu = vm->create_vcpu(0);
  BOOST_TEST_REQUIRE(vcpu.has_value(), vmm::testing::describe(vcpu));
  enter_real_mode(*vcpu);
  return guest{
      .system = std::move(*system), .vm = std::move(*vm), .memory = std::move(*memory), .vcpu = std::move(*vcpu)};
}

/// One run() with a watchdog: when the guest has not exited within `limit`, the watchdog stops it (and the
/// result is interrupted, which the caller's check then rejects) instead of letting the test hang.
inline auto run_bounded(kvm::vcpu& vcpu, std::chrono::milliseconds limit = run_limit) -> vmm::result<kvm::vcpu_exit> {
  auto stopper = vcpu.stopper();
  BOOST_TEST_REQUIRE(stopper.has_value(), vmm::testing::describe(stopper));
  std::mutex mutex;
  std::condition_variable returned;
  bool done = false;
  std::thread watchdog{[&] {
    std::unique_lock lock{mutex};
    if (!returned.wait_for(lock, limit, [&] { return done; })) {
      static_cast<void>(stopper->stop());
    }
  }};
  auto exit = vcpu.run();
  {
    const std::scoped_lock lock{mutex};
    done = true;
  }
  returned.notify_one();
  watchdog.join();
  return exit;
}

/// The name of the alternative an exit holds, for messages.
inline auto exit_name(const kvm::vcpu_exit& exit) -> std::string {
  constexpr std::array names{"io_in",        "io_out",         "mmio_read",  "mmio_write",  "halt",   "shutdown",
                             "system_event", "internal_error", "fail_entry", "interrupted", "unknown"};
  static_assert(names.size() == std::variant_size_v<kvm::vcpu_exit>);
  std::string name = names.at(exit.index());
  if (const auto* error = std::get_if<kvm::internal_error>(&exit)) {
    name += std::format(" (suberror {})", error->suberror);
  } else if (const auto* other = std::get_if<kvm::unknown>(&exit)) {
    name += std::format(" (reason {})", other->reason);
  }
  return name;
}

/// Requires that `exit` succeeded and holds a T, and returns it.
template <class T>
auto expect_exit(const vmm::result<kvm::vcpu_exit>& exit) -> T {
  BOOST_TEST_REQUIRE(exit.has_value(), vmm::testing::describe(exit));
  BOOST_TEST_REQUIRE(std::holds_alternative<T>(*exit), "exit is " << exit_name(*exit));
  return std::get<T>(*exit);
}

/// The value of a little-endian reply or datum of up to 8 bytes.
inline auto value_of(std::span<const std::byte> data) -> std::uint64_t {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    value |= std::uint64_t{std::to_integer<std::uint8_t>(data[i])} << (8 * i);
  }
  return value;
}

/// Writes `value` little-endian into a reply span.
inline void fill(std::span<std::byte> data, std::uint64_t value) {
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::byte>(value >> (8 * i));
  }
}

}  // namespace kvm_test
