// vmm.loader:bzimage — the x86 boot protocol's setup header, and loading a bzImage's protected-mode kernel into
// guest memory (rust-vmm linux-loader's BzImage).
//
// Only the protected-mode part is loaded: the VMM enters the kernel through its 64-bit entry (load address + 0x200)
// with a zero page it built itself, so the real-mode setup code never runs. Every size and offset the image gives
// (setup_sects, syssize, init_size, kernel_alignment, pref_address) is checked against the image size and guest
// memory before one byte is copied.
module;
#include <asm/bootparam.h>
export module vmm.loader:bzimage;
import std;
import vmm.sys;
import vmm.memory;
import :error;

export namespace vmm::loader {

// The explicit {} on members lets designated initializers omit them without clang's
// -Wmissing-designated-field-initializers; clang-tidy calls them redundant.
// NOLINTBEGIN(readability-redundant-member-init)

/// The boot protocol's setup header, in the kernel's layout (<asm/bootparam.h>, packed): what an image carries at
/// offset 0x1f1 and what the zero page carries at the same offset.
using setup_header = ::setup_header;

/// Where the setup header starts in a bzImage (and in the zero page).
inline constexpr std::uint64_t setup_header_offset = 0x1f1;
/// The setup header's signature, "HdrS" read as a little-endian 32-bit number.
inline constexpr std::uint32_t setup_header_magic = 0x53726448;
/// The oldest boot protocol this loader accepts: 2.06 gives cmdline_size and a reliable 32-bit syssize (2.04),
/// relocatable_kernel and kernel_alignment (2.05); older kernels (before Linux 2.6.22) are refused.
inline constexpr std::uint16_t min_boot_protocol = 0x0206;
/// loadflags: the protected-mode kernel is loaded at 0x100000 or above (a bzImage).
inline constexpr std::uint8_t loadflag_loaded_high = LOADED_HIGH;
/// loadflags: the boot loader has set heap_end_ptr.
inline constexpr std::uint8_t loadflag_can_use_heap = CAN_USE_HEAP;
/// xloadflags: the kernel has the 64-bit entry point at load address + 0x200.
inline constexpr std::uint16_t xlf_kernel_64 = XLF_KERNEL_64;
/// xloadflags: the kernel, initrd and command line may lie above 4 GiB.
inline constexpr std::uint16_t xlf_can_be_loaded_above_4g = XLF_CAN_BE_LOADED_ABOVE_4G;
/// The 64-bit entry point's offset from the load address (boot protocol, "64-bit boot protocol").
inline constexpr std::uint64_t entry_64_offset = 0x200;
/// Where kernels before boot protocol 2.10 (which have no pref_address) are loaded.
inline constexpr std::uint64_t default_kernel_address = 0x100000;
/// The initrd_addr_max the boot protocol prescribes for kernels that leave the field zero.
inline constexpr std::uint64_t default_initrd_addr_max = 0x37ffffff;
/// How many bytes of an image's start parse_bzimage_header needs at most (the boot sector and the setup header).
inline constexpr std::uint64_t bzimage_header_span = setup_header_offset + sizeof(setup_header);

/// A bzImage's setup header, checked and decoded. Fields a kernel's protocol version does not have yet hold the
/// protocol's defaults (pref_address 1 MiB and init_size = kernel_size before 2.10, handover_offset 0 before 2.11).
struct bzimage_header {
  setup_header raw{};             ///< the header as the image has it (copy it into the zero page)
  std::uint16_t version = 0;      ///< boot protocol version, e.g. 0x020f for 2.15
  std::uint64_t setup_size = 0;   ///< bytes before the protected-mode kernel: (setup_sects, 0 meaning 4, + 1) * 512
  std::uint64_t kernel_size = 0;  ///< bytes of protected-mode kernel: syssize * 16
  std::uint8_t loadflags = 0;     ///< loadflags (loadflag_*)
  std::uint16_t xloadflags = 0;   ///< xloadflags (xlf_*)
  bool relocatable = false;       ///< relocatable_kernel: may be loaded at any aligned address
  std::uint64_t kernel_alignment = 0;    ///< preferred alignment of the load address
  std::uint64_t min_alignment = 0;       ///< alignment the load address must have (1 << min_alignment from 2.10)
  std::uint32_t cmdline_size = 0;        ///< most command line bytes, without the terminating NUL
  std::uint64_t initrd_addr_max = 0;     ///< highest address the initrd may occupy (inclusive)
  memory::guest_address pref_address{};  ///< preferred load address
  std::uint64_t init_size = 0;           ///< bytes the kernel needs from its load address while it boots
  std::uint32_t handover_offset = 0;     ///< EFI handover entry offset (0: none)
};

/// Checks and decodes the setup header of a bzImage of `image_size` bytes whose first bytes are `head` (at least
/// bzimage_header_span of them, or all of a smaller image). Errors: errc::image_too_small, bad_header_magic,
/// boot_protocol_too_old, setup_past_eof, kernel_size_zero, kernel_past_eof, not_loaded_high,
/// bad_kernel_alignment, init_size_too_small.
[[nodiscard]] auto parse_bzimage_header(std::span<const std::byte> head, std::uint64_t image_size)
    -> result<bzimage_header>;

/// How load_bzimage places the kernel.
struct bzimage_options {
  /// Where to load the protected-mode kernel; default: the header's pref_address (1 MiB before protocol 2.10).
  std::optional<memory::guest_address> load_address{};
  /// Refuse a kernel without XLF_KERNEL_64 (errc::no_64bit_entry); true because entry_64 is what the VMM jumps to.
  bool require_64bit_entry = true;
};

/// Where load_bzimage put the kernel.
struct bzimage_load {
  memory::guest_address load_address{};  ///< first byte of the protected-mode kernel
  memory::guest_address entry_64{};      ///< the 64-bit entry point: load_address + 0x200
  bzimage_header header{};               ///< the checked header
  std::uint64_t size_loaded = 0;         ///< bytes copied (header.kernel_size)
  memory::guest_address kernel_end{};    ///< load_address + max(kernel_size, init_size): the kernel's memory ends here
};

/// Loads the protected-mode kernel of the bzImage `image` into `memory`. Everything is checked before anything is
/// written. Errors: those of parse_bzimage_header; errc::no_64bit_entry, misaligned_load_address (not a multiple
/// of min_alignment, or not pref_address for a kernel that is not relocatable), address_overflow,
/// kernel_outside_memory (the whole range up to kernel_end must be guest memory).
[[nodiscard]] auto load_bzimage(const memory::guest_memory& memory, std::span<const std::byte> image,
                                const bzimage_options& options = {}) -> result<bzimage_load>;

/// As load_bzimage for bytes, reading the image from the file `fd` (pread, the file position is unused) straight
/// into guest memory. Errors: as above; the fd's errors; errc::kernel_past_eof when the file shrinks while it is
/// read (the kernel range then holds part of the kernel).
[[nodiscard]] auto load_bzimage(const memory::guest_memory& memory, sys::borrowed_fd fd,
                                const bzimage_options& options = {}) -> result<bzimage_load>;

// NOLINTEND(readability-redundant-member-init)

}  // namespace vmm::loader
