module vmm.loader;
import std;

namespace vmm::loader {
namespace {

auto message_of(errc e) -> std::string_view {
  switch (e) {
    case errc::image_too_small:
      return "Kernel image is shorter than a bzImage setup header";
    case errc::bad_header_magic:
      return "Kernel image has no \"HdrS\" setup header signature (not a bzImage)";
    case errc::boot_protocol_too_old:
      return "Kernel boot protocol version is older than 2.06";
    case errc::setup_past_eof:
      return "Kernel setup sectors (setup_sects) extend past the end of the image";
    case errc::kernel_size_zero:
      return "Kernel setup header gives a protected-mode kernel size (syssize) of zero";
    case errc::kernel_past_eof:
      return "Protected-mode kernel (syssize) extends past the end of the image";
    case errc::not_loaded_high:
      return "Kernel does not set LOADED_HIGH in loadflags (a zImage, not a bzImage)";
    case errc::no_64bit_entry:
      return "Kernel does not set XLF_KERNEL_64 in xloadflags (no 64-bit entry point)";
    case errc::bad_kernel_alignment:
      return "Kernel alignment (kernel_alignment) is not a power of two of at least 4 KiB";
    case errc::misaligned_load_address:
      return "Kernel load address is not aligned to kernel_alignment, or is not pref_address for a kernel that "
             "is not relocatable";
    case errc::init_size_too_small:
      return "Kernel init_size is smaller than the kernel itself";
    case errc::kernel_outside_memory:
      return "Kernel (up to load address + init_size) does not fit in guest memory";
    case errc::address_overflow:
      return "Address or size from the kernel image overflows 64 bits";
    case errc::elf_too_small:
      return "ELF file is shorter than an ELF64 header";
    case errc::elf_bad_magic:
      return "File has no ELF magic number";
    case errc::elf_not_64bit:
      return "ELF file is not 64-bit (EI_CLASS is not ELFCLASS64)";
    case errc::elf_not_little_endian:
      return "ELF file is not little-endian (EI_DATA is not ELFDATA2LSB)";
    case errc::elf_bad_version:
      return "ELF version (EI_VERSION or e_version) is not EV_CURRENT";
    case errc::elf_not_x86_64:
      return "ELF machine (e_machine) is not x86-64";
    case errc::elf_not_executable:
      return "ELF type (e_type) is not ET_EXEC";
    case errc::elf_bad_header_size:
      return "ELF header size (e_ehsize) is not 64 or program header size (e_phentsize) is not 56";
    case errc::elf_bad_phnum:
      return "ELF program header count (e_phnum) is zero or above the loader's limit";
    case errc::elf_phdrs_past_eof:
      return "ELF program header table extends past the end of the file";
    case errc::elf_segment_past_eof:
      return "ELF segment's file bytes (p_offset + p_filesz) extend past the end of the file";
    case errc::elf_filesz_exceeds_memsz:
      return "ELF PT_LOAD segment has p_filesz larger than p_memsz";
    case errc::elf_segments_overlap:
      return "ELF PT_LOAD segments overlap in guest physical memory";
    case errc::elf_segment_outside_memory:
      return "ELF PT_LOAD segment does not fit in guest memory";
    case errc::elf_no_loadable_segments:
      return "ELF file has no PT_LOAD segment with memory bytes";
    case errc::elf_entry_outside_image:
      return "ELF entry point (or PVH entry) is not inside a loaded segment";
    case errc::elf_bad_note:
      return "ELF note's name or description extends past the end of its PT_NOTE segment";
    case errc::elf_bad_pvh_note:
      return "ELF PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) is not 4 or 8 bytes or points above 4 GiB";
    case errc::initrd_empty:
      return "Initrd is empty";
    case errc::initrd_does_not_fit:
      return "Initrd does not fit in guest memory below initrd_addr_max outside the kernel";
    case errc::initrd_outside_memory:
      return "Initrd does not fit in guest memory at the given address";
    case errc::cmdline_too_long:
      return "Kernel command line would exceed its capacity (cmdline_size)";
    case errc::cmdline_invalid_character:
      return "Kernel command line text holds NUL, a newline or another control character";
    case errc::cmdline_quote_in_value:
      return "Kernel command line value holds a double quote (the kernel has no escapes)";
    case errc::cmdline_bad_key:
      return "Kernel command line key or flag is empty or holds a space, '=' or a double quote";
    case errc::cmdline_bad_device:
      return "virtio-mmio device has size zero or a range that overflows 64 bits";
    case errc::too_many_memory_map_entries:
      return "Memory map has more entries than the zero page holds (128)";
    case errc::memory_map_entry_empty:
      return "Memory map entry has size zero";
    case errc::memory_map_overlap:
      return "Memory map entries overlap";
    case errc::boot_structure_outside_memory:
      return "Boot structure (zero page, command line, GDT, page tables, start info) does not fit in guest memory";
    case errc::misaligned_page_tables:
      return "Page table address is not 4 KiB-aligned";
    case errc::bad_identity_map_size:
      return "Identity map size must be 1 to 512 GiB";
    case errc::address_above_4g:
      return "Command line or initrd lies above 4 GiB where the boot protocol has a 32-bit field";
  }
  return {};
}

class loader_error_category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.loader"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    const std::string_view text = message_of(static_cast<errc>(value));
    if (text.empty()) {
      return "Unknown vmm.loader error " + std::to_string(value);
    }
    return std::string{text};
  }
};

}  // namespace

auto loader_category() noexcept -> const std::error_category& {
  static const loader_error_category category;
  return category;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), loader_category()};
}

}  // namespace vmm::loader
