// The i8042 as Linux's driver and reboot path use it: status bits, the command byte, self-test and interface
// tests, keyboard acknowledgements, and CPU reset firing the reset trigger exactly once per request.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.device;
import vmm.devices.legacy;
import legacy_fakes;

namespace legacy = vmm::devices::legacy;
namespace cmd = legacy::i8042_command;
using legacy_fakes::counting_trigger;
using legacy_fakes::in;
using legacy_fakes::out;

namespace {

constexpr std::uint8_t status_obf = 0x01;
constexpr std::uint8_t status_sys = 0x04;
constexpr std::uint8_t status_a2 = 0x08;
constexpr std::uint8_t status_not_inhibited = 0x10;

// The recommended registration: two one-port ranges, so offset 0 at base 0x60 or 0x64.
struct rig {
  std::shared_ptr<counting_trigger> reset = std::make_shared<counting_trigger>();
  std::shared_ptr<counting_trigger> irq = std::make_shared<counting_trigger>();
  legacy::i8042 kbc{{.reset = reset, .keyboard_interrupt = irq}};

  void command(std::uint8_t value) { out(kbc, 0, value, legacy::i8042_command_port); }
  void data(std::uint8_t value) { out(kbc, 0, value, legacy::i8042_data_port); }
  [[nodiscard]] auto status() -> std::uint8_t { return in(kbc, 0, legacy::i8042_command_port); }
  [[nodiscard]] auto read_data() -> std::uint8_t { return in(kbc, 0, legacy::i8042_data_port); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(i8042_controller)

BOOST_AUTO_TEST_CASE(status_after_power_on_has_system_flag_and_no_data) {
  rig r;
  BOOST_TEST(r.status() == (status_sys | status_not_inhibited));
}

BOOST_AUTO_TEST_CASE(self_test_answers_0x55) {
  rig r;
  r.command(cmd::self_test);
  BOOST_TEST(r.status() == (status_obf | status_sys | status_a2 | status_not_inhibited));
  BOOST_TEST(r.read_data() == 0x55U);
  BOOST_TEST((r.status() & status_obf) == 0U);
}

BOOST_AUTO_TEST_CASE(self_test_sets_the_system_flag_cleared_through_the_command_byte) {
  rig r;
  r.command(cmd::write_command_byte);
  r.data(0x00);
  BOOST_TEST((r.status() & status_sys) == 0U);
  r.command(cmd::self_test);
  BOOST_TEST((r.status() & status_sys) != 0U);
}

BOOST_AUTO_TEST_CASE(interface_tests_answer_keyboard_ok_and_no_aux_port) {
  rig r;
  r.command(cmd::keyboard_interface_test);
  BOOST_TEST(r.read_data() == 0x00U);
  r.command(cmd::aux_interface_test);
  BOOST_TEST(r.read_data() == 0x01U);
}

BOOST_AUTO_TEST_CASE(command_byte_reads_back_what_was_written) {
  rig r;
  r.command(cmd::read_command_byte);
  BOOST_TEST(r.read_data() == 0x45U);
  r.command(cmd::write_command_byte);
  r.data(0x74);
  BOOST_TEST((r.status() & status_a2) == 0U);  // the last write went to the data port
  r.command(cmd::read_command_byte);
  BOOST_TEST(r.read_data() == 0x74U);
}

BOOST_AUTO_TEST_CASE(disable_and_enable_ports_toggle_command_byte_bits) {
  rig r;
  r.command(cmd::disable_keyboard);
  r.command(cmd::disable_aux);
  r.command(cmd::read_command_byte);
  BOOST_TEST(r.read_data() == (0x45U | 0x10U | 0x20U));
  r.command(cmd::enable_keyboard);
  r.command(cmd::enable_aux);
  r.command(cmd::read_command_byte);
  BOOST_TEST(r.read_data() == 0x45U);
}

BOOST_AUTO_TEST_CASE(output_port_reads_reset_inactive_and_a20) {
  rig r;
  r.command(cmd::read_output_port);
  BOOST_TEST(r.read_data() == 0x03U);
  r.command(cmd::write_output_port);
  r.data(0xdf);
  r.command(cmd::read_output_port);
  BOOST_TEST(r.read_data() == 0xdfU);
  BOOST_TEST(r.reset->calls == 0U);
}

BOOST_AUTO_TEST_CASE(write_keyboard_output_comes_back_as_data) {
  rig r;
  r.command(cmd::write_keyboard_output);
  r.data(0x1c);
  BOOST_TEST(r.read_data() == 0x1cU);
}

BOOST_AUTO_TEST_CASE(aux_writes_are_swallowed) {
  rig r;
  r.command(cmd::write_aux);
  r.data(0xf4);
  r.command(cmd::write_aux_output);
  r.data(0x5a);
  BOOST_TEST((r.status() & status_obf) == 0U);
}

BOOST_AUTO_TEST_CASE(single_range_registration_decodes_offsets_0_and_4) {
  legacy::i8042 kbc;
  out(kbc, 4, cmd::self_test, legacy::i8042_data_port);
  BOOST_TEST(in(kbc, 4, legacy::i8042_data_port) == 0x1dU);  // status: OBF, SYS, A2, not inhibited
  BOOST_TEST(in(kbc, 0, legacy::i8042_data_port) == 0x55U);
  BOOST_TEST(in(kbc, 1, legacy::i8042_data_port) == 0U);  // port 0x61 is not the i8042's
  BOOST_TEST(kbc.metrics().invalid_accesses == 1U);
}

BOOST_AUTO_TEST_CASE(unknown_command_is_ignored_and_counted) {
  rig r;
  r.command(0xc0);
  BOOST_TEST((r.status() & status_obf) == 0U);
  BOOST_TEST(r.kbc.metrics().unknown_commands == 1U);
}

BOOST_AUTO_TEST_CASE(output_byte_raises_keyboard_interrupt_when_enabled) {
  rig r;
  r.command(cmd::self_test);
  BOOST_TEST(r.irq->calls == 1U);
  r.command(cmd::write_command_byte);
  r.data(0x44);  // keyboard interrupt off
  r.command(cmd::self_test);
  BOOST_TEST(r.irq->calls == 1U);
  BOOST_TEST(r.kbc.metrics().interrupts == 1U);
}

BOOST_AUTO_TEST_CASE(reading_one_of_several_queued_bytes_raises_the_next_interrupt) {
  rig r;
  r.data(0xff);  // keyboard reset: 0xfa then 0xaa
  const auto before = r.irq->calls.load();
  BOOST_TEST(r.read_data() == 0xfaU);
  BOOST_TEST(r.irq->calls == before + 1);
  BOOST_TEST(r.read_data() == 0xaaU);
  BOOST_TEST(r.irq->calls == before + 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(i8042_keyboard)

BOOST_AUTO_TEST_CASE(keyboard_commands_are_acknowledged) {
  rig r;
  r.data(0xf4);  // enable scanning
  BOOST_TEST(r.read_data() == 0xfaU);
  BOOST_TEST((r.status() & status_obf) == 0U);
}

BOOST_AUTO_TEST_CASE(keyboard_identify_answers_mf2_id) {
  rig r;
  r.data(0xf2);
  BOOST_TEST(r.read_data() == 0xfaU);
  BOOST_TEST(r.read_data() == 0xabU);
  BOOST_TEST(r.read_data() == 0x83U);
}

BOOST_AUTO_TEST_CASE(keyboard_echo_answers_0xee) {
  rig r;
  r.data(0xee);
  BOOST_TEST(r.read_data() == 0xeeU);
}

BOOST_AUTO_TEST_CASE(host_scancodes_reach_the_guest_in_order) {
  rig r;
  const std::array keys{std::byte{0x1e}, std::byte{0x9e}};
  BOOST_TEST(r.kbc.enqueue_keyboard(keys).value() == 2U);
  BOOST_TEST(r.read_data() == 0x1eU);
  BOOST_TEST(r.read_data() == 0x9eU);
  BOOST_TEST(r.kbc.enqueue_keyboard({}).value() == 0U);
}

BOOST_AUTO_TEST_CASE(data_read_when_empty_reads_zero) {
  rig r;
  BOOST_TEST(r.read_data() == 0U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(i8042_reset)

BOOST_AUTO_TEST_CASE(cpu_reset_command_fires_reset_exactly_once) {
  rig r;
  r.command(cmd::cpu_reset);
  BOOST_TEST(r.reset->calls == 1U);
  BOOST_TEST(r.kbc.metrics().reset_requests == 1U);
  r.command(cmd::cpu_reset);
  BOOST_TEST(r.reset->calls == 2U);
}

BOOST_AUTO_TEST_CASE(cpu_reset_through_an_event_fd_makes_it_readable) {
  auto trigger =
      std::make_shared<vmm::device::event_fd_trigger>(vmm::sys::event_fd::create({.nonblocking = true}).value());
  legacy::i8042 kbc{{.reset = trigger}};
  out(kbc, 0, cmd::cpu_reset, legacy::i8042_command_port);
  BOOST_TEST(trigger->event().read().value() == 1U);
}

BOOST_AUTO_TEST_CASE(pulse_commands_reset_only_with_bit_0_clear) {
  rig r;
  r.command(0xff);  // pulse nothing
  r.command(0xfd);
  BOOST_TEST(r.reset->calls == 0U);
  r.command(0xf0);  // pulse all four lines, the reset line among them
  BOOST_TEST(r.reset->calls == 1U);
  BOOST_TEST(r.kbc.metrics().unknown_commands == 0U);
}

BOOST_AUTO_TEST_CASE(output_port_write_with_bit_0_clear_resets) {
  rig r;
  r.command(cmd::write_output_port);
  r.data(0x02);
  BOOST_TEST(r.reset->calls == 1U);
}

BOOST_AUTO_TEST_CASE(reset_without_a_trigger_is_still_counted) {
  legacy::i8042 kbc;
  out(kbc, 0, cmd::cpu_reset, legacy::i8042_command_port);
  BOOST_TEST(kbc.metrics().reset_requests == 1U);
  BOOST_TEST(kbc.metrics().missed_resets == 0U);
}

BOOST_AUTO_TEST_CASE(command_abandons_a_pending_parameter) {
  rig r;
  r.command(cmd::write_command_byte);
  r.command(cmd::read_command_byte);  // the write is abandoned
  BOOST_TEST(r.read_data() == 0x45U);
  r.data(0xf4);  // goes to the keyboard, not into the command byte
  BOOST_TEST(r.read_data() == 0xfaU);
}

BOOST_AUTO_TEST_SUITE_END()
