module;
#include <cerrno>
module vmm.loader;
import std;
import vmm.sys;
import vmm.memory;

namespace vmm::loader {
namespace {

using memory::guest_address;

constexpr std::uint64_t sector_size = 512;
// setup_sects == 0 means 4, for compatibility with boot sectors older than the field (boot protocol).
constexpr std::uint64_t legacy_setup_sects = 4;
constexpr std::uint64_t syssize_unit = 16;
constexpr std::uint64_t page_alignment = 4096;
constexpr std::uint16_t protocol_2_10 = 0x020a;
constexpr std::uint16_t protocol_2_11 = 0x020b;

// Alignment and address rules that depend on how the kernel may be placed.
[[nodiscard]] auto decode_alignment(const setup_header& raw, bzimage_header& header) -> result<void> {
  header.relocatable = raw.relocatable_kernel != 0;
  header.kernel_alignment = raw.kernel_alignment;
  if (!header.relocatable) {
    header.min_alignment = page_alignment;
    return {};
  }
  if (header.kernel_alignment < page_alignment || !std::has_single_bit(header.kernel_alignment)) {
    return failure(errc::bad_kernel_alignment);
  }
  header.min_alignment = header.kernel_alignment;
  if (header.version >= protocol_2_10) {
    // The kernel may be loaded at 1 << min_alignment when its preferred alignment cannot be had; never looser than
    // a page, never stricter than the preferred alignment.
    if (std::uint64_t{1} << std::min<unsigned>(raw.min_alignment, 63U) > header.kernel_alignment) {
      return failure(errc::bad_kernel_alignment);
    }
    header.min_alignment = std::max(page_alignment, std::uint64_t{1} << raw.min_alignment);
  }
  return {};
}

// Where the kernel goes, checked against the header and guest memory; nothing is written.
[[nodiscard]] auto place_kernel(const memory::guest_memory& memory, const bzimage_header& header,
                                const bzimage_options& options) -> result<bzimage_load> {
  if (options.require_64bit_entry && (header.xloadflags & xlf_kernel_64) == 0) {
    return failure(errc::no_64bit_entry);
  }
  const guest_address address = options.load_address.value_or(header.pref_address);
  if (header.relocatable ? !address.is_aligned(header.min_alignment) : address != header.pref_address) {
    return failure(errc::misaligned_load_address);
  }
  const std::uint64_t footprint = std::max(header.kernel_size, header.init_size);
  const auto end = address.checked_add(footprint);
  const auto entry = address.checked_add(entry_64_offset);
  if (!end || !entry) {
    return failure(errc::address_overflow);
  }
  if (!memory.contains_range(address, footprint)) {
    return failure(errc::kernel_outside_memory);
  }
  return bzimage_load{.load_address = address,
                      .entry_64 = *entry,
                      .header = header,
                      .size_loaded = header.kernel_size,
                      .kernel_end = *end};
}

// Reads exactly `length` bytes of `fd` at `offset` into `buffer`, retrying after EINTR and short reads.
[[nodiscard]] auto pread_exact(sys::borrowed_fd fd, sys::io_buffer buffer, std::uint64_t offset) -> result<void> {
  auto* next = static_cast<std::byte*>(buffer.base);
  std::size_t left = buffer.length;
  while (left != 0) {
    const std::array<sys::io_buffer, 1> piece{sys::io_buffer{.base = next, .length = left}};
    auto got = sys::preadv(fd, piece, offset);
    if (!got) {
      if (got.error() == std::error_code{EINTR, std::system_category()}) {
        continue;
      }
      return std::unexpected(got.error());
    }
    if (*got == 0) {
      return failure(errc::kernel_past_eof);
    }
    next += *got;
    left -= *got;
    offset += *got;
  }
  return {};
}

}  // namespace

auto parse_bzimage_header(std::span<const std::byte> head, std::uint64_t image_size) -> result<bzimage_header> {
  if (image_size < bzimage_header_span || head.size() < bzimage_header_span) {
    return failure(errc::image_too_small);
  }
  bzimage_header header;
  std::memcpy(&header.raw, head.data() + setup_header_offset, sizeof(setup_header));
  const setup_header& raw = header.raw;
  if (raw.header != setup_header_magic) {
    return failure(errc::bad_header_magic);
  }
  header.version = raw.version;
  if (header.version < min_boot_protocol) {
    return failure(errc::boot_protocol_too_old);
  }
  const std::uint64_t sects = raw.setup_sects == 0 ? legacy_setup_sects : raw.setup_sects;
  header.setup_size = (sects + 1) * sector_size;
  if (header.setup_size > image_size) {
    return failure(errc::setup_past_eof);
  }
  header.kernel_size = std::uint64_t{raw.syssize} * syssize_unit;
  if (header.kernel_size == 0) {
    return failure(errc::kernel_size_zero);
  }
  if (header.kernel_size > image_size - header.setup_size) {
    return failure(errc::kernel_past_eof);
  }
  header.loadflags = raw.loadflags;
  header.xloadflags = raw.xloadflags;
  if ((header.loadflags & loadflag_loaded_high) == 0) {
    return failure(errc::not_loaded_high);
  }
  if (auto aligned = decode_alignment(raw, header); !aligned) {
    return std::unexpected(aligned.error());
  }
  header.cmdline_size = raw.cmdline_size;
  header.initrd_addr_max = raw.initrd_addr_max == 0 ? default_initrd_addr_max : raw.initrd_addr_max;
  const bool has_2_10 = header.version >= protocol_2_10;
  header.pref_address = guest_address{has_2_10 ? raw.pref_address : default_kernel_address};
  header.init_size = has_2_10 ? raw.init_size : header.kernel_size;
  if (header.init_size < header.kernel_size) {
    return failure(errc::init_size_too_small);
  }
  header.handover_offset = header.version >= protocol_2_11 ? raw.handover_offset : 0;
  return header;
}

auto load_bzimage(const memory::guest_memory& memory, std::span<const std::byte> image, const bzimage_options& options)
    -> result<bzimage_load> {
  auto header = parse_bzimage_header(image, image.size());
  if (!header) {
    return std::unexpected(header.error());
  }
  auto placed = place_kernel(memory, *header, options);
  if (!placed) {
    return placed;
  }
  if (auto written = memory.write_all(placed->load_address, image.subspan(header->setup_size, header->kernel_size));
      !written) {
    return failure(errc::kernel_outside_memory);
  }
  return placed;
}

auto load_bzimage(const memory::guest_memory& memory, sys::borrowed_fd fd, const bzimage_options& options)
    -> result<bzimage_load> {
  auto status = sys::status(fd);
  if (!status) {
    return std::unexpected(status.error());
  }
  std::array<std::byte, bzimage_header_span> head{};
  const std::size_t head_size = static_cast<std::size_t>(std::min<std::uint64_t>(status->size, head.size()));
  if (auto read = pread_exact(fd, {.base = head.data(), .length = head_size}, 0); !read) {
    return std::unexpected(
        read.error() == make_error_code(errc::kernel_past_eof) ? make_error_code(errc::image_too_small) : read.error());
  }
  auto header = parse_bzimage_header(std::span{head}.first(head_size), status->size);
  if (!header) {
    return std::unexpected(header.error());
  }
  auto placed = place_kernel(memory, *header, options);
  if (!placed) {
    return placed;
  }
  std::vector<sys::io_buffer> buffers;
  if (auto mapped = memory.append_io_buffers(placed->load_address, header->kernel_size, memory::access::write, buffers);
      !mapped) {
    return failure(errc::kernel_outside_memory);
  }
  std::uint64_t offset = header->setup_size;
  for (const auto& buffer : buffers) {
    if (auto read = pread_exact(fd, buffer, offset); !read) {
      return std::unexpected(read.error());
    }
    offset += buffer.length;
  }
  return placed;
}

}  // namespace vmm::loader
