// A small VMM for the integration tests: one VM with guest memory from vmm.memory, one vCPU from vmm.kvm, and the
// port-I/O and MMIO buses of vmm.device, plus a run loop that feeds every exit to the buses, as a VMM's vCPU
// thread does. Every run is bounded by a watchdog, so a broken guest fails its test instead of hanging it.
// Included last by the test sources (it imports the modules: every #include of a source must come before it).
#pragma once

import std;
import vmm.sys;
import vmm.memory;
import vmm.kvm;
import vmm.device;
import vmm.testing;

namespace integration {

namespace kvm = vmm::kvm;
namespace mem = vmm::memory;
namespace dev = vmm::device;
using namespace std::chrono_literals;

/// Guest memory: [0, 2 MiB) at guest address 0; everything above is unbacked, so accesses there are MMIO exits.
inline constexpr std::uint64_t memory_size = 2ULL << 20U;
/// Where the guest's code is loaded and the vCPU starts.
inline constexpr std::uint64_t code_address = 0x1000;
/// A guest that has not stopped within this is stopped by the watchdog (tiny guests need milliseconds).
inline constexpr auto run_limit = 20s;

/// Why run_until_stop returned.
enum class stop_reason : std::uint8_t {
  halt,        ///< the guest executed HLT
  reset,       ///< a device fired the reset trigger (the i8042's CPU reset)
  shutdown,    ///< triple fault, or a system event from KVM
  watchdog,    ///< run_limit passed
  unexpected,  ///< an exit no device handles (internal error, failed entry, unknown)
};

/// How a run ended: why, after how many exits, and (for unexpected) which exit it was.
struct run_outcome {
  stop_reason reason = stop_reason::unexpected;
  std::uint64_t exits = 0;
  std::uint64_t unhandled_accesses = 0;  ///< I/O or MMIO accesses no device on the buses claimed
  std::string detail;
};

/// One VM with its vCPU and buses.
struct machine {
  kvm::kvm system;
  kvm::vm vm;
  mem::guest_memory memory;
  std::shared_ptr<mem::guest_region> ram;
  kvm::vcpu vcpu;
  dev::pio_bus pio;
  dev::mmio_bus mmio;
  /// Written by a device's reset trigger (dev::event_fd_trigger); run_until_stop stops when it is readable.
  std::shared_ptr<dev::event_fd_trigger> reset;

  /// Host pointer to guest physical address `address` (inside RAM).
  [[nodiscard]] auto at(std::uint64_t address) const -> std::byte* { return ram->host_address() + address; }
};

/// A machine with `code` at code_address and the vCPU still in its reset state, or null (after a message saying
/// why the case is skipped) where /dev/kvm cannot be opened. On the heap: the buses do not move.
inline auto make_machine(std::span<const std::uint8_t> code) -> std::unique_ptr<machine> {
  auto fd = vmm::testing::open_kvm();
  if (!fd) {
    BOOST_TEST_MESSAGE("skipped: /dev/kvm cannot be opened: " << fd.error().message());
    return nullptr;
  }
  auto system = kvm::kvm::from_fd(std::move(*fd));
  BOOST_TEST_REQUIRE(system.has_value(), vmm::testing::describe(system));
  auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value(), vmm::testing::describe(vm));
  auto ram = mem::guest_region::anonymous(mem::guest_address{0}, memory_size);
  BOOST_TEST_REQUIRE(ram.has_value(), vmm::testing::describe(ram));
  auto memory = mem::guest_memory::create({*ram});
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  auto written = memory->write(mem::guest_address{code_address}, std::as_bytes(code));
  BOOST_TEST_REQUIRE(written.value_or(0) == code.size());
  auto slot = vm->set_memory_region(0, **ram);
  BOOST_TEST_REQUIRE(slot.has_value(), vmm::testing::describe(slot));
  auto vcpu = vm->create_vcpu(0);
  BOOST_TEST_REQUIRE(vcpu.has_value(), vmm::testing::describe(vcpu));
  auto reset_event = vmm::sys::event_fd::create({.nonblocking = true});
  BOOST_TEST_REQUIRE(reset_event.has_value(), vmm::testing::describe(reset_event));
  return std::unique_ptr<machine>(
      new machine{.system = std::move(*system),
                  .vm = std::move(*vm),
                  .memory = std::move(*memory),
                  .ram = std::move(*ram),
                  .vcpu = std::move(*vcpu),
                  .pio = {},
                  .mmio = {},
                  .reset = std::make_shared<dev::event_fd_trigger>(std::move(*reset_event))});
}

