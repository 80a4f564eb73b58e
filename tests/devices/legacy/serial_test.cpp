// The 16550A's registers as a guest sees them: transmitted bytes reach the output exactly, IIR values in each
// state and their priorities, THR-empty interrupts, DLAB and the divisor latch, FCR, LSR and MSR bits, loopback.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.device;
import vmm.devices.legacy;
import legacy_fakes;

namespace legacy = vmm::devices::legacy;
namespace reg = legacy::serial_register;
using legacy_fakes::bytes_of;
using legacy_fakes::in;
using legacy_fakes::out;
using legacy_fakes::serial_rig;

namespace {

// Register values from the 16550A data sheet.
constexpr std::uint8_t ier_rx = 0x01;
constexpr std::uint8_t ier_thre = 0x02;
constexpr std::uint8_t ier_rls = 0x04;
constexpr std::uint8_t ier_ms = 0x08;
constexpr std::uint8_t iir_none = 0x01;
constexpr std::uint8_t iir_thre = 0x02;
constexpr std::uint8_t iir_rx = 0x04;
constexpr std::uint8_t iir_rls = 0x06;
constexpr std::uint8_t iir_timeout = 0x0c;
constexpr std::uint8_t iir_ms = 0x00;
constexpr std::uint8_t iir_fifos = 0xc0;
constexpr std::uint8_t lsr_dr = 0x01;
constexpr std::uint8_t lsr_oe = 0x02;
constexpr std::uint8_t lsr_thre_temt = 0x60;
constexpr std::uint8_t lcr_dlab = 0x80;
constexpr std::uint8_t mcr_loop = 0x10;

auto enqueue(legacy::serial& uart, std::string_view text) -> vmm::result<std::size_t> {
  return uart.enqueue_input(bytes_of(text));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(serial_transmit)

BOOST_AUTO_TEST_CASE(thr_writes_reach_the_output_byte_for_byte) {
  serial_rig rig;
  for (const char c : std::string_view{"Hello\n\x00\xff", 8}) {
    out(rig.uart, reg::data, static_cast<std::uint8_t>(c));
  }
  BOOST_TEST(rig.output->text() == std::string("Hello\n\x00\xff", 8));
  BOOST_TEST(rig.uart.metrics().bytes_out == 8U);
}

BOOST_AUTO_TEST_CASE(lsr_reports_thr_and_transmitter_empty_after_reset) {
  serial_rig rig;
  BOOST_TEST(in(rig.uart, reg::line_status) == lsr_thre_temt);
}

BOOST_AUTO_TEST_CASE(thr_write_without_output_is_dropped_without_counting_an_error) {
  legacy::serial uart;
  out(uart, reg::data, 'x');
  BOOST_TEST(uart.metrics().bytes_out == 0U);
  BOOST_TEST(uart.metrics().output_errors == 0U);
}

BOOST_AUTO_TEST_CASE(fd_output_writes_to_a_pipe) {
  auto [read_end, write_end] = vmm::sys::make_pipe().value();
  legacy::serial uart{{.output = std::make_shared<legacy::fd_output>(std::move(write_end))}};
  out(uart, reg::data, 'o');
  out(uart, reg::data, 'k');
  std::array<std::byte, 4> buffer{};
  BOOST_TEST(vmm::sys::read(read_end, buffer).value() == 2U);
  BOOST_TEST(std::to_integer<char>(buffer[0]) == 'o');
  BOOST_TEST(std::to_integer<char>(buffer[1]) == 'k');
}

BOOST_AUTO_TEST_CASE(fd_output_borrowing_a_pipe_leaves_it_open) {
  auto [read_end, write_end] = vmm::sys::make_pipe().value();
  {
    legacy::fd_output sink{write_end.borrow()};
    BOOST_TEST(sink.write(bytes_of("ab")).has_value());
  }
  BOOST_TEST(vmm::sys::is_open(write_end));
}

BOOST_AUTO_TEST_CASE(memory_output_clear_forgets_bytes) {
  legacy::memory_output sink;
  BOOST_TEST(sink.write(bytes_of("abc")).has_value());
  BOOST_TEST(sink.contents().size() == 3U);
  sink.clear();
  BOOST_TEST(sink.text().empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(serial_interrupts)

BOOST_AUTO_TEST_CASE(iir_reads_no_interrupt_after_reset) {
  serial_rig rig;
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_none);
  BOOST_TEST(rig.irq->calls == 0U);
}

BOOST_AUTO_TEST_CASE(enabling_thre_interrupt_raises_it_at_once) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_enable, ier_thre);
  BOOST_TEST(rig.irq->calls == 1U);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_thre);
}

