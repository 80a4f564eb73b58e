// One case per fixed bug or advisory of the devices this component matches.
#include <boost/test/unit_test.hpp>

import std;
import vmm.devices.legacy;
import vmm.testing;
import legacy_fakes;

namespace legacy = vmm::devices::legacy;
namespace reg = legacy::serial_register;
using legacy_fakes::in;
using legacy_fakes::out;
using legacy_fakes::serial_rig;

BOOST_AUTO_TEST_SUITE(devices_legacy_regression)

// CVE-2020-27173 (Firecracker): the serial device queued host input without a bound, so a host-side writer (a
// guest-controlled console peer) could make the VMM's memory grow without limit. The FIFO holds 64 bytes, always.
BOOST_AUTO_TEST_CASE(cve_2020_27173_host_input_never_grows_past_64_bytes) {
  serial_rig rig;
  const std::vector<std::byte> megabyte(std::size_t{1} << 20U, std::byte{'m'});
  std::size_t accepted = 0;
  for (int i = 0; i < 16; ++i) {
    accepted += rig.uart.enqueue_input(megabyte).value_or(0);
  }
  BOOST_TEST(accepted == legacy::serial_fifo_size);
  BOOST_TEST(rig.uart.input_space() == 0U);
  BOOST_TEST(rig.uart.metrics().dropped_input == (16 * megabyte.size()) - legacy::serial_fifo_size);
  std::size_t drained = 0;
  while ((in(rig.uart, reg::line_status) & 0x01U) != 0) {
    static_cast<void>(in(rig.uart, reg::data));
    ++drained;
  }
  BOOST_TEST(drained == legacy::serial_fifo_size);
}

// rust-vmm/vm-superio#83: the UART ignored FCR, so a guest (FreeBSD) could not flush the receive FIFO and IIR never
// said FIFOs were enabled. FCR bit 0 sets IIR bits 7:6, bit 1 empties the receive FIFO.
BOOST_AUTO_TEST_CASE(vm_superio_83_fcr_flushes_the_receive_fifo_and_shows_in_iir) {
  serial_rig rig;
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == 0x01U);
  out(rig.uart, reg::interrupt_id, 0x01);
  BOOST_TEST(in(rig.uart, reg::interrupt_id) == 0xc1U);
  BOOST_TEST(rig.uart.enqueue_input(legacy_fakes::bytes_of("stale")).value() == 5U);
  out(rig.uart, reg::interrupt_id, 0x07);  // enable, clear RX, clear TX
  BOOST_TEST((in(rig.uart, reg::line_status) & 0x01U) == 0U);
  BOOST_TEST(in(rig.uart, reg::data) == 0U);
}

// vm-superio#25 / PR #28 context: each THR write raises one THR-empty interrupt; a write must not be lost when the
// interrupt cannot be delivered (the byte still goes out, the miss is counted).
BOOST_AUTO_TEST_CASE(thr_byte_goes_out_even_when_the_interrupt_fails) {
  serial_rig rig;
  out(rig.uart, reg::interrupt_enable, 0x02);
  rig.irq->failing = true;
  out(rig.uart, reg::data, 'z');
  BOOST_TEST(rig.output->text() == "z");
  BOOST_TEST(rig.uart.metrics().missed_interrupts == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
