module;
#include <elf.h>
module vmm.loader;
import std;
import vmm.sys;
import vmm.memory;

namespace vmm::loader {
namespace {

using memory::guest_address;

constexpr std::uint64_t elf_header_size = sizeof(Elf64_Ehdr);
constexpr std::uint64_t program_header_size = sizeof(Elf64_Phdr);
constexpr std::uint64_t note_header_size = 3 * sizeof(std::uint32_t);
constexpr std::uint64_t pvh_entry_limit = std::uint64_t{1} << 32U;
constexpr std::array<char, 4> xen_note_name{'X', 'e', 'n', '\0'};
// Zero bytes for a segment's bss, written a chunk at a time.
constexpr std::size_t zero_chunk = std::size_t{64} * 1024;

// The checked headers of an image: what load_elf and find_pvh_entry share.
struct parsed_elf {
  std::uint64_t entry = 0;
  std::vector<Elf64_Phdr> loads;  // PT_LOAD with p_memsz > 0, in file order
  std::optional<std::uint64_t> pvh_entry;
};

[[nodiscard]] auto check_ident(const Elf64_Ehdr& header) -> result<void> {
  const auto& ident = header.e_ident;
  if (ident[EI_MAG0] != ELFMAG0 || ident[EI_MAG1] != ELFMAG1 || ident[EI_MAG2] != ELFMAG2 ||
      ident[EI_MAG3] != ELFMAG3) {
    return failure(errc::elf_bad_magic);
  }
  if (ident[EI_CLASS] != ELFCLASS64) {
    return failure(errc::elf_not_64bit);
  }
  if (ident[EI_DATA] != ELFDATA2LSB) {
    return failure(errc::elf_not_little_endian);
  }
  if (ident[EI_VERSION] != EV_CURRENT || header.e_version != EV_CURRENT) {
    return failure(errc::elf_bad_version);
  }
  if (header.e_machine != EM_X86_64) {
    return failure(errc::elf_not_x86_64);
  }
  if (header.e_type != ET_EXEC) {
    return failure(errc::elf_not_executable);
  }
  if (header.e_ehsize != elf_header_size || header.e_phentsize != program_header_size) {
    return failure(errc::elf_bad_header_size);
  }
  return {};
}

// Whether [offset, offset + size) lies inside a file of `file_size` bytes, without overflowing.
[[nodiscard]] auto within_file(std::uint64_t offset, std::uint64_t size, std::uint64_t file_size) -> bool {
  return offset <= file_size && size <= file_size - offset;
}

// The PVH entry in the notes of one PT_NOTE segment, if there is one.
[[nodiscard]] auto scan_notes(std::span<const std::byte> notes, std::uint64_t alignment)
    -> result<std::optional<std::uint64_t>> {
  const std::uint64_t pad = alignment == 8 ? 8 : 4;
  auto padded = [pad](std::uint64_t n) {
    return (n + (pad - 1)) & ~(pad - 1);
  };
  std::optional<std::uint64_t> found;
  std::uint64_t at = 0;
  while (at < notes.size()) {
    if (notes.size() - at < note_header_size) {
      return failure(errc::elf_bad_note);
    }
    std::array<std::uint32_t, 3> words{};
    std::memcpy(words.data(), notes.data() + at, words.size() * sizeof(std::uint32_t));
    const auto [name_size, desc_size, type] = words;
    const std::uint64_t name_at = at + note_header_size;
    const std::uint64_t left = notes.size() - name_at;
    // Both sizes are 32-bit, so their padded sum cannot overflow 64 bits.
    if (padded(name_size) > left || desc_size > left - padded(name_size)) {
      return failure(errc::elf_bad_note);
    }
    const std::uint64_t desc_at = name_at + padded(name_size);
    const auto name = notes.subspan(name_at, name_size);
    if (type == xen_elfnote_phys32_entry && name.size() == xen_note_name.size() &&
        std::memcmp(name.data(), xen_note_name.data(), xen_note_name.size()) == 0) {
      std::uint64_t value = 0;
      if (desc_size != sizeof(std::uint32_t) && desc_size != sizeof(std::uint64_t)) {
        return failure(errc::elf_bad_pvh_note);
      }
      std::memcpy(&value, notes.data() + desc_at, desc_size);
      if (value >= pvh_entry_limit) {
        return failure(errc::elf_bad_pvh_note);
      }
      found = value;
    }
    // The last note's description may end without its padding at the end of the segment.
    at = desc_at + std::min<std::uint64_t>(padded(desc_size), notes.size() - desc_at);
  }
  return found;
}

[[nodiscard]] auto parse(std::span<const std::byte> image) -> result<parsed_elf> {
  if (image.size() < elf_header_size) {
    return failure(errc::elf_too_small);
  }
  Elf64_Ehdr header{};
  std::memcpy(&header, image.data(), sizeof(header));
  if (auto checked = check_ident(header); !checked) {
    return std::unexpected(checked.error());
  }
  if (header.e_phnum == 0 || header.e_phnum > max_program_headers) {
    return failure(errc::elf_bad_phnum);
  }
  if (!within_file(header.e_phoff, header.e_phnum * program_header_size, image.size())) {
    return failure(errc::elf_phdrs_past_eof);
  }
  parsed_elf parsed;
  parsed.entry = header.e_entry;
  for (std::size_t i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr phdr{};
    std::memcpy(&phdr, image.data() + header.e_phoff + (i * program_header_size), sizeof(phdr));
    if (phdr.p_type != PT_LOAD && phdr.p_type != PT_NOTE) {
      continue;
    }
    if (!within_file(phdr.p_offset, phdr.p_filesz, image.size())) {
      return failure(errc::elf_segment_past_eof);
    }
    if (phdr.p_type == PT_NOTE) {
      auto entry = scan_notes(image.subspan(phdr.p_offset, phdr.p_filesz), phdr.p_align);
      if (!entry) {
        return std::unexpected(entry.error());
      }
      if (entry->has_value()) {
        parsed.pvh_entry = *entry;
      }
      continue;
    }
    if (phdr.p_filesz > phdr.p_memsz) {
      return failure(errc::elf_filesz_exceeds_memsz);
    }
    if (phdr.p_memsz != 0) {
      parsed.loads.push_back(phdr);
    }
  }
  return parsed;
}

// The segments at their guest addresses, checked for overflow and overlap, sorted by address.
[[nodiscard]] auto place_segments(const parsed_elf& parsed, std::uint64_t offset) -> result<std::vector<elf_segment>> {
  std::vector<elf_segment> segments;
  segments.reserve(parsed.loads.size());
  for (const auto& phdr : parsed.loads) {
    auto start = guest_address{phdr.p_paddr}.checked_add(offset);
    if (!start || !start->checked_add(phdr.p_memsz)) {
      return failure(errc::address_overflow);
    }
    segments.push_back({.address = *start, .file_size = phdr.p_filesz, .memory_size = phdr.p_memsz});
  }
  if (segments.empty()) {
    return failure(errc::elf_no_loadable_segments);
  }
  auto sorted = segments;
  std::ranges::sort(sorted, {}, &elf_segment::address);
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].address.raw() - sorted[i - 1].address.raw() < sorted[i - 1].memory_size) {
      return failure(errc::elf_segments_overlap);
    }
  }
  return segments;
}