BOOST_AUTO_TEST_CASE(reading_iir_clears_a_reported_thre_interrupt) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_enable, ier_thre);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_thre);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_none);
}

BOOST_AUTO_TEST_CASE(every_thr_write_raises_a_new_thre_interrupt) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_enable, ier_thre);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_thre);
  out(rig.uart, reg::data, 'a');
  out(rig.uart, reg::data, 'b');
  BOOST_TEST(rig.irq->calls == 3U);  // the enable, then one per byte
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_thre);
  BOOST_TEST(rig.uart.metrics().interrupts == 3U);
}

BOOST_AUTO_TEST_CASE(thr_write_with_thre_interrupt_disabled_raises_nothing) {
  serial_rig rig;
  out(rig.uart, reg::data, 'a');
  BOOST_TEST(rig.irq->calls == 0U);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_none);
}

BOOST_AUTO_TEST_CASE(thre_pending_while_disabled_is_reported_after_enabling) {
  serial_rig rig;
  out(rig.uart, reg::data, 'a');  // THR empties again while IER masks the interrupt
  out(rig.uart, reg::interrupt_enable, ier_thre);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_thre);
}

BOOST_AUTO_TEST_CASE(input_raises_received_data_interrupt_when_enabled) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_enable, ier_rx);
  BOOST_TEST(enqueue(rig.uart, "ab").value() == 2U);
  BOOST_TEST(rig.irq->calls == 1U);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_rx);
}

BOOST_AUTO_TEST_CASE(input_with_received_data_interrupt_disabled_raises_nothing) {
  serial_rig rig;
  BOOST_TEST(enqueue(rig.uart, "ab").value() == 2U);
  BOOST_TEST(rig.irq->calls == 0U);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_none);
}

BOOST_AUTO_TEST_CASE(enabling_received_data_interrupt_with_data_waiting_raises_it) {
  serial_rig rig;
  BOOST_TEST(enqueue(rig.uart, "a").value() == 1U);
  out(rig.uart, reg::interrupt_enable, ier_rx);
  BOOST_TEST(rig.irq->calls == 1U);
}

BOOST_AUTO_TEST_CASE(received_data_outranks_thr_empty) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_enable, ier_rx | ier_thre);
  BOOST_TEST(enqueue(rig.uart, "a").value() == 1U);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_rx);
  BOOST_TEST(in(rig.uart, reg::data) == 'a');
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_thre);  // still pending: reading IIR reported RX, not THRE
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_none);
}

BOOST_AUTO_TEST_CASE(line_status_outranks_received_data_and_clears_on_lsr_read) {
  serial_rig rig;
  out(rig.uart, reg::modem_control, mcr_loop);
  for (std::size_t i = 0; i <= legacy::serial_fifo_size; ++i) {  // one byte more than fits: an overrun
    out(rig.uart, reg::data, 'x');
  }
  out(rig.uart, reg::interrupt_enable, ier_rx | ier_rls);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_rls);
  BOOST_TEST(in(rig.uart, reg::line_status) == (lsr_thre_temt | lsr_oe | lsr_dr));
  BOOST_TEST(in(rig.uart, reg::line_status) == (lsr_thre_temt | lsr_dr));  // OE clears on read
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_rx);
  BOOST_TEST(rig.uart.metrics().overruns == 1U);
}

