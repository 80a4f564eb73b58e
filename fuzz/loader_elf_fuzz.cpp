// Fuzzes vmm.loader's ELF loader with arbitrary files. The input is the image; it is loaded into a 4 MiB guest with
// no address offset and with one the input's last byte picks. Checked, trapping on a mismatch:
//   - no out-of-bounds access (ASan), no overflow (UBSan), no hang: work is bounded by max_program_headers and the
//     file size;
//   - find_pvh_entry agrees with load_elf's pvh_entry (without an offset) whenever both succeed, and fails when the
//     headers or notes are bad for load_elf too;
//   - a successful load's segments lie in guest memory, do not overlap, and their bss bytes are zero; entry and
//     pvh_entry lie inside a segment; kernel_end is the highest segment end; size_loaded is the sum of file sizes;
//   - a failed load wrote nothing.
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
constexpr std::uint64_t offset_unit = 0x10000;

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

auto inside(const ld::elf_load& load, std::uint64_t address) -> bool {
  return std::ranges::any_of(load.segments, [address](const ld::elf_segment& s) {
    return address >= s.address.raw() && address - s.address.raw() < s.memory_size;
  });
}

void check_load(const ld::elf_load& load) {
  std::uint64_t end = 0;
  std::uint64_t loaded = 0;
  auto sorted = load.segments;
  std::ranges::sort(sorted, {}, &ld::elf_segment::address);
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const auto& s = sorted[i];
    if (s.file_size > s.memory_size || s.address.raw() > guest_size || s.memory_size > guest_size - s.address.raw()) {
      mismatch();
    }
    if (i > 0 && sorted[i - 1].address.raw() + sorted[i - 1].memory_size > s.address.raw()) {
      mismatch();
    }
    const std::byte* bss = host() + s.address.raw() + s.file_size;
    for (std::uint64_t k = 0; k < s.memory_size - s.file_size; ++k) {
      if (bss[k] != std::byte{0}) {
        mismatch();
      }
    }
    end = std::max(end, s.address.raw() + s.memory_size);
    loaded += s.file_size;
  }
  if (end != load.kernel_end.raw() || loaded != load.size_loaded || !inside(load, load.entry.raw()) ||
      (load.pvh_entry && !inside(load, load.pvh_entry->raw()))) {
    mismatch();
  }
}

auto try_load(std::span<const std::byte> image, std::uint64_t offset) -> vmm::result<ld::elf_load> {
  static_cast<void>(written_since_last_check());
  auto load = ld::load_elf(guest(), image, {.address_offset = offset});
  if (load) {
    check_load(*load);
  } else if (written_since_last_check()) {
    mismatch();  // a failed load wrote something
  }
  return load;
}

}  // namespace

extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) -> int {
  const std::span image{reinterpret_cast<const std::byte*>(data), size};
  const auto pvh = ld::find_pvh_entry(image);
  const auto load = try_load(image, 0);
  if (load && pvh &&
      (load->pvh_entry.has_value() != pvh->has_value() ||
       (pvh->has_value() && load->pvh_entry->raw() != (*pvh)->raw()))) {
    mismatch();
  }
  if (load && !pvh) {
    mismatch();  // load_elf checks everything find_pvh_entry checks
  }
  if (size != 0) {
    static_cast<void>(try_load(image, (data[size - 1] % 64) * offset_unit));
  }
  return 0;
}
