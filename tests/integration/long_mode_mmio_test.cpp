// A 64-bit guest started with vmm.loader's x86-64 boot state (identity page tables, GDT, control registers, the
// Linux 64-bit entry registers) does MMIO to a test device on the MMIO bus (vmm.device) through KVM MMIO exits, and
// the value the device returns reaches the guest.
#include <boost/test/unit_test.hpp>

import vmm.loader;

#include "machine.hpp"

namespace loader = vmm::loader;
using namespace integration;

namespace {

/// Where the boot structures go (all inside the 2 MiB of RAM, clear of the code at 0x1000).
constexpr std::uint64_t gdt_address = 0x500;
constexpr std::uint64_t tss_address = 0x600;
constexpr std::uint64_t zero_page_address = 0x7000;
constexpr std::uint64_t page_tables_address = 0x9000;
/// The test device's range: above RAM and below 4 GiB, so inside the 4 GiB identity map.
constexpr std::uint64_t device_base = 0xd000'0000;
constexpr std::uint64_t device_size = 0x1000;
/// What the device returns for an 8-byte read at offset 0.
constexpr std::uint64_t device_value = 0x1122'3344'5566'7788;

/// Reads 8 bytes from the device (a 64-bit load: only possible in long mode), adds 1, writes them back at offset 8,
/// and halts. Encoded with llvm-mc-19.
constexpr std::array<std::uint8_t, 22> mmio_guest{
    0x48, 0xbb, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x00, 0x00, 0x00,  // movabs rbx, 0xd0000000
    0x48, 0x8b, 0x03,                                            // mov rax, [rbx]
    0x48, 0x83, 0xc0, 0x01,                                      // add rax, 1
    0x48, 0x89, 0x43, 0x08,                                      // mov [rbx + 8], rax
    0xf4,                                                        // hlt
};

/// One access the device saw.
struct access {
  std::uint64_t base = 0;
  std::uint64_t offset = 0;
  std::vector<std::byte> bytes;
};

/// Answers reads with device_value's bytes and records every access.
class recording_device final : public vmm::device::bus_device {
 public:
  void read(vmm::device::bus_address base, std::uint64_t offset, std::span<std::byte> data) override {
    const auto value = std::bit_cast<std::array<std::byte, sizeof device_value>>(device_value);
    std::ranges::copy(std::span{value}.first(std::min(data.size(), value.size())), data.begin());
    const std::scoped_lock lock{mutex_};
    reads_.push_back({.base = base.value, .offset = offset, .bytes = {data.begin(), data.end()}});
  }
  void write(vmm::device::bus_address base, std::uint64_t offset, std::span<const std::byte> data) override {
    const std::scoped_lock lock{mutex_};
    writes_.push_back({.base = base.value, .offset = offset, .bytes = {data.begin(), data.end()}});
  }
  [[nodiscard]] auto reads() const -> std::vector<access> {
    const std::scoped_lock lock{mutex_};
    return reads_;
  }
  [[nodiscard]] auto writes() const -> std::vector<access> {
    const std::scoped_lock lock{mutex_};
    return writes_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<access> reads_;
  std::vector<access> writes_;
};

/// kvm_segment from the loader's segment (the same fields).
auto to_kvm(const loader::segment& s) -> vmm::kvm::segment {
  vmm::kvm::segment out{};
  out.base = s.base;
  out.limit = s.limit;
  out.selector = s.selector;
  out.type = s.type;
  out.present = s.present;
  out.dpl = s.dpl;
  out.db = s.db;
  out.s = s.s;
  out.l = s.l;
  out.g = s.g;
  out.avl = s.avl;
  out.unusable = s.unusable;
  return out;
}

/// Puts the vCPU in the state the Linux 64-bit boot protocol enters a kernel at `entry` in, built by vmm.loader.
void enter_long_mode(const machine& m, std::uint64_t entry) {
  const auto gdt = loader::long_mode_gdt(tss_address);
  auto gdtr = loader::write_gdt(m.memory, mem::guest_address{gdt_address}, gdt);
  BOOST_TEST_REQUIRE(gdtr.has_value(), vmm::testing::describe(gdtr));
  constexpr std::uint64_t identity_gib = 4;
  auto tables = loader::write_identity_page_tables(m.memory, mem::guest_address{page_tables_address}, identity_gib);
  BOOST_TEST_REQUIRE(tables.has_value(), vmm::testing::describe(tables));
  const auto state = loader::boot_special_registers(gdt, *gdtr, loader::long_mode_control_registers(tables->pml4));

  auto sregs = m.vcpu.get_sregs();
  BOOST_TEST_REQUIRE(sregs.has_value(), vmm::testing::describe(sregs));
  sregs->cs = to_kvm(state.cs);
  sregs->ds = to_kvm(state.ds);
  sregs->es = to_kvm(state.es);
  sregs->fs = to_kvm(state.fs);
  sregs->gs = to_kvm(state.gs);
  sregs->ss = to_kvm(state.ss);
  sregs->tr = to_kvm(state.tr);
  sregs->ldt = to_kvm(state.ldt);
  sregs->gdt.base = state.gdt.base;
  sregs->gdt.limit = state.gdt.limit;
  sregs->idt.base = state.idt.base;
  sregs->idt.limit = state.idt.limit;
  sregs->cr0 = state.control.cr0;
  sregs->cr3 = state.control.cr3;
  sregs->cr4 = state.control.cr4;
  sregs->efer = state.control.efer;
  auto set = m.vcpu.set_sregs(*sregs);
  BOOST_TEST_REQUIRE(set.has_value(), vmm::testing::describe(set));

  const auto boot = loader::linux_64bit_registers(mem::guest_address{entry}, mem::guest_address{zero_page_address});
  vmm::kvm::regs regs{};
  regs.rip = boot.rip;
  regs.rsi = boot.rsi;
  regs.rflags = boot.rflags;
  auto set_regs = m.vcpu.set_regs(regs);
  BOOST_TEST_REQUIRE(set_regs.has_value(), vmm::testing::describe(set_regs));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(long_mode_mmio)

BOOST_AUTO_TEST_CASE(long_mode_guest_reads_and_writes_a_device_on_the_mmio_bus) {
  auto m = make_machine(mmio_guest);
  if (!m) {
    return;
  }
  enter_long_mode(*m, code_address);
  const auto device = std::make_shared<recording_device>();
  auto inserted = m->mmio.insert(vmm::device::bus_address{device_base}, device_size, device);
  BOOST_TEST_REQUIRE(inserted.has_value(), vmm::testing::describe(inserted));

  const auto outcome = run_until_stop(*m);

  BOOST_TEST_REQUIRE(outcome.reason == stop_reason::halt, outcome.detail);
  const auto reads = device->reads();
  BOOST_TEST_REQUIRE(reads.size() == 1U);
  BOOST_TEST(reads[0].base == device_base);
  BOOST_TEST(reads[0].offset == 0U);
  BOOST_TEST(reads[0].bytes.size() == 8U);  // one 64-bit load
  const auto writes = device->writes();
  BOOST_TEST_REQUIRE(writes.size() == 1U);
  BOOST_TEST(writes[0].offset == 8U);
  BOOST_TEST_REQUIRE(writes[0].bytes.size() == 8U);
  std::uint64_t written = 0;
  std::memcpy(&written, writes[0].bytes.data(), sizeof written);
  BOOST_TEST(written == device_value + 1);  // the read's reply reached RAX
  // The guest ran in 64-bit mode with the registers the boot protocol gives a kernel.
  auto regs = m->vcpu.get_regs();
  BOOST_TEST_REQUIRE(regs.has_value());
  BOOST_TEST(regs->rsi == zero_page_address);
  BOOST_TEST(regs->rax == device_value + 1);
  auto sregs = m->vcpu.get_sregs();
  BOOST_TEST_REQUIRE(sregs.has_value());
  BOOST_TEST((sregs->efer & loader::efer_lma) != 0U);
  BOOST_TEST(sregs->cs.l == 1U);
}

BOOST_AUTO_TEST_CASE(mmio_outside_every_device_reads_all_ones) {
  // The same guest with no device: the read is unclaimed and returns all ones, so the guest writes 0 (all ones + 1)
  // — also unclaimed — and halts. The loop counts both and carries on.
  auto m = make_machine(mmio_guest);
  if (!m) {
    return;
  }
  enter_long_mode(*m, code_address);

  const auto outcome = run_until_stop(*m);

  BOOST_TEST_REQUIRE(outcome.reason == stop_reason::halt, outcome.detail);
  BOOST_TEST(outcome.unhandled_accesses == 2U);
  auto regs = m->vcpu.get_regs();
  BOOST_TEST_REQUIRE(regs.has_value());
  BOOST_TEST(regs->rax == 0U);
}

BOOST_AUTO_TEST_SUITE_END()