[[nodiscard]] auto inside_a_segment(std::span<const elf_segment> segments, guest_address address) -> bool {
  return std::ranges::any_of(segments, [address](const elf_segment& s) {
    return address >= s.address && address.raw() - s.address.raw() < s.memory_size;
  });
}

// The entry points relocated by `offset`, each checked to lie in a segment.
[[nodiscard]] auto place_entries(const parsed_elf& parsed, std::span<const elf_segment> segments, std::uint64_t offset)
    -> result<elf_load> {
  elf_load load;
  const auto entry = guest_address{parsed.entry}.checked_add(offset);
  if (!entry) {
    return failure(errc::address_overflow);
  }
  if (!inside_a_segment(segments, *entry)) {
    return failure(errc::elf_entry_outside_image);
  }
  load.entry = *entry;
  if (parsed.pvh_entry) {
    const auto pvh = guest_address{*parsed.pvh_entry}.checked_add(offset);
    if (!pvh) {
      return failure(errc::address_overflow);
    }
    if (!inside_a_segment(segments, *pvh)) {
      return failure(errc::elf_entry_outside_image);
    }
    load.pvh_entry = *pvh;
  }
  return load;
}

[[nodiscard]] auto write_segment(const memory::guest_memory& memory, const elf_segment& segment,
                                 std::span<const std::byte> bytes) -> result<void> {
  static constexpr std::array<std::byte, zero_chunk> zeros{};
  if (!bytes.empty()) {
    if (auto written = memory.write_all(segment.address, bytes); !written) {
      return failure(errc::elf_segment_outside_memory);
    }
  }
  std::uint64_t done = segment.file_size;
  while (done < segment.memory_size) {
    const std::uint64_t n = std::min<std::uint64_t>(zeros.size(), segment.memory_size - done);
    if (auto written = memory.write_all(segment.address.unchecked_add(done), std::span{zeros}.first(n)); !written) {
      return failure(errc::elf_segment_outside_memory);
    }
    done += n;
  }
  return {};
}

}  // namespace

auto load_elf(const memory::guest_memory& memory, std::span<const std::byte> image, const elf_options& options)
    -> result<elf_load> {
  auto parsed = parse(image);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  auto segments = place_segments(*parsed, options.address_offset);
  if (!segments) {
    return std::unexpected(segments.error());
  }
  auto load = place_entries(*parsed, *segments, options.address_offset);
  if (!load) {
    return load;
  }
  for (const auto& segment : *segments) {
    if (!memory.contains_range(segment.address, segment.memory_size)) {
      return failure(errc::elf_segment_outside_memory);
    }
  }
  load->lowest = guest_address{std::numeric_limits<std::uint64_t>::max()};
  for (std::size_t i = 0; i < segments->size(); ++i) {
    const auto& segment = (*segments)[i];
    const auto& phdr = parsed->loads[i];
    if (auto written = write_segment(memory, segment, image.subspan(phdr.p_offset, phdr.p_filesz)); !written) {
      return std::unexpected(written.error());
    }
    load->lowest = std::min(load->lowest, segment.address);
    // place_segments checked that every segment's end fits in 64 bits.
    load->kernel_end = std::max(load->kernel_end, segment.address.unchecked_add(segment.memory_size));
    load->size_loaded += segment.file_size;
  }
  load->segments = std::move(*segments);
  return load;
}

auto find_pvh_entry(std::span<const std::byte> image) -> result<std::optional<guest_address>> {
  auto parsed = parse(image);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  return parsed->pvh_entry.transform([](std::uint64_t entry) { return guest_address{entry}; });
}

}  // namespace vmm::loader