/// Puts the vCPU in real mode at CS:IP = 0:code_address, with the stack below the code.
inline void enter_real_mode(const machine& m) {
  auto sregs = m.vcpu.get_sregs();
  BOOST_TEST_REQUIRE(sregs.has_value(), vmm::testing::describe(sregs));
  sregs->cs.base = 0;
  sregs->cs.selector = 0;
  BOOST_TEST_REQUIRE(m.vcpu.set_sregs(*sregs).has_value());
  kvm::regs regs{};
  regs.rip = code_address;
  regs.rflags = 2;  // bit 1 always reads as 1
  regs.rsp = 0x0ff0;
  BOOST_TEST_REQUIRE(m.vcpu.set_regs(regs).has_value());
}

/// Whether the reset trigger fired (and takes the event).
inline auto reset_fired(const machine& m) -> bool {
  return m.reset->event().read().has_value();
}

/// Feeds one port access to the port-I/O bus, item by item (a REP INS/OUTS has count items). Unclaimed port reads
/// return all ones, like an empty ISA bus.
inline auto dispatch(const dev::pio_bus& bus, std::uint16_t port, std::size_t size, std::span<std::byte> in,
                     std::span<const std::byte> out) -> bool {
  bool claimed = true;
  if (!in.empty()) {
    std::ranges::fill(in, std::byte{0xff});
    for (std::size_t item = 0; item < in.size(); item += size) {
      claimed = bus.read(dev::bus_address{port}, in.subspan(item, size)).has_value() && claimed;
    }
  }
  for (std::size_t item = 0; item < out.size(); item += size) {
    claimed = bus.write(dev::bus_address{port}, out.subspan(item, size)).has_value() && claimed;
  }
  return claimed;
}

/// Runs the vCPU, feeding every exit to the buses, until the guest halts, a device fires the reset trigger, KVM
/// shuts the guest down, an exit no device handles arrives, or `limit` passes.
inline auto run_until_stop(machine& m, std::chrono::milliseconds limit = run_limit) -> run_outcome {
  auto stopper = m.vcpu.stopper();
  BOOST_TEST_REQUIRE(stopper.has_value(), vmm::testing::describe(stopper));
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  std::atomic<bool> fired{false};
  std::thread watchdog{[&] {
    std::unique_lock lock{mutex};
    if (!finished.wait_for(lock, limit, [&] { return done; })) {
      fired = true;
      static_cast<void>(stopper->stop());
    }
  }};
  run_outcome outcome;
  for (;;) {
    auto exit = m.vcpu.run();
    ++outcome.exits;
    if (!exit) {
      outcome.detail = "run() failed: " + exit.error().message();
      break;
    }
    bool stop = false;
    std::visit(
        [&]<class Exit>(Exit& e) {
          if constexpr (std::is_same_v<Exit, kvm::io_in>) {
            outcome.unhandled_accesses += dispatch(m.pio, e.port, e.size, e.data, {}) ? 0 : 1;
          } else if constexpr (std::is_same_v<Exit, kvm::io_out>) {
            outcome.unhandled_accesses += dispatch(m.pio, e.port, e.size, {}, e.data) ? 0 : 1;
          } else if constexpr (std::is_same_v<Exit, kvm::mmio_read>) {
            std::ranges::fill(e.data, std::byte{0xff});
            outcome.unhandled_accesses += m.mmio.read(dev::bus_address{e.address}, e.data).has_value() ? 0 : 1;
          } else if constexpr (std::is_same_v<Exit, kvm::mmio_write>) {
            outcome.unhandled_accesses += m.mmio.write(dev::bus_address{e.address}, e.data).has_value() ? 0 : 1;
          } else if constexpr (std::is_same_v<Exit, kvm::halt>) {
            outcome.reason = stop_reason::halt;
            stop = true;
          } else if constexpr (std::is_same_v<Exit, kvm::shutdown> || std::is_same_v<Exit, kvm::system_event>) {
            outcome.reason = stop_reason::shutdown;
            stop = true;
          } else if constexpr (std::is_same_v<Exit, kvm::interrupted>) {
            if (fired) {
              outcome.reason = stop_reason::watchdog;
              stop = true;
            }
          } else {
            outcome.reason = stop_reason::unexpected;
            outcome.detail = std::format("unexpected exit (variant index {})", exit->index());
            stop = true;
          }
        },
        *exit);
    if (stop) {
      break;
    }
    if (reset_fired(m)) {
      outcome.reason = stop_reason::reset;
      break;
    }
  }
  {
    const std::scoped_lock lock{mutex};
    done = true;
  }
  finished.notify_one();
  watchdog.join();
  return outcome;
}

/// The name of a stop reason, for messages.
inline auto name_of(stop_reason reason) -> std::string_view {
  constexpr std::array names{"halt", "reset", "shutdown", "watchdog", "unexpected"};
  return names.at(static_cast<std::size_t>(reason));
}

/// Lets BOOST_TEST print stop reasons (found by argument-dependent lookup).
inline auto operator<<(std::ostream& out, stop_reason reason) -> std::ostream& {
  return out << name_of(reason);
}

}  // namespace integration
