module vmm.loader;
import std;
import vmm.sys;
import vmm.memory;

namespace vmm::loader {
namespace {

using memory::guest_address;

constexpr std::uint64_t table_size = 4096;
constexpr std::uint64_t entries_per_table = table_size / sizeof(std::uint64_t);
constexpr std::uint64_t max_identity_gib = entries_per_table;  // one PDPT
constexpr unsigned large_page_shift = 21;
constexpr unsigned gib_shift = 30;
constexpr std::uint32_t page_granularity_shift = 12;
constexpr std::uint32_t tss_limit = 0x67;  // a 104-byte TSS
constexpr std::uint8_t type_code = 0xb;    // execute/read, accessed
constexpr std::uint8_t type_data = 0x3;    // read/write, accessed
constexpr std::uint8_t type_busy_tss = 0xb;
constexpr std::uint8_t type_ldt = 0x2;
constexpr std::uint32_t flat_limit = 0xffffffff;
constexpr std::uint32_t real_mode_limit = 0xffff;

[[nodiscard]] auto flat(std::uint16_t selector, std::uint8_t type, bool long_mode) -> segment {
  const bool code = type == type_code;
  return {.base = 0,
          .limit = flat_limit,
          .selector = selector,
          .type = type,
          .present = 1,
          .dpl = 0,
          .db = static_cast<std::uint8_t>(code && long_mode ? 0 : 1),
          .s = 1,
          .l = static_cast<std::uint8_t>(code && long_mode ? 1 : 0),
          .g = 1,
          .avl = 0,
          .unusable = 0};
}

[[nodiscard]] auto make_gdt(std::uint64_t tss_base, bool long_mode) -> boot_gdt {
  boot_gdt gdt{.code = flat(boot_code_selector, type_code, long_mode),
               .data = flat(boot_data_selector, type_data, long_mode),
               .tss = {.base = tss_base,
                       .limit = tss_limit,
                       .selector = boot_tss_selector,
                       .type = type_busy_tss,
                       .present = 1,
                       .dpl = 0,
                       .db = 0,
                       .s = 0,
                       .l = 0,
                       .g = 0,
                       .avl = 0,
                       .unusable = 0}};
  const auto tss = gdt_system_entry(gdt.tss);
  gdt.entries = {0, gdt_entry(gdt.code), gdt_entry(gdt.data), tss[0], tss[1]};
  return gdt;
}

}  // namespace

auto gdt_entry(const segment& s) noexcept -> std::uint64_t {
  const std::uint64_t limit = s.g != 0 ? std::uint64_t{s.limit} >> page_granularity_shift : s.limit;
  const std::uint64_t base = s.base;
  return (limit & 0xffffU) | ((base & 0xffffffU) << 16U) | (std::uint64_t{s.type & 0xfU} << 40U) |
         (std::uint64_t{s.s & 1U} << 44U) | (std::uint64_t{s.dpl & 3U} << 45U) |
         (std::uint64_t{s.present & 1U} << 47U) | (((limit >> 16U) & 0xfU) << 48U) |
         (std::uint64_t{s.avl & 1U} << 52U) | (std::uint64_t{s.l & 1U} << 53U) | (std::uint64_t{s.db & 1U} << 54U) |
         (std::uint64_t{s.g & 1U} << 55U) | (((base >> 24U) & 0xffU) << 56U);
}

auto gdt_system_entry(const segment& s) noexcept -> std::array<std::uint64_t, 2> {
  return {gdt_entry(s), s.base >> 32U};
}

auto long_mode_gdt(std::uint64_t tss_base) noexcept -> boot_gdt {
  return make_gdt(tss_base, true);
}

auto protected_mode_gdt(std::uint64_t tss_base) noexcept -> boot_gdt {
  return make_gdt(tss_base, false);
}

auto write_gdt(const memory::guest_memory& memory, guest_address address, const boot_gdt& gdt)
    -> result<descriptor_table> {
  if (auto written = memory.write_obj(address, gdt.entries); !written) {
    return failure(errc::boot_structure_outside_memory);
  }
  return descriptor_table{.base = address.raw(), .limit = gdt.limit()};
}

auto write_identity_page_tables(const memory::guest_memory& memory, guest_address address, std::uint64_t gib)
    -> result<page_tables> {
  if (!address.is_aligned(table_size)) {
    return failure(errc::misaligned_page_tables);
  }
  if (gib == 0 || gib > max_identity_gib) {
    return failure(errc::bad_identity_map_size);
  }
  const std::uint64_t tables = 2 + gib;
  const auto end = address.checked_add(tables * table_size);
  if (!end) {
    return failure(errc::boot_structure_outside_memory);
  }
  const page_tables layout{.pml4 = address,
                           .pdpt = address.unchecked_add(table_size),
                           .first_pd = address.unchecked_add(2 * table_size),
                           .mapped_bytes = gib << gib_shift,
                           .end = *end};
  std::vector<std::uint64_t> words(tables * entries_per_table);
  constexpr std::uint64_t table_flags = pte_present | pte_writable;
  words[0] = layout.pdpt.raw() | table_flags;
  for (std::uint64_t i = 0; i < gib; ++i) {
    words[entries_per_table + i] = (layout.first_pd.raw() + (i * table_size)) | table_flags;
  }
  for (std::uint64_t page = 0; page < gib * entries_per_table; ++page) {
    words[(2 * entries_per_table) + page] = (page << large_page_shift) | table_flags | pte_large;
  }
  if (auto written = memory.write_all(address, std::as_bytes(std::span{words})); !written) {
    return failure(errc::boot_structure_outside_memory);
  }
  return layout;
}

auto long_mode_control_registers(guest_address pml4) noexcept -> control_registers {
  return {.cr0 = cr0_pe | cr0_et | cr0_ne | cr0_pg, .cr3 = pml4.raw(), .cr4 = cr4_pae, .efer = efer_lme | efer_lma};
}

auto protected_mode_control_registers() noexcept -> control_registers {
  return {.cr0 = cr0_pe | cr0_et | cr0_ne, .cr3 = 0, .cr4 = 0, .efer = 0};
}

auto linux_64bit_registers(guest_address entry, guest_address zero_page) noexcept -> general_registers {
  general_registers regs;
  regs.rip = entry.raw();
  regs.rsi = zero_page.raw();
  regs.rflags = rflags_reserved;
  return regs;
}

auto pvh_registers(guest_address entry, guest_address start_info) noexcept -> general_registers {
  general_registers regs;
  regs.rip = entry.raw();
  regs.rbx = start_info.raw();
  regs.rflags = rflags_reserved;
  return regs;
}

auto boot_special_registers(const boot_gdt& gdt, descriptor_table gdtr, const control_registers& control) noexcept
    -> special_registers {
  const segment ldt{.base = 0,
                    .limit = real_mode_limit,
                    .selector = 0,
                    .type = type_ldt,
                    .present = 1,
                    .dpl = 0,
                    .db = 0,
                    .s = 0,
                    .l = 0,
                    .g = 0,
                    .avl = 0,
                    .unusable = 0};
  return {.cs = gdt.code,
          .ds = gdt.data,
          .es = gdt.data,
          .fs = gdt.data,
          .gs = gdt.data,
          .ss = gdt.data,
          .tr = gdt.tss,
          .ldt = ldt,
          .gdt = gdtr,
          .idt = {.base = 0, .limit = 0},
          .control = control};
}

}  // namespace vmm::loader
