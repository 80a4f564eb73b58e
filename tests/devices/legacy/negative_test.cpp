// Bad input gets the exact error or is ignored and counted, and corrupts nothing: accesses of odd widths and
// offsets, host input into a full FIFO, outputs and triggers that fail.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <csignal>

import std;
import vmm.sys;
import vmm.device;
import vmm.devices.legacy;
import vmm.testing;
import legacy_fakes;

namespace legacy = vmm::devices::legacy;
namespace reg = legacy::serial_register;
using legacy_fakes::bytes_of;
using legacy_fakes::counting_trigger;
using legacy_fakes::in;
using legacy_fakes::out;
using legacy_fakes::serial_rig;
using vmm::testing::error_of;
using vmm::testing::os_error;

namespace {

// Reads `size` bytes at `offset`, starting from a buffer of 0xee so untouched bytes would show.
auto wide_read(vmm::device::bus_device& device, std::uint64_t offset, std::size_t size, std::uint64_t base = 0)
    -> std::vector<std::byte> {
  std::vector<std::byte> data(size, std::byte{0xee});
  device.read(vmm::device::bus_address{base}, offset, data);
  return data;
}

void wide_write(vmm::device::bus_device& device, std::uint64_t offset, std::size_t size, std::uint64_t base = 0) {
  const std::vector<std::byte> data(size, std::byte{'w'});
  device.write(vmm::device::bus_address{base}, offset, data);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(serial_negative)

BOOST_AUTO_TEST_CASE(wide_accesses_read_zero_write_nothing_and_are_counted) {
  serial_rig rig;
  BOOST_TEST(rig.uart.enqueue_input(bytes_of("k")).value() == 1U);
  for (const std::size_t size : {0U, 2U, 4U, 8U}) {
    BOOST_TEST((wide_read(rig.uart, reg::data, size) == std::vector<std::byte>(size, std::byte{0})));
    wide_write(rig.uart, reg::data, size);
  }
  BOOST_TEST(rig.output->text().empty());
  BOOST_TEST(in(rig.uart, reg::data) == 'k');  // the wide reads popped nothing
  BOOST_TEST(rig.uart.metrics().invalid_accesses == 8U);
}

BOOST_AUTO_TEST_CASE(offsets_beyond_the_eight_registers_are_ignored) {
  serial_rig rig;
  for (const std::uint64_t offset : {8ULL, 9ULL, 0x100ULL, ~0ULL}) {
    BOOST_TEST(in(rig.uart, offset) == 0U);
    out(rig.uart, offset, 'x');
  }
  BOOST_TEST(rig.output->text().empty());
  BOOST_TEST(in(rig.uart, reg::scratch) == 0U);
  BOOST_TEST(rig.uart.metrics().invalid_accesses == 8U);
}

BOOST_AUTO_TEST_CASE(enqueue_into_full_fifo_is_receive_fifo_full_and_keeps_contents) {
  serial_rig rig;
  BOOST_TEST(rig.uart.enqueue_input(std::vector<std::byte>(legacy::serial_fifo_size, std::byte{'a'})).value() ==
             legacy::serial_fifo_size);
  const auto refused = rig.uart.enqueue_input(bytes_of("bc"));
  BOOST_TEST(error_of(refused) == make_error_code(legacy::errc::receive_fifo_full));
  BOOST_TEST(rig.uart.metrics().dropped_input == 2U);
  BOOST_TEST(in(rig.uart, reg::data) == 'a');
  BOOST_TEST(rig.uart.enqueue_input(bytes_of("bc")).value() == 1U);  // one byte of room again
}

BOOST_AUTO_TEST_CASE(failing_output_is_counted_and_the_device_keeps_working) {
  auto sink = std::make_shared<legacy_fakes::failing_output>();
  auto irq = std::make_shared<counting_trigger>();
  legacy::serial uart{{.output = sink, .interrupt = irq}};
  out(uart, reg::interrupt_enable, 0x02);
  out(uart, reg::data, 'x');
  out(uart, reg::data, 'y');
  BOOST_TEST(sink->calls == 2U);
  BOOST_TEST(uart.metrics().output_errors == 2U);
  BOOST_TEST(uart.metrics().bytes_out == 0U);
  BOOST_TEST(irq->calls == 3U);  // THR still empties: the guest is not left waiting
  BOOST_TEST(in(uart, reg::line_status) == 0x60U);
}

BOOST_AUTO_TEST_CASE(failing_trigger_is_counted_as_missed_interrupts) {
  serial_rig rig;
  rig.irq->failing = true;
  out(rig.uart, reg::interrupt_enable, 0x03);
  BOOST_TEST(rig.uart.enqueue_input(bytes_of("a")).value() == 1U);
  BOOST_TEST(rig.uart.metrics().missed_interrupts == 2U);
  BOOST_TEST(rig.uart.metrics().interrupts == 0U);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == 0x04U);  // the state is intact: the guest can still poll
}

BOOST_AUTO_TEST_CASE(fd_output_to_a_full_nonblocking_pipe_is_eagain) {
  auto [read_end, write_end] = vmm::sys::make_pipe(true).value();
  legacy::fd_output sink{write_end.borrow()};
  const std::vector<std::byte> block(1 << 16, std::byte{'p'});
  std::error_code error;
  for (int i = 0; i < 64 && !error; ++i) {  // a pipe holds 64 KiB by default; a few more blocks at most
    error = error_of(sink.write(block));
  }
  BOOST_TEST(error == os_error(EAGAIN));
}

BOOST_AUTO_TEST_CASE(fd_output_to_a_closed_pipe_is_epipe_not_a_crash) {
  auto [read_end, write_end] = vmm::sys::make_pipe().value();
  read_end.reset();
  // A VMM ignores SIGPIPE (the sink cannot: signal dispositions are the process's); then the write fails with EPIPE.
  const auto previous = std::signal(SIGPIPE, SIG_IGN);
  legacy::fd_output sink{write_end.borrow()};
  const auto result = sink.write(bytes_of("x"));
  static_cast<void>(std::signal(SIGPIPE, previous));
  BOOST_TEST(error_of(result) == os_error(EPIPE));
}

BOOST_AUTO_TEST_CASE(fd_output_without_a_descriptor_is_ebadf) {
  legacy::fd_output sink{vmm::sys::borrowed_fd{}};
  BOOST_TEST(error_of(sink.write(bytes_of("x"))) == os_error(EBADF));
}

BOOST_AUTO_TEST_CASE(memory_output_over_its_limit_keeps_what_fits) {
  legacy::memory_output sink{4};
  BOOST_TEST(error_of(sink.write(bytes_of("abcdef"))) == make_error_code(legacy::errc::output_limit_reached));
  BOOST_TEST(sink.text() == "abcd");
  BOOST_TEST(error_of(sink.write(bytes_of("g"))) == make_error_code(legacy::errc::output_limit_reached));
}

BOOST_AUTO_TEST_CASE(error_messages_name_the_problem) {
  BOOST_TEST(legacy::legacy_category().name() == std::string_view{"vmm.devices.legacy"});
  BOOST_TEST(make_error_code(legacy::errc::receive_fifo_full).message().find("FIFO") != std::string::npos);
  BOOST_TEST(make_error_code(legacy::errc::keyboard_buffer_full).message().find("i8042") != std::string::npos);
  BOOST_TEST(make_error_code(legacy::errc::output_closed).message().find("accepted no bytes") != std::string::npos);
  BOOST_TEST(make_error_code(legacy::errc::output_limit_reached).message().find("limit") != std::string::npos);
  BOOST_TEST(legacy::legacy_category().message(200).find("200") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(i8042_negative)

BOOST_AUTO_TEST_CASE(wide_accesses_and_other_ports_are_ignored) {
  auto reset = std::make_shared<counting_trigger>();
  legacy::i8042 kbc{{.reset = reset}};
  BOOST_TEST((wide_read(kbc, 0, 2, legacy::i8042_command_port) == std::vector<std::byte>(2, std::byte{0})));
  const std::array fe_fe{std::byte{0xfe}, std::byte{0xfe}};
  kbc.write(vmm::device::bus_address{legacy::i8042_command_port}, 0, fe_fe);
  out(kbc, 0, 0xfe, 0x62);
  BOOST_TEST(in(kbc, 0, 0x65) == 0U);
  BOOST_TEST(reset->calls == 0U);
  BOOST_TEST(kbc.metrics().invalid_accesses == 4U);
}

BOOST_AUTO_TEST_CASE(failing_reset_trigger_is_counted) {
  auto reset = std::make_shared<counting_trigger>();
  reset->failing = true;
  legacy::i8042 kbc{{.reset = reset}};
  out(kbc, 0, legacy::i8042_command::cpu_reset, legacy::i8042_command_port);
  BOOST_TEST(kbc.metrics().reset_requests == 1U);
  BOOST_TEST(kbc.metrics().missed_resets == 1U);
}

BOOST_AUTO_TEST_CASE(failing_keyboard_interrupt_is_counted) {
  auto irq = std::make_shared<counting_trigger>();
  irq->failing = true;
  legacy::i8042 kbc{{.keyboard_interrupt = irq}};
  out(kbc, 0, legacy::i8042_command::self_test, legacy::i8042_command_port);
  BOOST_TEST(kbc.metrics().missed_interrupts == 1U);
  BOOST_TEST(in(kbc, 0, legacy::i8042_data_port) == 0x55U);
}

BOOST_AUTO_TEST_CASE(full_output_queue_refuses_host_bytes_and_drops_responses) {
  legacy::i8042 kbc;
  const std::vector<std::byte> keys(legacy::i8042_output_queue_size + 3, std::byte{0x1e});
  BOOST_TEST(kbc.enqueue_keyboard(keys).value() == legacy::i8042_output_queue_size);
  BOOST_TEST(vmm::testing::error_of(kbc.enqueue_keyboard(keys)) == make_error_code(legacy::errc::keyboard_buffer_full));
  out(kbc, 0, legacy::i8042_command::self_test, legacy::i8042_command_port);  // no room for 0x55
  BOOST_TEST(kbc.metrics().dropped_output == 3U + keys.size() + 1U);
  for (std::size_t i = 0; i < legacy::i8042_output_queue_size; ++i) {
    BOOST_TEST(in(kbc, 0, legacy::i8042_data_port) == 0x1eU);
  }
  BOOST_TEST(in(kbc, 0, legacy::i8042_data_port) == 0U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rtc_negative)

BOOST_AUTO_TEST_CASE(wide_accesses_and_offsets_past_the_data_port_are_ignored) {
  legacy::rtc cmos;
  out(cmos, 0, 0x40);
  out(cmos, 1, 0x12);
  BOOST_TEST((wide_read(cmos, 0, 2) == std::vector<std::byte>(2, std::byte{0})));
  wide_write(cmos, 1, 4);
  out(cmos, 2, 0x41);
  BOOST_TEST(in(cmos, 2) == 0U);
  BOOST_TEST(in(cmos, 1) == 0x12U);  // index and contents untouched
  BOOST_TEST(cmos.metrics().invalid_accesses == 4U);
}

BOOST_AUTO_TEST_CASE(index_beyond_127_is_masked_into_range) {
  legacy::rtc cmos;
  out(cmos, 0, 0xff);  // NMI bit plus index 0x7f
  out(cmos, 1, 0x5a);
  out(cmos, 0, 0x7f);
  BOOST_TEST(in(cmos, 1) == 0x5aU);
}

BOOST_AUTO_TEST_CASE(times_far_outside_the_bcd_range_still_encode_two_digits) {
  auto clock = std::make_shared<legacy::fixed_time_source>(std::chrono::system_clock::time_point::max());
  legacy::rtc cmos{{.clock = clock}};
  out(cmos, 0, legacy::rtc_register::century);
  const unsigned century = in(cmos, 1);
  BOOST_TEST(century <= 0x99U);
  clock->set(std::chrono::system_clock::time_point::min());
  BOOST_TEST(in(cmos, 1) == 0x00U);
}

BOOST_AUTO_TEST_SUITE_END()
