// A guest asks the i8042 (vmm.devices.legacy) for a CPU reset; the device fires its reset trigger, and the run loop
// sees the eventfd and stops the VM before running the guest again.
#include <boost/test/unit_test.hpp>

import vmm.devices.legacy;

#include "machine.hpp"

namespace legacy = vmm::devices::legacy;
using namespace integration;

namespace {

/// Writes the CPU-reset command to the i8042's command port, then spins: only a loop that notices the reset stops
/// it (else the watchdog does, and the case fails).
constexpr std::array<std::uint8_t, 6> reset_guest{
    0xb0, 0xfe,  // 1000: mov al, 0xfe
    0xe6, 0x64,  // 1002: out 0x64, al
    0xeb, 0xfe,  // 1004: jmp 0x1004
};

/// Reads the status register, runs the self-test (0xaa) and reads its answer from the data port, stores both at
/// 0x2000, then asks for the reset.
constexpr std::array<std::uint8_t, 28> self_test_then_reset_guest{
    0xe4, 0x64,                                      // 1000: in al, 0x64           ; status
    0xa2, 0x00, 0x20,                                // 1002: mov [0x2000], al
    0xb0, 0xaa,                                      // 1005: mov al, 0xaa          ; self-test
    0xe6, 0x64,                                      // 1007: out 0x64, al
    0xe4, 0x60,                                      // 1009: in al, 0x60           ; 0x55 when it passed
    0xa2, 0x01, 0x20,                                // 100b: mov [0x2001], al
    0xb0, 0xfe,                                      // 100e: mov al, 0xfe
    0xe6, 0x64,                                      // 1010: out 0x64, al
    0xeb, 0xfe,                                      // 1012: jmp 0x1012
    0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,  // padding
};

auto attach_i8042(machine& m) -> std::shared_ptr<legacy::i8042> {
  auto controller = std::make_shared<legacy::i8042>(legacy::i8042_options{.reset = m.reset});
  auto data = m.pio.insert(vmm::device::bus_address{legacy::i8042_data_port}, 1, controller);
  BOOST_TEST_REQUIRE(data.has_value(), vmm::testing::describe(data));
  auto command = m.pio.insert(vmm::device::bus_address{legacy::i8042_command_port}, 1, controller);
  BOOST_TEST_REQUIRE(command.has_value(), vmm::testing::describe(command));
  return controller;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(i8042_reset)

BOOST_AUTO_TEST_CASE(guest_reset_command_stops_the_vm_cleanly) {
  auto m = make_machine(reset_guest);
  if (!m) {
    return;
  }
  enter_real_mode(*m);
  const auto controller = attach_i8042(*m);

  const auto outcome = run_until_stop(*m);

  BOOST_TEST(outcome.reason == stop_reason::reset, outcome.detail);
  BOOST_TEST(outcome.exits == 1U);  // the OUT, and nothing after it
  BOOST_TEST(controller->metrics().reset_requests == 1U);
  BOOST_TEST(controller->metrics().missed_resets == 0U);
}

BOOST_AUTO_TEST_CASE(guest_self_test_answers_then_reset_stops_the_vm) {
  auto m = make_machine(self_test_then_reset_guest);
  if (!m) {
    return;
  }
  enter_real_mode(*m);
  const auto controller = attach_i8042(*m);

  const auto outcome = run_until_stop(*m);

  BOOST_TEST(outcome.reason == stop_reason::reset, outcome.detail);
  constexpr std::uint8_t self_test_passed = 0x55;
  BOOST_TEST(std::to_integer<int>(*m->at(0x2001)) == self_test_passed);
  // The status register read before the self-test: system flag set (bit 2), output buffer empty (bit 0).
  BOOST_TEST((std::to_integer<int>(*m->at(0x2000)) & 0x05) == 0x04);
  BOOST_TEST(controller->metrics().reset_requests == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
