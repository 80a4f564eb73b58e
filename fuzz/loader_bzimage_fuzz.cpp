// Fuzzes vmm.loader's bzImage loader with arbitrary files. The input is the image. Each input is parsed
// (parse_bzimage_header, also from a head cut short at every length the input's first byte picks) and loaded into
// an 8 MiB guest at its pref_address and at 2 MiB. Checked, trapping on a mismatch:
//   - the loader never reads or writes out of bounds (ASan) and never overflows (UBSan);
//   - a header that parses has setup_size + kernel_size <= the input size, init_size >= kernel_size, and
//     version >= 2.06;
//   - a successful load copied exactly the input's bytes [setup_size, setup_size + kernel_size) to the load
//     address, which is aligned as the header asks, with entry_64 = load + 0x200 and kernel_end inside memory;
//   - a failed load wrote nothing in the kernel's range.
#include <cstddef>
#include <cstdint>

import std;
import vmm.sys;
import vmm.memory;
import vmm.loader;

namespace {

namespace mem = vmm::memory;
namespace ld = vmm::loader;

constexpr std::uint64_t guest_size = std::uint64_t{4} << 20U;
constexpr std::uint64_t second_address = std::uint64_t{2} << 20U;

[[noreturn]] void mismatch() {
  __builtin_trap();
}

auto guest() -> const mem::guest_memory& {
  static const mem::guest_memory memory = [] {
    const std::array ranges{mem::guest_range{.start = mem::guest_address{0}, .size = guest_size}};
    auto made = mem::guest_memory::anonymous(ranges, {.track_dirty = true});
    if (!made) {
      mismatch();
    }
    return std::move(*made);
  }();
  return memory;
}

auto host() -> std::byte* {
  return guest().regions().front()->host_address();
}

// Whether any page was written since the last call (the region's dirty bitmap, cleared by this).
auto written_since_last_check() -> bool {
  const auto words = guest().regions().front()->bitmap()->take();
  return std::ranges::any_of(words, [](std::uint64_t w) { return w != 0; });
}

void check_header(const ld::bzimage_header& h, std::size_t size) {
  if (h.setup_size + h.kernel_size > size || h.init_size < h.kernel_size || h.version < ld::min_boot_protocol ||
      h.kernel_size == 0) {
    mismatch();
  }
}

void try_load(std::span<const std::byte> image, std::optional<mem::guest_address> at) {
  static_cast<void>(written_since_last_check());
  const auto load = ld::load_bzimage(guest(), image, {.load_address = at});
  if (!load) {
    if (written_since_last_check()) {
      mismatch();  // a failed load wrote something
    }
    return;
  }
  const auto& h = load->header;
  check_header(h, image.size());
  const std::uint64_t address = load->load_address.raw();
  if (h.relocatable ? address % h.min_alignment != 0 : address != h.pref_address.raw()) {
    mismatch();
  }
  if (load->entry_64.raw() != address + ld::entry_64_offset || load->kernel_end.raw() > guest_size ||
      load->size_loaded != h.kernel_size || (at && address != at->raw())) {
    mismatch();
  }
  if (std::memcmp(host() + address, image.data() + h.setup_size, h.kernel_size) != 0) {
    mismatch();
  }
}

}  // namespace

extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) -> int {
  const std::span image{reinterpret_cast<const std::byte*>(data), size};
  if (auto header = ld::parse_bzimage_header(image, image.size())) {
    check_header(*header, size);
  }
  if (size != 0) {
    // The same header from a head cut short: must fail or agree, never read past the head.
    const std::size_t cut = std::min<std::size_t>(size, ld::bzimage_header_span - 64 + (data[0] % 128));
    const std::vector<std::byte> head(image.begin(), image.begin() + static_cast<std::ptrdiff_t>(cut));
    auto short_header = ld::parse_bzimage_header(head, size);
    auto full_header = ld::parse_bzimage_header(image, size);
    if (short_header && (!full_header || short_header->kernel_size != full_header->kernel_size)) {
      mismatch();
    }
  }
  try_load(image, std::nullopt);
  try_load(image, mem::guest_address{second_address});
  return 0;
}
