// vmm.memory:error — the failures vmm.memory detects itself (OS failures keep their errno in system_category()).
export module vmm.memory:error;
import std;

export namespace vmm::memory {

/// What went wrong in a guest memory operation. Each value's message (memory_category) is one sentence naming it.
enum class errc : std::uint8_t {
  out_of_range = 1,         ///< the guest address (or part of the range) is outside every region
  address_overflow,         ///< address arithmetic would wrap past 2^64
  crosses_region_boundary,  ///< a single-region view (slice, object, atomic) was asked across two regions
  zero_size,                ///< a region, or an access that needs bytes, has size zero
  unaligned_region,         ///< a region's guest start, size, host address or file offset is not page-aligned
  overlapping_regions,      ///< two regions share guest addresses
  region_not_found,         ///< no region starts at the given address with the given size
  misaligned_access,        ///< an atomic access is not naturally aligned
  read_only_region,         ///< a write reached a region mapped read-only
  file_too_small,           ///< a file-backed region extends past the end of its file
  no_huge_pages,            ///< too few free huge pages of the asked size are configured on this host
  invalid_huge_page_size,   ///< the huge page size is not one this host offers, or the region is not a multiple of it
  guest_memfd_unsupported,  ///< this kernel or VM cannot create host-mappable guest_memfd memory
  unexpected_eof,           ///< a file or socket ended before the whole guest range was transferred
  bitmap_size_mismatch,     ///< a dirty log to merge has a different number of pages than the region
  too_many_buffers,         ///< a guest range needs more scatter-gather buffers than the caller allowed
};

/// The category of vmm::memory::errc, named "vmm.memory".
[[nodiscard]] auto memory_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from a vmm::memory::errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::memory

template <>
struct std::is_error_code_enum<vmm::memory::errc> : std::true_type {};
