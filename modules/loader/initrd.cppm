// vmm.loader:initrd — where an initial ramdisk goes and copying it there.
//
// Like a boot loader, the initrd is placed as high as allowed: the highest page-aligned address at which it ends at
// or below the kernel's initrd_addr_max (and below 4 GiB, since setup_header.ramdisk_image is 32 bits), inside one
// guest memory region, and outside the kernel's memory (load address up to kernel_end, init_size included).
export module vmm.loader:initrd;
import std;
import vmm.sys;
import vmm.memory;
import :error;

export namespace vmm::loader {

/// The alignment of an initrd's address (the boot protocol asks for page alignment).
inline constexpr std::uint64_t initrd_alignment = 4096;

/// The highest initrd_alignment-aligned address at which `size` bytes fit in one region of `memory`, end at or
/// below `initrd_addr_max` (inclusive, as in the setup header) and below 4 GiB, and do not overlap `kernel`.
/// Errors: errc::initrd_empty for size zero, errc::initrd_does_not_fit when there is no such place.
[[nodiscard]] auto place_initrd(const memory::guest_memory& memory, std::uint64_t size, std::uint64_t initrd_addr_max,
                                memory::guest_range kernel) -> result<memory::guest_address>;

/// Copies `initrd` to guest memory at `address` and returns the range it occupies. Errors: errc::initrd_empty,
/// errc::initrd_outside_memory (nothing written).
[[nodiscard]] auto load_initrd(const memory::guest_memory& memory, memory::guest_address address,
                               std::span<const std::byte> initrd) -> result<memory::guest_range>;

}  // namespace vmm::loader
