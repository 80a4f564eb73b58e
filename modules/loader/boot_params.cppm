// vmm.loader:boot_params — the memory map a guest is told about, and the Linux zero page (struct boot_params) that
// the 64-bit boot protocol hands the kernel in RSI (rust-vmm linux-loader's LinuxBootConfigurator).
//
// The zero page starts from the kernel image's own setup header (the boot protocol asks the loader to copy it), and
// the loader's fields are filled in: type_of_loader, vid_mode, the command line and initrd (with their ext_ high
// halves), the e820 map, the ACPI RSDP address.
module;
#include <asm/bootparam.h>
export module vmm.loader:boot_params;
import std;
import vmm.sys;
import vmm.memory;
import :error;
import :bzimage;

export namespace vmm::loader {

// The explicit {} on members lets designated initializers omit them without clang's
// -Wmissing-designated-field-initializers; clang-tidy calls them redundant.
// NOLINTBEGIN(readability-redundant-member-init)

/// The zero page, in the kernel's layout (<asm/bootparam.h>): 4096 bytes.
using boot_params = ::boot_params;
/// One e820 entry of the zero page, in the kernel's layout (20 bytes, packed).
using boot_e820_entry = ::boot_e820_entry;

/// The most memory map entries the zero page holds (E820_MAX_ENTRIES_ZEROPAGE); also the limit for a PVH memory map.
inline constexpr std::size_t max_memory_map_entries = E820_MAX_ENTRIES_ZEROPAGE;

/// Memory types of e820 entries (the same numbers in hvm_memmap_table_entry).
// NOLINTNEXTLINE(performance-enum-size): the e820 and PVH memory map type fields are 32-bit.
enum class memory_type : std::uint32_t {
  ram = 1,       ///< usable RAM
  reserved = 2,  ///< reserved, unusable
  acpi = 3,      ///< ACPI tables, reclaimable after boot
  nvs = 4,       ///< ACPI non-volatile storage
  unusable = 5,  ///< bad memory
};

/// One range of the guest's memory map.
struct memory_map_entry {
  memory::guest_address address{};
  std::uint64_t size = 0;
  memory_type type = memory_type::ram;

  friend constexpr auto operator==(const memory_map_entry&, const memory_map_entry&) noexcept -> bool = default;
};

/// A memory map: sorted, non-overlapping entries, at most max_memory_map_entries.
class memory_map {
 public:
  /// Adds [address, address + size) of `type`, keeping the map sorted. Errors: errc::memory_map_entry_empty,
  /// errc::address_overflow (the range passes 2^64), errc::memory_map_overlap, errc::too_many_memory_map_entries.
  /// On error the map is unchanged.
  [[nodiscard]] auto add(memory::guest_address address, std::uint64_t size, memory_type type) -> result<void>;

  /// The entries, sorted by address.
  [[nodiscard]] inline auto entries() const noexcept -> std::span<const memory_map_entry> { return entries_; }

 private:
  std::vector<memory_map_entry> entries_;
};

/// What goes into a zero page besides the kernel's setup header.
struct zero_page_config {
  /// The kernel's setup header (bzimage_header::raw) — for a vmlinux without one, a zeroed header.
  setup_header header{};
  /// The memory map (e820).
  memory_map e820{};
  /// Where the NUL-terminated command line is in guest memory, and its length without the NUL (0: no command line).
  memory::guest_address cmdline_address{};
  std::uint32_t cmdline_size = 0;
  /// Where the initrd is (size 0: none).
  memory::guest_range initrd{};
  /// The video mode (0xffff: "normal", the default VGA text mode).
  std::uint16_t vid_mode = 0xffff;
  /// The ACPI RSDP's address (0: the kernel searches for it).
  memory::guest_address acpi_rsdp{};
};

/// The type_of_loader value of a loader without an assigned ID (boot protocol).
inline constexpr std::uint8_t undefined_loader = 0xff;

/// A zero page from `config`. Errors: errc::address_above_4g when the command line or initrd lies above 4 GiB and
/// the header lacks XLF_CAN_BE_LOADED_ABOVE_4G; errc::cmdline_too_long when cmdline_size exceeds the header's
/// cmdline_size (a header with cmdline_size 0 sets no limit).
[[nodiscard]] auto make_boot_params(const zero_page_config& config) -> result<boot_params>;

/// Writes `params` to guest memory at `address`. Errors: errc::boot_structure_outside_memory (nothing written).
[[nodiscard]] auto write_boot_params(const memory::guest_memory& memory, memory::guest_address address,
                                     const boot_params& params) -> result<void>;

// NOLINTEND(readability-redundant-member-init)

}  // namespace vmm::loader
