// A real-mode guest talks to the 16550A UART (vmm.devices.legacy) on the port-I/O bus (vmm.device) through KVM
// port exits (vmm.kvm): what it prints arrives in the output sink, and what the host queues reaches the guest
// through IN replies.
#include <boost/test/unit_test.hpp>

import vmm.devices.legacy;

#include "machine.hpp"

namespace legacy = vmm::devices::legacy;
using namespace integration;

namespace {

/// COM1's ports: eight registers from 0x3f8.
constexpr std::uint16_t com1 = 0x3f8;
constexpr std::uint64_t com1_size = 8;

/// The string print_guest sends, and where in its code it sits.
constexpr std::string_view greeting = "Hello from the guest\n";
constexpr std::size_t greeting_offset = 0x17;

/// Prints the NUL-terminated string at code_address + greeting_offset, waiting for LSR.THRE before each byte (as a
/// polling driver does, so every byte is one IN reply plus one OUT exit), then halts. Encoded with llvm-mc-19.
auto print_guest() -> std::vector<std::uint8_t> {
  std::vector<std::uint8_t> code{
      0xbe, 0x17, 0x10,  // 1000: mov si, 0x1017       ; the string
      0xba, 0xfd, 0x03,  // 1003: mov dx, 0x3fd        ; LSR
      0xec,              // 1006: in al, dx
      0xa8, 0x20,        // 1007: test al, 0x20        ; THRE
      0x74, 0xfb,        // 1009: jz 0x1006
      0xac,              // 100b: lodsb
      0x84, 0xc0,        // 100c: test al, al
      0x74, 0x06,        // 100e: jz 0x1016
      0xba, 0xf8, 0x03,  // 1010: mov dx, 0x3f8        ; THR
      0xee,              // 1013: out dx, al
      0xeb, 0xed,        // 1014: jmp 0x1003
      0xf4,              // 1016: hlt
  };
  BOOST_TEST_REQUIRE(code.size() == greeting_offset);
  code.insert(code.end(), greeting.begin(), greeting.end());
  code.push_back(0);
  return code;
}

/// Reads bytes from RBR (waiting for LSR.DR), writes each back with bit 5 flipped (lower case to upper), and halts
/// after echoing a newline unchanged.
constexpr std::array<std::uint8_t, 25> echo_guest{
    0xba, 0xfd, 0x03,  // 1000: mov dx, 0x3fd        ; LSR
    0xec,              // 1003: in al, dx
    0xa8, 0x01,        // 1004: test al, 1           ; DR
    0x74, 0xfb,        // 1006: jz 0x1003
    0xba, 0xf8, 0x03,  // 1008: mov dx, 0x3f8        ; RBR
    0xec,              // 100b: in al, dx
    0x3c, 0x0a,        // 100c: cmp al, 0x0a
    0x74, 0x05,        // 100e: je 0x1015
    0x34, 0x20,        // 1010: xor al, 0x20
    0xee,              // 1012: out dx, al
    0xeb, 0xeb,        // 1013: jmp 0x1000
    0xee,              // 1015: out dx, al           ; the newline
    0xf4,              // 1016: hlt
    0x90, 0x90,        // padding
};

struct uart_machine {
  std::unique_ptr<machine> m;
  std::shared_ptr<legacy::memory_output> output;
  std::shared_ptr<legacy::serial> uart;
};

auto make_uart_machine(std::span<const std::uint8_t> code) -> std::optional<uart_machine> {
  auto m = make_machine(code);
  if (!m) {
    return std::nullopt;
  }
  enter_real_mode(*m);
  auto output = std::make_shared<legacy::memory_output>();
  auto uart = std::make_shared<legacy::serial>(legacy::serial_options{.output = output, .interrupt = {}});
  auto inserted = m->pio.insert(vmm::device::bus_address{com1}, com1_size, uart);
  BOOST_TEST_REQUIRE(inserted.has_value(), vmm::testing::describe(inserted));
  return uart_machine{.m = std::move(m), .output = std::move(output), .uart = std::move(uart)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(serial_guest)

BOOST_AUTO_TEST_CASE(real_mode_guest_prints_through_the_uart_into_the_sink) {
  const auto code = print_guest();
  auto vm = make_uart_machine(code);
  if (!vm) {
    return;
  }

  const auto outcome = run_until_stop(*vm->m);

  BOOST_TEST(outcome.reason == stop_reason::halt, outcome.detail);
  BOOST_TEST(vm->output->text() == greeting);
  BOOST_TEST(vm->uart->metrics().bytes_out == greeting.size());
  BOOST_TEST(outcome.unhandled_accesses == 0U);
  // One LSR poll (IN) and one THR write (OUT) per byte, the poll before the terminating NUL is loaded, and the HLT.
  BOOST_TEST(outcome.exits == (2 * greeting.size()) + 2);
}

BOOST_AUTO_TEST_CASE(host_input_reaches_the_guest_through_in_replies) {
  auto vm = make_uart_machine(echo_guest);
  if (!vm) {
    return;
  }
  const std::string_view input = "ping\n";
  auto queued = vm->uart->enqueue_input(std::as_bytes(std::span{input}));
  BOOST_TEST_REQUIRE(queued.value_or(0) == input.size());

  const auto outcome = run_until_stop(*vm->m);

  BOOST_TEST(outcome.reason == stop_reason::halt, outcome.detail);
  BOOST_TEST(vm->output->text() == "PING\n");
  BOOST_TEST(vm->uart->input_space() == legacy::serial_fifo_size);
}

BOOST_AUTO_TEST_CASE(guest_without_a_uart_reads_all_ones_and_its_bytes_are_unclaimed) {
  // The print guest against an empty bus: LSR reads 0xff (THRE set), so it still runs to its HLT, and every
  // access is counted as unclaimed instead of crashing the loop.
  const auto code = print_guest();
  auto m = make_machine(code);
  if (!m) {
    return;
  }
  enter_real_mode(*m);

  const auto outcome = run_until_stop(*m);

  BOOST_TEST(outcome.reason == stop_reason::halt, outcome.detail);
  BOOST_TEST(outcome.unhandled_accesses == (2 * greeting.size()) + 1);  // every poll and every byte
}

BOOST_AUTO_TEST_SUITE_END()