BOOST_AUTO_TEST_CASE(modem_status_interrupt_is_lowest_and_clears_on_msr_read) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_enable, ier_ms | ier_thre);
  out(rig.uart, reg::modem_control, mcr_loop);  // the looped lines drop: delta bits set
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_thre);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_ms);
  BOOST_TEST((in(rig.uart, reg::modem_status) & 0x0fU) != 0U);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_none);
}

BOOST_AUTO_TEST_CASE(modem_status_change_raises_interrupt_when_enabled) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_enable, ier_ms);
  BOOST_TEST(rig.irq->calls == 0U);
  out(rig.uart, reg::modem_control, mcr_loop);
  BOOST_TEST(rig.irq->calls == 1U);
}

BOOST_AUTO_TEST_CASE(ier_keeps_only_its_four_bits) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_enable, 0xff);
  BOOST_TEST(in(rig.uart, reg::interrupt_enable) == 0x0fU);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(serial_receive)

BOOST_AUTO_TEST_CASE(rbr_returns_input_in_order_and_lsr_tracks_data_ready) {
  serial_rig rig;
  BOOST_TEST(enqueue(rig.uart, "hi").value() == 2U);
  BOOST_TEST(in(rig.uart, reg::line_status) == (lsr_thre_temt | lsr_dr));
  BOOST_TEST(in(rig.uart, reg::data) == 'h');
  BOOST_TEST(in(rig.uart, reg::data) == 'i');
  BOOST_TEST(in(rig.uart, reg::line_status) == lsr_thre_temt);
  BOOST_TEST(rig.uart.metrics().bytes_in == 2U);
}

BOOST_AUTO_TEST_CASE(rbr_reads_zero_when_empty) {
  serial_rig rig;
  BOOST_TEST(in(rig.uart, reg::data) == 0U);
}

BOOST_AUTO_TEST_CASE(fifo_accepts_64_bytes_and_the_rest_is_refused) {
  serial_rig rig;
  const std::string input(100, 'z');
  BOOST_TEST(enqueue(rig.uart, input).value() == legacy::serial_fifo_size);
  BOOST_TEST(rig.uart.input_space() == 0U);
  BOOST_TEST(rig.uart.metrics().dropped_input == 100U - legacy::serial_fifo_size);
}

BOOST_AUTO_TEST_CASE(input_space_grows_as_the_guest_reads) {
  serial_rig rig;
  BOOST_TEST(enqueue(rig.uart, "abc").value() == 3U);
  BOOST_TEST(rig.uart.input_space() == legacy::serial_fifo_size - 3);
  static_cast<void>(in(rig.uart, reg::data));
  BOOST_TEST(rig.uart.input_space() == legacy::serial_fifo_size - 2);
}

BOOST_AUTO_TEST_CASE(ring_wraps_around_keeping_order) {
  serial_rig rig;
  std::string seen;
  for (int round = 0; round < 3; ++round) {
    BOOST_TEST(enqueue(rig.uart, std::string(50, static_cast<char>('a' + round))).value() == 50U);
    for (int i = 0; i < 50; ++i) {
      seen.push_back(static_cast<char>(in(rig.uart, reg::data)));
    }
  }
  BOOST_TEST(seen == std::string(50, 'a') + std::string(50, 'b') + std::string(50, 'c'));
}

BOOST_AUTO_TEST_CASE(empty_input_is_accepted_as_nothing) {
  serial_rig rig;
  BOOST_TEST(rig.uart.enqueue_input({}).value() == 0U);
  BOOST_TEST(rig.irq->calls == 0U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(serial_fifo_control)

BOOST_AUTO_TEST_CASE(enabling_fifos_sets_iir_bits_7_6) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_id, 0x01);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == (iir_fifos | iir_none));
  out(rig.uart, reg::interrupt_id, 0x00);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_none);
}

BOOST_AUTO_TEST_CASE(clear_receive_fifo_discards_input) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_id, 0x01);
  BOOST_TEST(enqueue(rig.uart, "abc").value() == 3U);
  out(rig.uart, reg::interrupt_id, 0x03);  // enable + clear RX
  BOOST_TEST(in(rig.uart, reg::line_status) == lsr_thre_temt);
  BOOST_TEST(rig.uart.input_space() == legacy::serial_fifo_size);
}

