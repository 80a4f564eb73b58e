module vmm.loader;
import std;
import vmm.sys;
import vmm.memory;

namespace vmm::loader {
namespace {

using memory::guest_address;

// setup_header.ramdisk_image is 32 bits: the initrd ends at or below 4 GiB - 1.
constexpr std::uint64_t low_memory_last = 0xffffffff;

// The highest aligned start for `size` bytes in [low, top), or nullopt (top is exclusive and at most 2^32).
[[nodiscard]] auto highest_fit(std::uint64_t low, std::uint64_t top, std::uint64_t size)
    -> std::optional<std::uint64_t> {
  if (top <= low || top - low < size) {
    return std::nullopt;
  }
  const std::uint64_t start = (top - size) & ~(initrd_alignment - 1);
  if (start < low) {
    return std::nullopt;
  }
  return start;
}

}  // namespace

auto place_initrd(const memory::guest_memory& memory, std::uint64_t size, std::uint64_t initrd_addr_max,
                  memory::guest_range kernel) -> result<guest_address> {
  if (size == 0) {
    return failure(errc::initrd_empty);
  }
  const std::uint64_t limit = std::min(initrd_addr_max, low_memory_last) + 1;  // exclusive, at most 2^32
  const auto regions = memory.regions();
  for (const auto& region : std::views::reverse(regions)) {
    const std::uint64_t low = region->start().raw();
    if (low >= limit || region->read_only()) {
      continue;
    }
    const std::uint64_t top = std::min(region->last().raw(), limit - 1) + 1;
    auto start = highest_fit(low, top, size);
    if (start && kernel.overlaps(memory::guest_range{.start = guest_address{*start}, .size = size})) {
      // Below the kernel, then, in the same region (above it was tried: the highest fit overlapped).
      start = highest_fit(low, std::min(top, kernel.start.raw()), size);
    }
    if (start) {
      return guest_address{*start};
    }
  }
  return failure(errc::initrd_does_not_fit);
}

auto load_initrd(const memory::guest_memory& memory, guest_address address, std::span<const std::byte> initrd)
    -> result<memory::guest_range> {
  if (initrd.empty()) {
    return failure(errc::initrd_empty);
  }
  auto range = memory::guest_range::make(address, initrd.size());
  if (!range) {
    return failure(errc::initrd_outside_memory);
  }
  if (auto written = memory.write_all(address, initrd); !written) {
    return failure(errc::initrd_outside_memory);
  }
  return *range;
}

}  // namespace vmm::loader
