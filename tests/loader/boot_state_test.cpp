// Boot-state helpers: every descriptor and page table entry against values computed by hand from the Intel SDM's
// layouts (vol. 3A 3.4.5 segment descriptors, 7.2.3 the 64-bit TSS descriptor, 4.5 4-level paging).
#include <boost/test/unit_test.hpp>

#include "byte_printing.hpp"

import std;
import vmm.sys;
import vmm.memory;
import vmm.loader;
import vmm.testing;

#include "support.hpp"

using namespace loader_test;
using mem::guest_address;
using vmm::testing::describe;

namespace {

auto word(const mem::guest_memory& memory, std::uint64_t address) -> std::uint64_t {
  auto value = memory.read_obj<std::uint64_t>(guest_address{address});
  BOOST_TEST_REQUIRE(value.has_value(), describe(value));
  return *value;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(boot_state)

BOOST_AUTO_TEST_CASE(long_mode_gdt_descriptors_match_hand_computed_bytes) {
  const auto gdt = ld::long_mode_gdt();
  // Code: limit 0xfffff (4 KiB units), type 0xb, S, P, L, G: 0x00af9b000000ffff (as Firecracker's 0xa09b entry).
  BOOST_TEST(gdt.entries[1] == 0x00af9b000000ffffU);
  // Data: type 0x3, S, P, D/B, G: 0x00cf93000000ffff.
  BOOST_TEST(gdt.entries[2] == 0x00cf93000000ffffU);
  // Busy 64-bit TSS at base 0, limit 0x67: type 0xb, P, no S: 0x00008b0000000067, high half 0.
  BOOST_TEST(gdt.entries[3] == 0x00008b0000000067U);
  BOOST_TEST(gdt.entries[4] == 0U);
  BOOST_TEST(gdt.entries[0] == 0U);
  BOOST_TEST(gdt.limit() == 39U);
  BOOST_TEST(gdt.code.selector == 0x08U);
  BOOST_TEST(gdt.data.selector == 0x10U);
  BOOST_TEST(gdt.tss.selector == 0x18U);
  BOOST_TEST(gdt.code.l == 1U);
  BOOST_TEST(gdt.code.db == 0U);
  BOOST_TEST(gdt.code.limit == 0xffffffffU);
}

BOOST_AUTO_TEST_CASE(tss_base_spreads_over_both_halves) {
  const auto gdt = ld::long_mode_gdt(0x123456789abcd000);
  // base[0:24] = 0xbcd000 at bits 16-39, base[24:32] = 0x9a at bits 56-63, base[32:64] in the high half.
  BOOST_TEST(gdt.entries[3] == 0x9a008bbcd0000067U);
  BOOST_TEST(gdt.entries[4] == 0x12345678U);
}

BOOST_AUTO_TEST_CASE(protected_mode_gdt_has_32bit_code) {
  const auto gdt = ld::protected_mode_gdt();
  BOOST_TEST(gdt.entries[1] == 0x00cf9b000000ffffU);
  BOOST_TEST(gdt.entries[2] == 0x00cf93000000ffffU);
  BOOST_TEST(gdt.code.db == 1U);
  BOOST_TEST(gdt.code.l == 0U);
}

BOOST_AUTO_TEST_CASE(byte_granular_segment_keeps_its_limit) {
  const ld::segment s{.base = 0xabcdef, .limit = 0x12345, .type = 0x3, .present = 1, .dpl = 3, .s = 1};
  // limit[0:16] = 0x2345, base[0:24] = 0xabcdef, type 3, S, DPL 3, P: 0xf3, limit[16:20] = 1.
  BOOST_TEST(ld::gdt_entry(s) == 0x0001f3abcdef2345U);
}

BOOST_AUTO_TEST_CASE(gdt_is_written_and_gdtr_describes_it) {
  const auto memory = memory_of(0, mib);
  const auto gdt = ld::long_mode_gdt();
  const auto gdtr = ld::write_gdt(memory, guest_address{0x500}, gdt);
  BOOST_TEST_REQUIRE(gdtr.has_value(), describe(gdtr));
  BOOST_TEST(gdtr->base == 0x500U);
  BOOST_TEST(gdtr->limit == 39U);
  for (std::size_t i = 0; i < gdt.entries.size(); ++i) {
    BOOST_TEST(word(memory, 0x500 + (8 * i)) == gdt.entries[i]);
  }
}

BOOST_AUTO_TEST_CASE(identity_map_of_one_gib_has_hand_computed_entries) {
  const auto memory = memory_of(0, mib);
  fill(memory, std::byte{0xee});
  const auto tables = ld::write_identity_page_tables(memory, guest_address{0x9000}, 1);
  BOOST_TEST_REQUIRE(tables.has_value(), describe(tables));
  BOOST_TEST(tables->pml4.raw() == 0x9000U);
  BOOST_TEST(tables->pdpt.raw() == 0xa000U);
  BOOST_TEST(tables->first_pd.raw() == 0xb000U);
  BOOST_TEST(tables->end.raw() == 0xc000U);
  BOOST_TEST(tables->mapped_bytes == std::uint64_t{1} << 30U);
  BOOST_TEST(word(memory, 0x9000) == 0xa003U);              // PML4[0] → PDPT, present | writable
  BOOST_TEST(word(memory, 0x9008) == 0U);                   // PML4[1] empty
  BOOST_TEST(word(memory, 0xa000) == 0xb003U);              // PDPT[0] → PD
  BOOST_TEST(word(memory, 0xa008) == 0U);                   // PDPT[1] empty
  BOOST_TEST(word(memory, 0xb000) == 0x83U);                // PD[0]: 0 MiB, present | writable | PS
  BOOST_TEST(word(memory, 0xb008) == 0x200083U);            // PD[1]: 2 MiB
  BOOST_TEST(word(memory, 0xbff8) == 0x3fe00083U);          // PD[511]: 1022 MiB
  BOOST_TEST(word(memory, 0xc000) == 0xeeeeeeeeeeeeeeeeU);  // past the tables: untouched
}

BOOST_AUTO_TEST_CASE(identity_map_of_four_gib_chains_four_directories) {
  const auto memory = memory_of(0, mib);
  const auto tables = ld::write_identity_page_tables(memory, guest_address{0x10000}, 4);
  BOOST_TEST_REQUIRE(tables.has_value(), describe(tables));
  BOOST_TEST(word(memory, 0x11018) == 0x15003U);     // PDPT[3] → fourth PD
  BOOST_TEST(word(memory, 0x15000) == 0xc0000083U);  // 3 GiB
  BOOST_TEST(word(memory, 0x15ff8) == 0xffe00083U);  // 4 GiB - 2 MiB
  BOOST_TEST(tables->end.raw() == 0x16000U);
}

BOOST_AUTO_TEST_CASE(control_registers_for_long_mode) {
  const auto cr = ld::long_mode_control_registers(guest_address{0x9000});
  BOOST_TEST(cr.cr0 == 0x80000031U);  // PG | NE | ET | PE
  BOOST_TEST(cr.cr3 == 0x9000U);
  BOOST_TEST(cr.cr4 == 0x20U);    // PAE
  BOOST_TEST(cr.efer == 0x500U);  // LMA | LME
  const auto pm = ld::protected_mode_control_registers();
  BOOST_TEST(pm.cr0 == 0x31U);
  BOOST_TEST(pm.cr4 == 0U);
  BOOST_TEST(pm.efer == 0U);
}

BOOST_AUTO_TEST_CASE(linux_64bit_registers_put_the_zero_page_in_rsi) {
  const auto regs = ld::linux_64bit_registers(guest_address{0x1000200}, guest_address{0x7000});
  BOOST_TEST(regs.rip == 0x1000200U);
  BOOST_TEST(regs.rsi == 0x7000U);
  BOOST_TEST(regs.rflags == 2U);
  BOOST_TEST(regs.rbx == 0U);
  BOOST_TEST(regs.rsp == 0U);
}

BOOST_AUTO_TEST_CASE(pvh_registers_put_the_start_info_in_rbx) {
  const auto regs = ld::pvh_registers(guest_address{0x1000850}, guest_address{0x6000});
  BOOST_TEST(regs.rip == 0x1000850U);
  BOOST_TEST(regs.rbx == 0x6000U);
  BOOST_TEST(regs.rsi == 0U);
  BOOST_TEST(regs.rflags == 2U);
}

BOOST_AUTO_TEST_CASE(special_registers_take_the_gdt_segments) {
  const auto gdt = ld::long_mode_gdt();
  const ld::descriptor_table gdtr{.base = 0x500, .limit = gdt.limit()};
  const auto sregs = ld::boot_special_registers(gdt, gdtr, ld::long_mode_control_registers(guest_address{0x9000}));
  BOOST_TEST((sregs.cs == gdt.code));
  BOOST_TEST((sregs.ds == gdt.data));
  BOOST_TEST((sregs.ss == gdt.data));
  BOOST_TEST((sregs.gs == gdt.data));
  BOOST_TEST((sregs.tr == gdt.tss));
  BOOST_TEST((sregs.gdt == gdtr));
  BOOST_TEST(sregs.idt.limit == 0U);
  BOOST_TEST(sregs.ldt.type == 2U);
  BOOST_TEST(sregs.control.cr3 == 0x9000U);
}

BOOST_AUTO_TEST_SUITE_END()
