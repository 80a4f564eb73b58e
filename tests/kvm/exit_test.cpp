// Real guests exiting to the VMM: port I/O out and in (the reply reaches the guest), MMIO writes and reads to an
// address with no memory slot (the reply reaches the guest), HLT, and interrupted runs. Each guest is a few
// hand-encoded 16-bit real-mode instructions at 0x1000 (guest.hpp), executed once.
#include <boost/test/unit_test.hpp>

#include "guest.hpp"

using namespace kvm_test;

namespace {

// mov al, 0x42 ; out 0x10, al ; hlt
constexpr std::array<std::uint8_t, 5> out_program{
    0xb0, 0x42,  // mov al, 0x42
    0xe6, 0x10,  // out 0x10, al
    0xf4,        // hlt
};

// in al, 0x20 ; out 0x21, al ; mov [0x2000], al ; hlt: the byte the VMM replies with comes back out and lands in RAM.
constexpr std::array<std::uint8_t, 8> in_echo_program{
    0xe4, 0x20,        // in al, 0x20
    0xe6, 0x21,        // out 0x21, al
    0xa2, 0x00, 0x20,  // mov [0x2000], al      (DS = 0)
    0xf4,              // hlt
};

// mov dx, 0x3f8 ; in ax, dx ; out 0x22, ax ; hlt: a 2-byte port read through DX.
constexpr std::array<std::uint8_t, 7> in_word_program{
    0xba, 0xf8, 0x03,  // mov dx, 0x3f8
    0xed,              // in ax, dx
    0xe7, 0x22,        // out 0x22, ax
    0xf4,              // hlt
};

// A byte store and a word load at 0x10000 and 0x10008 (no memory slot there: both exit as MMIO), then the loaded
// word is stored to RAM at 0x2000.
constexpr std::array<std::uint8_t, 21> mmio_program{
    0xb8, 0x00, 0x10,              // mov ax, 0x1000
    0x8e, 0xd8,                    // mov ds, ax              (DS base 0x10000)
    0xc6, 0x06, 0x00, 0x00, 0x55,  // mov byte [0x0000], 0x55 (MMIO write of 1 byte at 0x10000)
    0xa1, 0x08, 0x00,              // mov ax, [0x0008]        (MMIO read of 2 bytes at 0x10008)
    0x31, 0xdb,                    // xor bx, bx
    0x8e, 0xdb,                    // mov ds, bx              (DS base 0)
    0xa3, 0x00, 0x20,              // mov [0x2000], ax
    0xf4,                          // hlt
};

// hlt
constexpr std::array<std::uint8_t, 1> hlt_program{0xf4};

}  // namespace

BOOST_AUTO_TEST_SUITE(port_io)

BOOST_AUTO_TEST_CASE(out_exits_with_port_size_and_data) {
  auto g = make_guest(out_program);
  if (!g) {
    return;
  }
  const auto out = expect_exit<kvm::io_out>(run_bounded(g->vcpu));
  BOOST_TEST(out.port == 0x10);
  BOOST_TEST(out.size == 1);
  BOOST_TEST(out.count == 1U);
  BOOST_TEST(out.data.size() == 1U);
  BOOST_TEST(value_of(out.data) == 0x42U);
  expect_exit<kvm::halt>(run_bounded(g->vcpu));
}

BOOST_AUTO_TEST_CASE(in_reply_reaches_the_guest_register_and_memory) {
  auto g = make_guest(in_echo_program);
  if (!g) {
    return;
  }
  const auto in = expect_exit<kvm::io_in>(run_bounded(g->vcpu));
  BOOST_TEST(in.port == 0x20);
  BOOST_TEST(in.size == 1);
  BOOST_TEST(in.data.size() == 1U);
  fill(in.data, 0xa5);
  const auto out = expect_exit<kvm::io_out>(run_bounded(g->vcpu));
  BOOST_TEST(out.port == 0x21);
  BOOST_TEST(value_of(out.data) == 0xa5U);
  expect_exit<kvm::halt>(run_bounded(g->vcpu));
  BOOST_TEST(g->byte_at(0x2000) == 0xa5);
}

BOOST_AUTO_TEST_CASE(word_in_through_dx_delivers_both_bytes) {
  auto g = make_guest(in_word_program);
  if (!g) {
    return;
  }
  const auto in = expect_exit<kvm::io_in>(run_bounded(g->vcpu));
  BOOST_TEST(in.port == 0x3f8);
  BOOST_TEST(in.size == 2);
  BOOST_TEST(in.data.size() == 2U);
  fill(in.data, 0xbeef);
  const auto out = expect_exit<kvm::io_out>(run_bounded(g->vcpu));
  BOOST_TEST(out.port == 0x22);
  BOOST_TEST(out.size == 2);
  BOOST_TEST(value_of(out.data) == 0xbeefU);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(mmio)

BOOST_AUTO_TEST_CASE(store_and_load_outside_memory_exit_and_the_load_reply_reaches_the_guest) {
  auto g = make_guest(mmio_program);
  if (!g) {
    return;
  }
  const auto write = expect_exit<kvm::mmio_write>(run_bounded(g->vcpu));
  BOOST_TEST(write.address == mmio_base);
  BOOST_TEST(write.data.size() == 1U);
  BOOST_TEST(value_of(write.data) == 0x55U);
  const auto read = expect_exit<kvm::mmio_read>(run_bounded(g->vcpu));
  BOOST_TEST(read.address == mmio_base + 8);
  BOOST_TEST(read.data.size() == 2U);
  fill(read.data, 0x1234);
  expect_exit<kvm::halt>(run_bounded(g->vcpu));
  BOOST_TEST(g->byte_at(0x2000) == 0x34);
  BOOST_TEST(g->byte_at(0x2001) == 0x12);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(halting)

BOOST_AUTO_TEST_CASE(hlt_without_irqchip_exits_as_halt_after_the_instruction) {
  auto g = make_guest(hlt_program);
  if (!g) {
    return;
  }
  expect_exit<kvm::halt>(run_bounded(g->vcpu));
  const auto regs = g->vcpu.get_regs();
  BOOST_TEST_REQUIRE(regs.has_value());
  BOOST_TEST(regs->rip == code_address + 1);  // HLT is one byte; KVM reports the exit after it
}

BOOST_AUTO_TEST_SUITE_END()
