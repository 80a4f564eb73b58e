module vmm.loader;
import std;
import vmm.sys;
import vmm.memory;

namespace vmm::loader {
namespace {

using memory::guest_address;

constexpr std::uint64_t start_info_alignment = 8;

template <class T>
void append(std::vector<std::byte>& out, const T& value) {
  const auto bytes = std::bit_cast<std::array<std::byte, sizeof(T)>>(value);
  out.insert(out.end(), bytes.begin(), bytes.end());
}

}  // namespace

auto write_pvh_start_info(const memory::guest_memory& memory, guest_address address, const pvh_config& config)
    -> result<pvh_layout> {
  if (!address.is_aligned(start_info_alignment)) {
    return failure(errc::boot_structure_outside_memory);
  }
  if (std::ranges::any_of(config.modules, [](const memory::guest_range& m) { return m.size == 0; })) {
    return failure(errc::initrd_empty);
  }
  const auto entries = config.map.entries();
  const std::uint64_t modlist_offset = sizeof(hvm_start_info);
  const std::uint64_t memmap_offset = modlist_offset + (config.modules.size() * sizeof(hvm_modlist_entry));
  const std::uint64_t total = memmap_offset + (entries.size() * sizeof(hvm_memmap_table_entry));
  const auto end = address.checked_add(total);
  if (!end) {
    return failure(errc::boot_structure_outside_memory);
  }
  const pvh_layout layout{
      .start_info = address,
      .modlist = config.modules.empty() ? guest_address{} : address.unchecked_add(modlist_offset),
      .memmap = address.unchecked_add(memmap_offset),
      .end = *end,
  };
  std::vector<std::byte> blob;
  blob.reserve(total);
  append(blob, hvm_start_info{
                   .nr_modules = static_cast<std::uint32_t>(config.modules.size()),
                   .modlist_paddr = layout.modlist.raw(),
                   .cmdline_paddr = config.cmdline.raw(),
                   .rsdp_paddr = config.rsdp.raw(),
                   .memmap_paddr = layout.memmap.raw(),
                   .memmap_entries = static_cast<std::uint32_t>(entries.size()),
               });
  for (const auto& mod : config.modules) {
    append(blob, hvm_modlist_entry{.paddr = mod.start.raw(), .size = mod.size});
  }
  for (const auto& entry : entries) {
    append(blob, hvm_memmap_table_entry{
                     .addr = entry.address.raw(), .size = entry.size, .type = std::to_underlying(entry.type)});
  }
  if (auto written = memory.write_all(address, blob); !written) {
    return failure(errc::boot_structure_outside_memory);
  }
  return layout;
}

}  // namespace vmm::loader