BOOST_AUTO_TEST_CASE(clear_bits_without_enable_bit_do_nothing_while_fifos_are_off) {
  serial_rig rig;
  BOOST_TEST(enqueue(rig.uart, "abc").value() == 3U);
  out(rig.uart, reg::interrupt_id, 0x06);  // clear RX and TX, enable bit clear: ignored
  BOOST_TEST(rig.uart.input_space() == legacy::serial_fifo_size - 3);
}

BOOST_AUTO_TEST_CASE(switching_fifo_mode_resets_the_fifo) {
  serial_rig rig;
  BOOST_TEST(enqueue(rig.uart, "abc").value() == 3U);
  out(rig.uart, reg::interrupt_id, 0x01);
  BOOST_TEST(rig.uart.input_space() == legacy::serial_fifo_size);
}

BOOST_AUTO_TEST_CASE(below_trigger_level_reports_character_timeout_then_data_available_at_level) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_id, 0x81);  // enable, trigger level 8
  out(rig.uart, reg::interrupt_enable, ier_rx);
  BOOST_TEST(enqueue(rig.uart, "1234567").value() == 7U);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == (iir_fifos | iir_timeout));
  BOOST_TEST(enqueue(rig.uart, "8").value() == 1U);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == (iir_fifos | iir_rx));
}

BOOST_AUTO_TEST_CASE(trigger_levels_are_1_4_8_14) {
  const std::array<std::pair<std::uint8_t, std::size_t>, 4> levels{{{0x01, 1}, {0x41, 4}, {0x81, 8}, {0xc1, 14}}};
  for (const auto& [fcr, level] : levels) {
    serial_rig rig;
    out(rig.uart, reg::interrupt_id, fcr);
    out(rig.uart, reg::interrupt_enable, ier_rx);
    if (level > 1) {
      BOOST_TEST(enqueue(rig.uart, std::string(level - 1, 'x')).value() == level - 1);
      BOOST_TEST(in(rig.uart, reg::interrupt_id) == (iir_fifos | iir_timeout), "level " << level);
    }
    BOOST_TEST(enqueue(rig.uart, "x").value() == 1U);
    BOOST_TEST(in(rig.uart, reg::interrupt_id) == (iir_fifos | iir_rx), "level " << level);
  }
}

BOOST_AUTO_TEST_CASE(fifos_disabled_report_data_available_for_one_byte) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_enable, ier_rx);
  BOOST_TEST(enqueue(rig.uart, "a").value() == 1U);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_rx);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(serial_line_control)

BOOST_AUTO_TEST_CASE(dlab_switches_offsets_0_and_1_to_the_divisor_latch) {
  serial_rig rig;
  out(rig.uart, reg::line_control, lcr_dlab | 0x03);
  BOOST_TEST(in(rig.uart, reg::data) == 12U);  // the reset divisor: 9600 baud
  BOOST_TEST(in(rig.uart, reg::interrupt_enable) == 0U);
  out(rig.uart, reg::data, 0x01);  // 115200 baud
  out(rig.uart, reg::interrupt_enable, 0x02);
  BOOST_TEST(in(rig.uart, reg::data) == 0x01U);
  BOOST_TEST(in(rig.uart, reg::interrupt_enable) == 0x02U);
  BOOST_TEST(rig.output->text().empty());  // a DLL write is no transmission
  BOOST_TEST(rig.irq->calls == 0U);        // and a DLM write enables no interrupt
  out(rig.uart, reg::line_control, 0x03);
  BOOST_TEST(in(rig.uart, reg::interrupt_enable) == 0U);
  out(rig.uart, reg::data, 'A');
  BOOST_TEST(rig.output->text() == "A");
}

BOOST_AUTO_TEST_CASE(dlab_read_of_offset_0_leaves_the_receive_fifo_alone) {
  serial_rig rig;
  BOOST_TEST(enqueue(rig.uart, "q").value() == 1U);
  out(rig.uart, reg::line_control, lcr_dlab);
  static_cast<void>(in(rig.uart, reg::data));
  out(rig.uart, reg::line_control, 0x03);
  BOOST_TEST(in(rig.uart, reg::data) == 'q');
}

