// vmm.allocator:address_allocator — hands out aligned, disjoint ranges of a pool of addresses (guest physical MMIO
// windows, PCI BARs, port-I/O ranges): rust-vmm's AddressAllocator.
export module vmm.allocator:address_allocator;
import std;
import vmm.sys;
import :error;
import :range;

export namespace vmm::allocator {

/// Where in the pool allocate() places a range.
enum class allocation_policy : std::uint8_t {
  first_fit,  ///< the lowest aligned address that fits
  last_fit,   ///< the highest aligned address that fits (the range ends as high as the alignment allows)
};

/// Allocates disjoint ranges out of a pool [base, base + size).
///
/// It keeps two sorted maps: the free ranges (coalesced: no two free ranges touch) and the allocated ranges, plus an
/// index of the free ranges by size. allocate_at and free are O(log n); allocate rejects a size no free range can
/// hold in O(log n), and otherwise walks the free ranges from the low (first_fit) or high (last_fit) end, skipping
/// the ones too small or misaligned. Every address computation is checked against overflow, so a pool that ends at
/// 2^64 works like any other.
///
/// Thread safety: none (a VMM allocates at boot and on hot-plug, from one thread or under its own lock).
class address_allocator {
 public:
  /// An allocator whose pool is [base, base + size), all of it free.
  /// Errors: errc::zero_size, errc::range_overflow (base + size > 2^64).
  [[nodiscard]] static auto create(std::uint64_t base, std::uint64_t size) -> vmm::result<address_allocator>;

  /// The pool.
  [[nodiscard]] inline auto pool() const noexcept -> address_range { return pool_; }

  /// Allocates `size` bytes at a multiple of `alignment`, placed by `policy`, and returns the range.
  /// Errors: errc::zero_size, errc::invalid_alignment (not a power of two; 1 means none), errc::out_of_space (no
  /// free range holds an aligned range of that size; nothing changes).
  [[nodiscard]] auto allocate(std::uint64_t size, std::uint64_t alignment,
                              allocation_policy policy = allocation_policy::first_fit) -> vmm::result<address_range>;

  /// Allocates exactly [base, base + size) (a fixed legacy window, a BAR the firmware placed).
  /// Errors: errc::zero_size, errc::range_overflow, errc::outside_pool (not all inside the pool),
  /// errc::range_taken (it overlaps an allocated range).
  [[nodiscard]] auto allocate_at(std::uint64_t base, std::uint64_t size) -> vmm::result<address_range>;

  /// Frees `range`, which must be exactly a range allocate or allocate_at returned (not part of one, not two
  /// adjacent ones), and merges it with the free ranges it touches. Errors: errc::not_allocated (nothing changes).
  [[nodiscard]] auto free(address_range range) -> vmm::result<void>;

  /// The allocated range that contains `address`, if any.
  [[nodiscard]] auto find(std::uint64_t address) const -> std::optional<address_range>;

  /// Whether `range` is exactly an allocated range.
  [[nodiscard]] auto is_allocated(address_range range) const -> bool;

  /// The allocated ranges, in address order.
  [[nodiscard]] auto allocated() const -> std::vector<address_range>;

  /// The free ranges, in address order (maximal: no two of them touch).
  [[nodiscard]] auto free_ranges() const -> std::vector<address_range>;

  /// How many ranges are allocated.
  [[nodiscard]] inline auto allocated_count() const noexcept -> std::size_t { return allocated_.size(); }

  /// How many bytes of the pool are free.
  [[nodiscard]] inline auto free_bytes() const noexcept -> std::uint64_t { return free_bytes_; }

 private:
  explicit address_allocator(address_range pool);

  using range_map = std::map<std::uint64_t, std::uint64_t>;  // base → last address

  /// Places [start, start + span] at the lowest (first_fit) or highest (last_fit) aligned address that fits, or
  /// returns nothing.
  auto first_fit(std::uint64_t span, std::uint64_t alignment) -> std::optional<address_range>;
  auto last_fit(std::uint64_t span, std::uint64_t alignment) -> std::optional<address_range>;
  /// Removes the free range at `at` and allocates [first, last] inside it, putting back what is left either side.
  auto carve(range_map::iterator at, std::uint64_t first, std::uint64_t last) -> address_range;
  void add_free(std::uint64_t first, std::uint64_t last);
  void erase_free(range_map::iterator at);

  address_range pool_;
  range_map free_;
  range_map allocated_;
  // (last - base, base) of every free range: the largest free range is the last element.
  std::set<std::pair<std::uint64_t, std::uint64_t>> free_by_size_;
  std::uint64_t free_bytes_ = 0;
};

}  // namespace vmm::allocator
