// vmm.loader:pvh — the start info a kernel entered through its PVH entry point receives in EBX (rust-vmm
// linux-loader's PvhBootConfigurator): struct hvm_start_info, its module list (the initrd) and its memory map.
//
// The layouts are Xen's public ABI (xen/include/public/arch-x86/hvm/start_info.h), which no Debian header ships:
// they are spelled out here with static_asserts on every offset.
module;
#include <cstddef>
export module vmm.loader:pvh;
import std;
import vmm.sys;
import vmm.memory;
import :error;
import :boot_params;

export namespace vmm::loader {

// The explicit {} on members lets designated initializers omit them without clang's
// -Wmissing-designated-field-initializers; clang-tidy calls them redundant.
// NOLINTBEGIN(readability-redundant-member-init)

/// hvm_start_info's magic number (XEN_HVM_START_MAGIC_VALUE).
inline constexpr std::uint32_t hvm_start_magic = 0x336ec578;
/// The start info version written: 1 (has memmap_paddr and memmap_entries).
inline constexpr std::uint32_t hvm_start_version = 1;

/// struct hvm_start_info (version 1): 56 bytes.
struct hvm_start_info {
  std::uint32_t magic = hvm_start_magic;
  std::uint32_t version = hvm_start_version;
  std::uint32_t flags = 0;
  std::uint32_t nr_modules = 0;
  std::uint64_t modlist_paddr = 0;
  std::uint64_t cmdline_paddr = 0;
  std::uint64_t rsdp_paddr = 0;
  std::uint64_t memmap_paddr = 0;
  std::uint32_t memmap_entries = 0;
  std::uint32_t reserved = 0;
};

/// struct hvm_modlist_entry: one module (an initrd): 32 bytes.
struct hvm_modlist_entry {
  std::uint64_t paddr = 0;
  std::uint64_t size = 0;
  std::uint64_t cmdline_paddr = 0;
  std::uint64_t reserved = 0;
};

/// struct hvm_memmap_table_entry: one memory map range: 24 bytes.
struct hvm_memmap_table_entry {
  std::uint64_t addr = 0;
  std::uint64_t size = 0;
  std::uint32_t type = 0;
  std::uint32_t reserved = 0;
};

static_assert(sizeof(hvm_start_info) == 56 && offsetof(hvm_start_info, modlist_paddr) == 16 &&
              offsetof(hvm_start_info, cmdline_paddr) == 24 && offsetof(hvm_start_info, rsdp_paddr) == 32 &&
              offsetof(hvm_start_info, memmap_paddr) == 40 && offsetof(hvm_start_info, memmap_entries) == 48);
static_assert(sizeof(hvm_modlist_entry) == 32 && offsetof(hvm_modlist_entry, cmdline_paddr) == 16);
static_assert(sizeof(hvm_memmap_table_entry) == 24 && offsetof(hvm_memmap_table_entry, type) == 16);

/// What a PVH start info describes.
struct pvh_config {
  memory_map map{};                            ///< the guest's memory map
  std::vector<memory::guest_range> modules{};  ///< modules (an initrd), in order; empty ranges are refused
  memory::guest_address cmdline{};             ///< the NUL-terminated command line (0: none)
  memory::guest_address rsdp{};                ///< the ACPI RSDP (0: none)
};

/// Where write_pvh_start_info put things: the start info, then the module list, then the memory map, each 8-aligned.
struct pvh_layout {
  memory::guest_address start_info{};
  memory::guest_address modlist{};  ///< 0 when there are no modules
  memory::guest_address memmap{};
  memory::guest_address end{};  ///< one past the last byte written
};

/// Writes the start info for `config` at `address` (8-aligned), the module list and memory map right after it.
/// Errors: errc::boot_structure_outside_memory (checked before anything is written; also for an address that is
/// not 8-aligned or a layout that passes 2^64), errc::initrd_empty for an empty module.
[[nodiscard]] auto write_pvh_start_info(const memory::guest_memory& memory, memory::guest_address address,
                                        const pvh_config& config) -> result<pvh_layout>;

// NOLINTEND(readability-redundant-member-init)

}  // namespace vmm::loader
