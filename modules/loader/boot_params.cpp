module;
#include <asm/bootparam.h>
#include <cstddef>
module vmm.loader;
import std;
import vmm.sys;
import vmm.memory;

namespace vmm::loader {
namespace {

using memory::guest_address;

// The boot protocol's offsets (Documentation/arch/x86/zero-page.rst), checked against the kernel's header.
static_assert(sizeof(boot_params) == 4096);
static_assert(offsetof(boot_params, ext_ramdisk_image) == 0x0c0);
static_assert(offsetof(boot_params, ext_cmd_line_ptr) == 0x0c8);
static_assert(offsetof(boot_params, acpi_rsdp_addr) == 0x070);
static_assert(offsetof(boot_params, e820_entries) == 0x1e8);
static_assert(offsetof(boot_params, hdr) == setup_header_offset);
static_assert(offsetof(boot_params, e820_table) == 0x2d0);
static_assert(sizeof(boot_e820_entry) == 20);
static_assert(offsetof(setup_header, header) == 0x202 - setup_header_offset);
static_assert(offsetof(setup_header, cmdline_size) == 0x238 - setup_header_offset);
static_assert(offsetof(setup_header, init_size) == 0x260 - setup_header_offset);

constexpr std::uint64_t low_32_mask = 0xffffffff;

[[nodiscard]] auto low_32(std::uint64_t value) -> std::uint32_t {
  return static_cast<std::uint32_t>(value & low_32_mask);
}

[[nodiscard]] auto high_32(std::uint64_t value) -> std::uint32_t {
  return static_cast<std::uint32_t>(value >> 32U);
}

}  // namespace

auto memory_map::add(guest_address address, std::uint64_t size, memory_type type) -> result<void> {
  if (size == 0) {
    return failure(errc::memory_map_entry_empty);
  }
  auto range = memory::guest_range::make(address, size);
  if (!range) {
    return failure(errc::address_overflow);
  }
  const auto at = std::ranges::lower_bound(entries_, address, {}, &memory_map_entry::address);
  const bool overlaps_next = at != entries_.end() && range->overlaps({.start = at->address, .size = at->size});
  const bool overlaps_previous =
      at != entries_.begin() && range->overlaps({.start = (at - 1)->address, .size = (at - 1)->size});
  if (overlaps_next || overlaps_previous) {
    return failure(errc::memory_map_overlap);
  }
  if (entries_.size() == max_memory_map_entries) {
    return failure(errc::too_many_memory_map_entries);
  }
  entries_.insert(at, {.address = address, .size = size, .type = type});
  return {};
}

auto make_boot_params(const zero_page_config& config) -> result<boot_params> {
  boot_params params{};
  params.hdr = config.header;
  const bool above_4g_allowed = (config.header.xloadflags & xlf_can_be_loaded_above_4g) != 0;
  const bool cmdline_high = high_32(config.cmdline_address.raw()) != 0;
  const bool initrd_high = config.initrd.size != 0 && high_32(config.initrd.start.raw()) != 0;
  if ((cmdline_high || initrd_high) && !above_4g_allowed) {
    return failure(errc::address_above_4g);
  }
  if (config.initrd.size > low_32_mask && !above_4g_allowed) {
    return failure(errc::address_above_4g);
  }
  if (config.header.cmdline_size != 0 && config.cmdline_size > config.header.cmdline_size) {
    return failure(errc::cmdline_too_long);
  }
  params.hdr.type_of_loader = undefined_loader;
  params.hdr.vid_mode = config.vid_mode;
  params.hdr.cmd_line_ptr = low_32(config.cmdline_address.raw());
  params.ext_cmd_line_ptr = high_32(config.cmdline_address.raw());
  if (config.initrd.size != 0) {
    params.hdr.ramdisk_image = low_32(config.initrd.start.raw());
    params.ext_ramdisk_image = high_32(config.initrd.start.raw());
    params.hdr.ramdisk_size = low_32(config.initrd.size);
    params.ext_ramdisk_size = high_32(config.initrd.size);
  }
  params.acpi_rsdp_addr = config.acpi_rsdp.raw();
  const auto entries = config.e820.entries();
  params.e820_entries = static_cast<std::uint8_t>(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-constant-array-index): memory_map holds at most 128 entries.
    auto& slot = params.e820_table[i];
    slot.addr = entries[i].address.raw();
    slot.size = entries[i].size;
    slot.type = std::to_underlying(entries[i].type);
  }
  return params;
}

auto write_boot_params(const memory::guest_memory& memory, guest_address address, const boot_params& params)
    -> result<void> {
  if (auto written = memory.write_obj(address, params); !written) {
    return failure(errc::boot_structure_outside_memory);
  }
  return {};
}

}  // namespace vmm::loader
