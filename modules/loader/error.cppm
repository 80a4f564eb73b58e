// vmm.loader:error — the failures vmm.loader detects itself in kernel images, initrds, command lines and boot
// structures (failures of the fd a kernel is read from keep their errno in std::system_category()).
export module vmm.loader:error;
import std;

export namespace vmm::loader {

/// What was wrong with a kernel image, initrd, command line or boot structure. Each value's message
/// (loader_category) is one sentence naming it.
enum class errc : std::uint8_t {
  // bzImage
  image_too_small = 1,      ///< the file is shorter than the real-mode header with the setup header
  bad_header_magic,         ///< the setup header has no "HdrS" signature: not a bzImage
  boot_protocol_too_old,    ///< the boot protocol version is below 2.06
  setup_past_eof,           ///< the setup sectors (setup_sects) extend past the end of the file
  kernel_size_zero,         ///< syssize is zero: the header does not say how large the kernel is
  kernel_past_eof,          ///< the protected-mode kernel (syssize) extends past the end of the file
  not_loaded_high,          ///< loadflags lacks LOADED_HIGH: a zImage that wants to run at 0x10000
  no_64bit_entry,           ///< xloadflags lacks XLF_KERNEL_64: the kernel has no 64-bit entry point
  bad_kernel_alignment,     ///< kernel_alignment is not a power of two of at least 4 KiB
  misaligned_load_address,  ///< the load address is not kernel_alignment-aligned, or differs from
                            ///< pref_address for a kernel that is not relocatable
  init_size_too_small,      ///< init_size is smaller than the kernel that is loaded
  kernel_outside_memory,    ///< the kernel, up to load address + init_size, is not all in guest memory
  address_overflow,         ///< an address or size from the image, added up, passes 2^64
  // ELF
  elf_too_small,               ///< the file is shorter than an ELF64 header
  elf_bad_magic,               ///< the file does not start with "\x7fELF"
  elf_not_64bit,               ///< EI_CLASS is not ELFCLASS64
  elf_not_little_endian,       ///< EI_DATA is not ELFDATA2LSB
  elf_bad_version,             ///< EI_VERSION or e_version is not EV_CURRENT
  elf_not_x86_64,              ///< e_machine is not EM_X86_64
  elf_not_executable,          ///< e_type is not ET_EXEC
  elf_bad_header_size,         ///< e_ehsize is not 64, or e_phentsize is not 56
  elf_bad_phnum,               ///< no program headers, or more than max_program_headers
  elf_phdrs_past_eof,          ///< the program header table extends past the end of the file
  elf_segment_past_eof,        ///< a segment's file bytes (p_offset + p_filesz) extend past the end of the file
  elf_filesz_exceeds_memsz,    ///< a PT_LOAD segment has more file bytes than memory bytes
  elf_segments_overlap,        ///< two PT_LOAD segments share guest physical addresses
  elf_segment_outside_memory,  ///< a PT_LOAD segment does not fit in guest memory
  elf_no_loadable_segments,    ///< the file has no PT_LOAD segment with memory bytes
  elf_entry_outside_image,     ///< e_entry (or the PVH entry) is not inside a loaded segment
  elf_bad_note,                ///< a PT_NOTE entry's name or description runs past the end of its segment
  elf_bad_pvh_note,            ///< the PVH entry note's description is not 4 or 8 bytes, or above 4 GiB
  // initrd
  initrd_empty,           ///< the initrd has no bytes
  initrd_does_not_fit,    ///< no page-aligned place below initrd_addr_max and outside the kernel holds the initrd
  initrd_outside_memory,  ///< the initrd's bytes do not fit in guest memory at the given address
  // command line
  cmdline_too_long,           ///< the command line would exceed its capacity (cmdline_size)
  cmdline_invalid_character,  ///< NUL, newline or another control character in the command line
  cmdline_quote_in_value,     ///< a double quote inside a value (the kernel has no escapes)
  cmdline_bad_key,            ///< a key or flag is empty, or holds a space, '=' or a double quote
  cmdline_bad_device,         ///< a virtio-mmio device has size zero or its range passes 2^64
  // boot structures
  too_many_memory_map_entries,    ///< more memory map (e820) entries than the zero page holds (128)
  memory_map_entry_empty,         ///< a memory map entry has size zero
  memory_map_overlap,             ///< two memory map entries share addresses
  boot_structure_outside_memory,  ///< a zero page, command line, GDT, page table or start info is not in guest memory
  misaligned_page_tables,         ///< the page table address is not 4 KiB-aligned
  bad_identity_map_size,          ///< an identity map of zero GiB, or of more than 512 GiB, was asked
  address_above_4g,               ///< a command line or initrd lies above 4 GiB where the zero page has a 32-bit field
};

/// The category of vmm::loader::errc, named "vmm.loader".
[[nodiscard]] auto loader_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from a vmm::loader::errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::loader

template <>
struct std::is_error_code_enum<vmm::loader::errc> : std::true_type {};
