// vmm.loader:elf — loading an x86-64 ELF vmlinux into guest memory and finding its PVH entry (rust-vmm
// linux-loader's Elf).
//
// PT_LOAD segments go to their physical addresses (p_paddr, plus an optional offset), file bytes copied and the
// rest (bss) zeroed. PT_NOTE segments are searched for the Xen note XEN_ELFNOTE_PHYS32_ENTRY, the 32-bit PVH entry
// point. Every header field that sizes or places something is checked against the file and guest memory before
// anything is written.
export module vmm.loader:elf;
import std;
import vmm.sys;
import vmm.memory;
import :error;

export namespace vmm::loader {

// The explicit {} on members lets designated initializers omit them without clang's
// -Wmissing-designated-field-initializers; clang-tidy calls them redundant.
// NOLINTBEGIN(readability-redundant-member-init)

/// The most program headers load_elf accepts (a vmlinux has about 5; the limit bounds the work a hostile file
/// can ask for).
inline constexpr std::size_t max_program_headers = 64;
/// The ELF note type of the PVH 32-bit entry point, in notes named "Xen" (xen/include/public/elfnote.h).
inline constexpr std::uint32_t xen_elfnote_phys32_entry = 18;

/// How load_elf places the segments.
struct elf_options {
  /// Added to every p_paddr and to the entry points (rust-vmm's kernel_offset).
  std::uint64_t address_offset = 0;
};

/// One PT_LOAD segment as load_elf placed it.
struct elf_segment {
  memory::guest_address address{};  ///< p_paddr + address_offset
  std::uint64_t file_size = 0;      ///< bytes copied from the file (p_filesz)
  std::uint64_t memory_size = 0;    ///< bytes the segment occupies (p_memsz); beyond file_size they are zeroed
};

/// Where load_elf put the kernel.
struct elf_load {
  memory::guest_address entry{};                     ///< e_entry + address_offset (the 64-bit entry of a vmlinux)
  std::optional<memory::guest_address> pvh_entry{};  ///< the PVH (32-bit) entry + address_offset, when the note exists
  memory::guest_address lowest{};                    ///< the lowest address a segment occupies
  memory::guest_address kernel_end{};                ///< one past the highest address a segment occupies
  std::uint64_t size_loaded = 0;                     ///< file bytes copied, over all segments
  std::vector<elf_segment> segments{};               ///< the PT_LOAD segments with memory bytes, in file order
};

/// Loads the PT_LOAD segments of the ELF64 x86-64 executable `image` into `memory`. All headers and notes are
/// checked before anything is written. Errors: errc::elf_too_small, elf_bad_magic, elf_not_64bit,
/// elf_not_little_endian, elf_bad_version, elf_not_x86_64, elf_not_executable, elf_bad_header_size, elf_bad_phnum,
/// elf_phdrs_past_eof, elf_segment_past_eof, elf_filesz_exceeds_memsz, elf_segments_overlap, address_overflow,
/// elf_segment_outside_memory, elf_no_loadable_segments, elf_entry_outside_image, elf_bad_note, elf_bad_pvh_note.
[[nodiscard]] auto load_elf(const memory::guest_memory& memory, std::span<const std::byte> image,
                            const elf_options& options = {}) -> result<elf_load>;

/// The PVH entry (XEN_ELFNOTE_PHYS32_ENTRY, unrelocated) of the ELF64 x86-64 executable `image`, or nullopt when
/// it has none; writes nothing. Errors: the header and note errors of load_elf (not the segment placement ones).
[[nodiscard]] auto find_pvh_entry(std::span<const std::byte> image) -> result<std::optional<memory::guest_address>>;

// NOLINTEND(readability-redundant-member-init)

}  // namespace vmm::loader
