// vmm.loader:boot_state — the x86-64 CPU state a kernel is entered with: identity-mapped page tables, a GDT built
// from segment descriptions, control registers, and the general registers of the Linux 64-bit boot protocol and of
// the PVH entry.
//
// These are plain structs with the fields and meanings of KVM's (struct kvm_segment, kvm_dtable, the sregs control
// registers, kvm_regs), so that vmm.kvm — which this component does not import — can copy them field by field.
export module vmm.loader:boot_state;
import std;
import vmm.sys;
import vmm.memory;
import :error;

export namespace vmm::loader {

// The explicit {} on members lets designated initializers omit them without clang's
// -Wmissing-designated-field-initializers; clang-tidy calls them redundant.
// NOLINTBEGIN(readability-redundant-member-init)

/// A segment register's hidden state, with struct kvm_segment's fields.
struct segment {
  std::uint64_t base = 0;
  std::uint32_t limit = 0;  ///< in bytes (as KVM takes it), so 0xffffffff for a flat 4 GiB segment with g = 1
  std::uint16_t selector = 0;
  std::uint8_t type = 0;  ///< the descriptor's 4-bit type (0xb: code, execute/read, accessed; 0x3: data)
  std::uint8_t present = 0;
  std::uint8_t dpl = 0;
  std::uint8_t db = 0;  ///< default operation size 32-bit (D/B)
  std::uint8_t s = 0;   ///< 1: code or data, 0: system (TSS, LDT)
  std::uint8_t l = 0;   ///< 64-bit code
  std::uint8_t g = 0;   ///< limit in 4 KiB units in the descriptor
  std::uint8_t avl = 0;
  std::uint8_t unusable = 0;

  friend constexpr auto operator==(const segment&, const segment&) noexcept -> bool = default;
};

/// A descriptor table register (GDTR, IDTR), with struct kvm_dtable's fields.
struct descriptor_table {
  std::uint64_t base = 0;
  std::uint16_t limit = 0;

  friend constexpr auto operator==(const descriptor_table&, const descriptor_table&) noexcept -> bool = default;
};

/// The 8-byte GDT descriptor of a code or data segment (s = 1), or the low half of a system one. The descriptor's
/// limit is segment.limit >> 12 when g is set, else segment.limit (it must then fit in 20 bits).
[[nodiscard]] auto gdt_entry(const segment& s) noexcept -> std::uint64_t;

/// The 16-byte long-mode system descriptor (TSS, LDT) of `s`: {low half, base bits 32-63}.
[[nodiscard]] auto gdt_system_entry(const segment& s) noexcept -> std::array<std::uint64_t, 2>;

/// Selectors of the boot GDT.
inline constexpr std::uint16_t boot_code_selector = 0x08;
inline constexpr std::uint16_t boot_data_selector = 0x10;
inline constexpr std::uint16_t boot_tss_selector = 0x18;

/// A boot GDT: null, code (0x08), data (0x10) and a TSS (0x18, a 16-byte system descriptor): 5 slots.
struct boot_gdt {
  segment code{};
  segment data{};
  segment tss{};
  std::array<std::uint64_t, 5> entries{};

