// vmm.allocator:error — the failures the address and id allocators detect.
export module vmm.allocator:error;
import std;

export namespace vmm::allocator {

/// What went wrong in an allocation. Each value's message (allocator_category) is one sentence naming it.
enum class errc : std::uint8_t {
  zero_size = 1,      ///< a range or an allocation has size zero
  invalid_alignment,  ///< an alignment is not a power of two
  range_overflow,     ///< base + size runs past 2^64
  outside_pool,       ///< a requested range is not inside the allocator's pool
  range_taken,        ///< a requested range overlaps an allocated range
  out_of_space,       ///< no free range fits the size at the alignment
  not_allocated,      ///< a freed range is not exactly a range that was allocated
  empty_id_range,     ///< an id allocator's first id is above its last
  id_out_of_range,    ///< an id is outside the allocator's [first, last]
  id_taken,           ///< a requested id is already allocated
  ids_exhausted,      ///< every id in [first, last] is allocated
  id_not_allocated,   ///< a freed id is not allocated
};

/// The category of vmm::allocator::errc, named "vmm.allocator".
[[nodiscard]] auto allocator_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from a vmm::allocator::errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::allocator

template <>
struct std::is_error_code_enum<vmm::allocator::errc> : std::true_type {};