BOOST_AUTO_TEST_CASE(lcr_reads_back_what_was_written_and_resets_to_8n1) {
  serial_rig rig;
  BOOST_TEST(in(rig.uart, reg::line_control) == 0x03U);
  out(rig.uart, reg::line_control, 0x1b);
  BOOST_TEST(in(rig.uart, reg::line_control) == 0x1bU);
}

BOOST_AUTO_TEST_CASE(scratch_register_stores_a_byte) {
  serial_rig rig;
  out(rig.uart, reg::scratch, 0x5a);
  BOOST_TEST(in(rig.uart, reg::scratch) == 0x5aU);
}

BOOST_AUTO_TEST_CASE(lsr_and_msr_writes_are_ignored) {
  serial_rig rig;
  out(rig.uart, reg::line_status, 0xff);
  out(rig.uart, reg::modem_status, 0x00);
  BOOST_TEST(in(rig.uart, reg::line_status) == lsr_thre_temt);
  BOOST_TEST(in(rig.uart, reg::modem_status) == 0xb0U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(serial_modem)

BOOST_AUTO_TEST_CASE(msr_reports_a_connected_peer_after_reset) {
  serial_rig rig;
  BOOST_TEST(in(rig.uart, reg::modem_status) == 0xb0U);   // DCD, DSR, CTS
  BOOST_TEST(in(rig.uart, reg::modem_control) == 0x08U);  // OUT2
}

BOOST_AUTO_TEST_CASE(mcr_keeps_only_its_five_bits) {
  serial_rig rig;
  out(rig.uart, reg::modem_control, 0xff);
  BOOST_TEST(in(rig.uart, reg::modem_control) == 0x1fU);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(serial_loopback)

BOOST_AUTO_TEST_CASE(transmitted_bytes_come_back_as_input_not_output) {
  serial_rig rig;
  out(rig.uart, reg::modem_control, mcr_loop);
  out(rig.uart, reg::data, 'L');
  BOOST_TEST(rig.output->text().empty());
  BOOST_TEST(in(rig.uart, reg::line_status) == (lsr_thre_temt | lsr_dr));
  BOOST_TEST(in(rig.uart, reg::data) == 'L');
}

BOOST_AUTO_TEST_CASE(looped_byte_raises_received_data_interrupt) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_enable, ier_rx);
  out(rig.uart, reg::modem_control, mcr_loop);
  out(rig.uart, reg::data, 'L');
  BOOST_TEST(rig.irq->calls == 1U);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == iir_rx);
}

BOOST_AUTO_TEST_CASE(modem_lines_follow_mcr_like_linux_8250_probe_expects) {
  serial_rig rig;
  out(rig.uart, reg::modem_control, mcr_loop | 0x0a);  // loop, OUT2, RTS: Linux checks MSR & 0xf0 == 0x90
  BOOST_TEST((in(rig.uart, reg::modem_status) & 0xf0U) == 0x90U);
  out(rig.uart, reg::modem_control, mcr_loop | 0x05);              // OUT1, DTR → RI, DSR
  BOOST_TEST(in(rig.uart, reg::modem_status) == (0x60U | 0x0bU));  // RI, DSR; DCTS, DDSR, DDCD
  out(rig.uart, reg::modem_control, mcr_loop);                     // RI falls: trailing edge
  BOOST_TEST(in(rig.uart, reg::modem_status) == 0x06U);            // TERI, DDSR
}

BOOST_AUTO_TEST_CASE(leaving_loopback_restores_the_connected_lines_and_output) {
  serial_rig rig;
  out(rig.uart, reg::modem_control, mcr_loop);
  out(rig.uart, reg::modem_control, 0x08);
  BOOST_TEST((in(rig.uart, reg::modem_status) & 0xf0U) == 0xb0U);
  out(rig.uart, reg::data, 'o');
  BOOST_TEST(rig.output->text() == "o");
}

BOOST_AUTO_TEST_SUITE_END()