  /// The GDTR limit: size in bytes - 1.
  [[nodiscard]] inline constexpr auto limit() const noexcept -> std::uint16_t {
    return static_cast<std::uint16_t>((entries.size() * sizeof(std::uint64_t)) - 1);
  }
};

/// The GDT for the Linux 64-bit entry: flat 64-bit code (L = 1), flat data, and a busy 64-bit TSS at `tss_base`
/// (104 bytes; its contents are never used before the kernel loads its own).
[[nodiscard]] auto long_mode_gdt(std::uint64_t tss_base = 0) noexcept -> boot_gdt;

/// The GDT for the PVH entry (32-bit protected mode): flat 32-bit code (D = 1), flat data, and a busy TSS.
[[nodiscard]] auto protected_mode_gdt(std::uint64_t tss_base = 0) noexcept -> boot_gdt;

/// Writes `gdt.entries` to guest memory at `address` and returns the GDTR value. Errors:
/// errc::boot_structure_outside_memory (nothing written).
[[nodiscard]] auto write_gdt(const memory::guest_memory& memory, memory::guest_address address, const boot_gdt& gdt)
    -> result<descriptor_table>;

/// Page table entry bits.
inline constexpr std::uint64_t pte_present = 1U << 0U;
inline constexpr std::uint64_t pte_writable = 1U << 1U;
inline constexpr std::uint64_t pte_large = 1U << 7U;  ///< PS: a 2 MiB page in a page directory entry

/// Where write_identity_page_tables put the tables.
struct page_tables {
  memory::guest_address pml4{};      ///< the value for CR3
  memory::guest_address pdpt{};      ///< pml4 + 4 KiB
  memory::guest_address first_pd{};  ///< pdpt + 4 KiB; one page directory (1 GiB) per 4 KiB from here
  std::uint64_t mapped_bytes = 0;    ///< gib << 30
  memory::guest_address end{};       ///< one past the last table
};

/// Writes page tables mapping virtual [0, gib GiB) to the same physical addresses with 2 MiB pages (present,
/// writable, supervisor): a PML4 at `address`, a PDPT after it, then `gib` page directories — (2 + gib) * 4 KiB.
/// Errors: errc::misaligned_page_tables, errc::bad_identity_map_size (gib 0 or above 512),
/// errc::boot_structure_outside_memory (nothing written).
[[nodiscard]] auto write_identity_page_tables(const memory::guest_memory& memory, memory::guest_address address,
                                              std::uint64_t gib) -> result<page_tables>;

/// Control register bits.
inline constexpr std::uint64_t cr0_pe = 1U << 0U;
inline constexpr std::uint64_t cr0_et = 1U << 4U;
inline constexpr std::uint64_t cr0_ne = 1U << 5U;
inline constexpr std::uint64_t cr0_pg = 1U << 31U;
inline constexpr std::uint64_t cr4_pae = 1U << 5U;
inline constexpr std::uint64_t efer_lme = 1U << 8U;
inline constexpr std::uint64_t efer_lma = 1U << 10U;
/// RFLAGS bit 1, which always reads as 1.
inline constexpr std::uint64_t rflags_reserved = 1U << 1U;

/// The control registers of a boot state (the kvm_sregs fields of the same names).
struct control_registers {
  std::uint64_t cr0 = 0;
  std::uint64_t cr3 = 0;
  std::uint64_t cr4 = 0;
  std::uint64_t efer = 0;

  friend constexpr auto operator==(const control_registers&, const control_registers&) noexcept -> bool = default;
};

/// Long mode with paging: CR0 = PE | ET | NE | PG, CR4 = PAE, EFER = LME | LMA, CR3 = `pml4`.
[[nodiscard]] auto long_mode_control_registers(memory::guest_address pml4) noexcept -> control_registers;

/// 32-bit protected mode without paging (the PVH entry): CR0 = PE | ET | NE, CR3 = CR4 = EFER = 0.
[[nodiscard]] auto protected_mode_control_registers() noexcept -> control_registers;

/// The general registers of a boot state, with struct kvm_regs's fields.
struct general_registers {
  std::uint64_t rax = 0, rbx = 0, rcx = 0, rdx = 0;
  std::uint64_t rsi = 0, rdi = 0, rsp = 0, rbp = 0;
  std::uint64_t r8 = 0, r9 = 0, r10 = 0, r11 = 0;
  std::uint64_t r12 = 0, r13 = 0, r14 = 0, r15 = 0;
  std::uint64_t rip = 0, rflags = rflags_reserved;

  friend constexpr auto operator==(const general_registers&, const general_registers&) noexcept -> bool = default;
};

/// The Linux 64-bit boot protocol: RIP = `entry` (bzimage_load::entry_64 or elf_load::entry), RSI = the zero
/// page, RFLAGS = 0x2 (interrupts off), everything else 0.
[[nodiscard]] auto linux_64bit_registers(memory::guest_address entry, memory::guest_address zero_page) noexcept
    -> general_registers;

/// The PVH entry: RIP = `entry` (elf_load::pvh_entry), RBX = the hvm_start_info, RFLAGS = 0x2.
[[nodiscard]] auto pvh_registers(memory::guest_address entry, memory::guest_address start_info) noexcept
    -> general_registers;

/// The segment and system registers of a boot state (the kvm_sregs fields of the same names; apic_base and the
/// interrupt bitmap stay as KVM reports them).
struct special_registers {
  segment cs{}, ds{}, es{}, fs{}, gs{}, ss{}, tr{}, ldt{};
  descriptor_table gdt{}, idt{};
  control_registers control{};
};

/// CS = gdt.code, DS/ES/FS/GS/SS = gdt.data, TR = gdt.tss, LDT unused, GDTR = `gdtr`, IDTR = {0, 0} (interrupts
/// stay off until the kernel loads its own IDT), and `control`.
[[nodiscard]] auto boot_special_registers(const boot_gdt& gdt, descriptor_table gdtr,
                                          const control_registers& control) noexcept -> special_registers;

// NOLINTEND(readability-redundant-member-init)

}  // namespace vmm::loader
