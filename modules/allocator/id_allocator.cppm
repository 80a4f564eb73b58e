// vmm.allocator:id_allocator — hands out ids from [first, last]: legacy IRQs, GSIs, MSI vectors, device numbers
// (rust-vmm's IdAllocator, plus allocation of a specific id, which it lacks: vm-allocator#41).
export module vmm.allocator:id_allocator;
import std;
import vmm.sys;
import :error;

export namespace vmm::allocator {

/// Allocates 32-bit ids from [first, last].
///
/// Policy: allocate() always returns the lowest free id, so a freed id is reused by the next allocate() that finds
/// no lower one (this keeps GSI numbers small and dense, as KVM's routing table wants; a caller that must not reuse
/// an id soon keeps it allocated). allocate(id) takes a specific id (the fixed legacy IRQs: 4 for COM1, 1 for the
/// i8042), anywhere in the range and in any order with allocate().
///
/// The free ids are kept as a sorted map of maximal free intervals, so every operation is O(log n) in the number of
/// intervals and memory does not grow with the size of the range. Thread safety: none.
class id_allocator {
 public:
  /// An allocator of the ids [first, last], all free. Errors: errc::empty_id_range (first > last).
  [[nodiscard]] static auto create(std::uint32_t first, std::uint32_t last) -> vmm::result<id_allocator>;

  /// The lowest free id, now allocated. Errors: errc::ids_exhausted.
  [[nodiscard]] auto allocate() -> vmm::result<std::uint32_t>;

  /// Allocates exactly `id` and returns it. Errors: errc::id_out_of_range, errc::id_taken.
  [[nodiscard]] auto allocate(std::uint32_t id) -> vmm::result<std::uint32_t>;

  /// Frees `id`. Errors: errc::id_out_of_range, errc::id_not_allocated (also for an id freed twice).
  [[nodiscard]] auto free(std::uint32_t id) -> vmm::result<void>;

  /// Whether `id` is allocated (false outside the range).
  [[nodiscard]] auto is_allocated(std::uint32_t id) const -> bool;

  /// The first id of the range.
  [[nodiscard]] inline auto first() const noexcept -> std::uint32_t { return first_; }
  /// The last id of the range.
  [[nodiscard]] inline auto last() const noexcept -> std::uint32_t { return last_; }
  /// How many ids are allocated.
  [[nodiscard]] inline auto allocated_count() const noexcept -> std::uint64_t { return allocated_; }

 private:
  id_allocator(std::uint32_t first, std::uint32_t last);

  std::uint32_t first_;
  std::uint32_t last_;
  std::uint64_t allocated_ = 0;
  std::map<std::uint32_t, std::uint32_t> free_;  // first free id → last free id of each maximal free interval
};

}  // namespace vmm::allocator
