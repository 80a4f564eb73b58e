// vmm.loader_images — synthetic kernel images for test_loader and the loader fuzz seeds: a bzImage and an ELF64
// vmlinux built field by field at the boot protocol's and the ELF specification's byte offsets (not through
// vmm.loader's own structs, so a layout mistake there shows as a test failure).
export module vmm.loader_images;
import std;

export namespace vmm::loader_images {

/// Little-endian `value` into `out` at `offset` (which must fit).
template <class T>
void put(std::vector<std::byte>& out, std::size_t offset, T value) {
  const auto bytes = std::bit_cast<std::array<std::byte, sizeof(T)>>(value);
  std::ranges::copy(bytes, out.begin() + static_cast<std::ptrdiff_t>(offset));
}

/// The byte at offset i of a synthetic kernel: a pattern with no period of a page, so a misplaced copy shows.
[[nodiscard]] inline auto pattern_byte(std::uint64_t i) -> std::byte {
  return static_cast<std::byte>((i * 7U + (i >> 12U) + 3U) & 0xffU);
}

/// The fields of a synthetic bzImage (defaults: a relocatable 64-bit kernel of protocol 2.15, like Debian's).
struct bzimage_spec {
  std::uint16_t version = 0x020f;
  std::uint8_t setup_sects = 4;
  std::uint32_t kernel_size = 64 * 1024;  ///< multiple of 16 (syssize = kernel_size / 16)
  std::uint32_t syssize_override = 0;     ///< when nonzero, written as syssize instead
  std::uint32_t magic = 0x53726448;
  std::uint8_t loadflags = 0x01;
  std::uint16_t xloadflags = 0x03;  ///< XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  std::uint8_t relocatable = 1;
  std::uint32_t kernel_alignment = 0x200000;
  std::uint8_t min_alignment = 21;
  std::uint32_t cmdline_size = 2047;
  std::uint32_t initrd_addr_max = 0x7fffffff;
  std::uint64_t pref_address = 0x1000000;
  std::uint32_t init_size = 256 * 1024;
  std::uint32_t handover_offset = 0x190;
  std::size_t trailing_bytes = 0;  ///< bytes after the kernel (Debian's signature)
};

/// Setup header offsets in a bzImage (Documentation/arch/x86/boot.rst).
inline constexpr std::size_t off_setup_sects = 0x1f1;
inline constexpr std::size_t off_syssize = 0x1f4;
inline constexpr std::size_t off_boot_flag = 0x1fe;
inline constexpr std::size_t off_header = 0x202;
inline constexpr std::size_t off_version = 0x206;
inline constexpr std::size_t off_loadflags = 0x211;
inline constexpr std::size_t off_initrd_addr_max = 0x22c;
inline constexpr std::size_t off_kernel_alignment = 0x230;
inline constexpr std::size_t off_relocatable = 0x234;
inline constexpr std::size_t off_min_alignment = 0x235;
inline constexpr std::size_t off_xloadflags = 0x236;
inline constexpr std::size_t off_cmdline_size = 0x238;
inline constexpr std::size_t off_pref_address = 0x258;
inline constexpr std::size_t off_init_size = 0x260;
inline constexpr std::size_t off_handover = 0x264;

/// The setup part's size for `setup_sects` (0 means 4).
[[nodiscard]] inline auto setup_bytes(std::uint8_t setup_sects) -> std::size_t {
  return (std::size_t{setup_sects == 0 ? std::uint8_t{4} : setup_sects} + 1) * 512;
}

/// A bzImage: boot sector and setup sectors (0xcc filler), the setup header, then kernel_size pattern bytes.
[[nodiscard]] inline auto make_bzimage(const bzimage_spec& spec) -> std::vector<std::byte> {
  const std::size_t setup = setup_bytes(spec.setup_sects);
  std::vector<std::byte> image(setup + spec.kernel_size + spec.trailing_bytes, std::byte{0xcc});
  for (std::size_t i = 0; i < spec.kernel_size; ++i) {
    image[setup + i] = pattern_byte(i);
  }
  put(image, off_setup_sects, spec.setup_sects);
  put(image, off_syssize, spec.syssize_override != 0 ? spec.syssize_override : spec.kernel_size / 16);
  put(image, off_boot_flag, std::uint16_t{0xaa55});
  put(image, off_header, spec.magic);
  put(image, off_version, spec.version);
  put(image, off_loadflags, spec.loadflags);
  put(image, off_initrd_addr_max, spec.initrd_addr_max);
  put(image, off_kernel_alignment, spec.kernel_alignment);
  put(image, off_relocatable, spec.relocatable);
  put(image, off_min_alignment, spec.min_alignment);
  put(image, off_xloadflags, spec.xloadflags);
  put(image, off_cmdline_size, spec.cmdline_size);
  put(image, off_pref_address, spec.pref_address);
  put(image, off_init_size, spec.init_size);
  put(image, off_handover, spec.handover_offset);
  return image;
}

inline constexpr std::uint32_t pt_load = 1;
inline constexpr std::uint32_t pt_note = 4;
inline constexpr std::size_t elf_header_bytes = 64;
inline constexpr std::size_t phdr_bytes = 56;

/// One program header of a synthetic ELF. Its file bytes are `content` when given, else filesz pattern bytes.
struct elf_segment_spec {
  std::uint32_t type = pt_load;
  std::uint64_t paddr = 0;
  std::uint64_t filesz = 0;
  std::uint64_t memsz = 0;
  std::uint64_t align = 0x1000;
  std::vector<std::byte> content{};
  std::optional<std::uint64_t> offset_override{};  ///< p_offset to write instead of the real one
};

/// The fields of a synthetic ELF64 x86-64 executable.
struct elf_spec {
  std::uint64_t entry = 0x1000000;
  std::vector<elf_segment_spec> segments{};
  std::uint8_t elf_class = 2;
  std::uint8_t data = 1;
  std::uint8_t ident_version = 1;
  std::uint16_t type = 2;
  std::uint16_t machine = 62;
  std::uint32_t version = 1;
  std::uint16_t ehsize = 64;
  std::uint16_t phentsize = 56;
  std::optional<std::uint16_t> phnum_override{};
  std::optional<std::uint64_t> phoff_override{};
};

/// An ELF note: namesz, descsz, type, name (NUL added) padded to 4, desc padded to 4.
[[nodiscard]] inline auto make_note(std::string_view name, std::uint32_t type, std::span<const std::byte> desc)
    -> std::vector<std::byte> {
  const std::size_t name_size = name.size() + 1;
  const std::size_t name_padded = (name_size + 3) & ~std::size_t{3};
  const std::size_t desc_padded = (desc.size() + 3) & ~std::size_t{3};
  std::vector<std::byte> note(12 + name_padded + desc_padded);
  put(note, 0, static_cast<std::uint32_t>(name_size));
  put(note, 4, static_cast<std::uint32_t>(desc.size()));
  put(note, 8, type);
  std::memcpy(note.data() + 12, name.data(), name.size());
  std::ranges::copy(desc, note.begin() + static_cast<std::ptrdiff_t>(12 + name_padded));
  return note;
}

/// The PVH entry note (Xen, XEN_ELFNOTE_PHYS32_ENTRY) with a 4-byte description.
[[nodiscard]] inline auto pvh_note(std::uint32_t entry) -> std::vector<std::byte> {
  return make_note("Xen", 18, std::bit_cast<std::array<std::byte, 4>>(entry));
}

/// An ELF: header, program headers, then each segment's bytes in order (each at a 16-byte-aligned offset).
[[nodiscard]] inline auto make_elf(const elf_spec& spec) -> std::vector<std::byte> {
  const std::size_t phoff = elf_header_bytes;
  std::size_t at = phoff + (spec.segments.size() * phdr_bytes);
  std::vector<std::size_t> offsets;
  for (const auto& s : spec.segments) {
    at = (at + 15) & ~std::size_t{15};
    offsets.push_back(at);
    at += s.content.empty() ? s.filesz : s.content.size();
  }
  std::vector<std::byte> image(at);
  image[0] = std::byte{0x7f};
  image[1] = std::byte{'E'};
  image[2] = std::byte{'L'};
  image[3] = std::byte{'F'};
  image[4] = std::byte{spec.elf_class};
  image[5] = std::byte{spec.data};
  image[6] = std::byte{spec.ident_version};
  put(image, 16, spec.type);
  put(image, 18, spec.machine);
  put(image, 20, spec.version);
  put(image, 24, spec.entry);
  put(image, 32, spec.phoff_override.value_or(phoff));
  put(image, 52, spec.ehsize);
  put(image, 54, spec.phentsize);
  put(image, 56, spec.phnum_override.value_or(static_cast<std::uint16_t>(spec.segments.size())));
  for (std::size_t i = 0; i < spec.segments.size(); ++i) {
    const auto& s = spec.segments[i];
    const std::size_t ph = phoff + (i * phdr_bytes);
    const std::uint64_t filesz = s.content.empty() ? s.filesz : s.content.size();
    put(image, ph, s.type);
    put(image, ph + 4, std::uint32_t{7});
    put(image, ph + 8, s.offset_override.value_or(offsets[i]));
    put(image, ph + 16, s.paddr | 0xffffffff00000000U);  // p_vaddr: a kernel's high mapping, never used
    put(image, ph + 24, s.paddr);
    put(image, ph + 32, s.filesz == 0 && !s.content.empty() ? filesz : s.filesz);
    put(image, ph + 40, s.memsz);
    put(image, ph + 48, s.align);
    if (s.content.empty()) {
      for (std::uint64_t k = 0; k < s.filesz; ++k) {
        image[offsets[i] + k] = pattern_byte(k + (i << 20U));
      }
    } else {
      std::ranges::copy(s.content, image.begin() + static_cast<std::ptrdiff_t>(offsets[i]));
    }
  }
  return image;
}

/// A vmlinux-like ELF: text at 16 MiB (entry there), data with a bss after it, and the PVH note.
[[nodiscard]] inline auto make_vmlinux(std::uint32_t pvh_entry = 0x1000040) -> std::vector<std::byte> {
  auto note = pvh_note(pvh_entry);
  const auto note_size = note.size();
  return make_elf(
      {.entry = 0x1000000,
       .segments = {
           {.paddr = 0x1000000, .filesz = 0x3000, .memsz = 0x3000},
           {.paddr = 0x1200000, .filesz = 0x1800, .memsz = 0x4000},
           {.type = pt_note, .filesz = note_size, .memsz = note_size, .align = 4, .content = std::move(note)}}});
}

}  // namespace vmm::loader_images
