// allocator_model — brute-force models of vmm.allocator's allocators, for the randomized model test and the fuzz
// target: a pool is an array with one owner per address, an id range an array of flags, and every question is
// answered by looking at every element. Each operation returns what the real allocator must return (the range or
// id, or the exact error); check() compares the real allocator's whole state with the model's.
export module allocator_model;
import std;
import vmm.sys;
import vmm.allocator;

export namespace allocator_model {

namespace alloc = vmm::allocator;

/// What an operation must produce: a value or an exact error.
template <class T>
using expected = std::expected<T, alloc::errc>;

/// A pool [base, base + size) of at most a few thousand addresses, one owner flag per address.
class address_model {
 public:
  address_model(std::uint64_t base, std::uint64_t size) : base_{base}, used_(size, false) {}

  [[nodiscard]] auto size() const -> std::uint64_t { return used_.size(); }
  [[nodiscard]] auto base() const -> std::uint64_t { return base_; }

  /// allocate(size, alignment, policy), applied to the model.
  auto allocate(std::uint64_t size, std::uint64_t alignment, alloc::allocation_policy policy)
      -> expected<alloc::address_range> {
    if (size == 0) {
      return std::unexpected(alloc::errc::zero_size);
    }
    if (!std::has_single_bit(alignment)) {
      return std::unexpected(alloc::errc::invalid_alignment);
    }
    const std::vector<std::uint64_t> runs = free_runs();
    std::optional<std::uint64_t> found;
    for (std::uint64_t i = 0; i < used_.size(); ++i) {
      const std::uint64_t address = base_ + i;  // never wraps: the pool ends at or below 2^64
      if (address % alignment == 0 && runs[i] >= size) {
        found = i;
        if (policy == alloc::allocation_policy::first_fit) {
          break;
        }
      }
    }
    if (!found) {
      return std::unexpected(alloc::errc::out_of_space);
    }
    return take(*found, size);
  }

  /// allocate_at(base, size), applied to the model.
  auto allocate_at(std::uint64_t base, std::uint64_t size) -> expected<alloc::address_range> {
    if (size == 0) {
      return std::unexpected(alloc::errc::zero_size);
    }
    if (size - 1 > std::numeric_limits<std::uint64_t>::max() - base) {
      return std::unexpected(alloc::errc::range_overflow);
    }
    if (base < base_ || base - base_ >= used_.size() || size > used_.size() - (base - base_)) {
      return std::unexpected(alloc::errc::outside_pool);
    }
    const std::uint64_t i = base - base_;
    for (std::uint64_t k = 0; k < size; ++k) {
      if (used_[i + k]) {
        return std::unexpected(alloc::errc::range_taken);
      }
    }
    return take(i, size);
  }

  /// free(range), applied to the model.
  auto free(alloc::address_range range) -> expected<void> {
    const auto at = allocations_.find(range.base);
    if (at == allocations_.end() || at->second != range.size) {
      return std::unexpected(alloc::errc::not_allocated);
    }
    for (std::uint64_t k = 0; k < range.size; ++k) {
      used_[range.base - base_ + k] = false;
    }
    allocations_.erase(at);
    return {};
  }

  /// One of the allocated ranges, picked by `pick`, or nothing when none is allocated.
  [[nodiscard]] auto some_allocation(std::uint64_t pick) const -> std::optional<alloc::address_range> {
    if (allocations_.empty()) {
      return std::nullopt;
    }
    auto at = allocations_.begin();
    std::advance(at, static_cast<std::ptrdiff_t>(pick % allocations_.size()));
    return alloc::address_range{.base = at->first, .size = at->second};
  }

  /// An empty string when `real` holds exactly the model's state, else what differs.
  [[nodiscard]] auto check(const alloc::address_allocator& real) const -> std::string {
    std::vector<alloc::address_range> expected_allocated;
    for (const auto& [b, s] : allocations_) {
      expected_allocated.push_back({.base = b, .size = s});
    }
    if (real.allocated() != expected_allocated) {
      return "allocated ranges differ";
    }
    std::vector<alloc::address_range> expected_free;
    std::uint64_t free_bytes = 0;
    for (std::uint64_t i = 0; i < used_.size();) {
      if (used_[i]) {
        ++i;
        continue;
      }
      std::uint64_t j = i;
      while (j < used_.size() && !used_[j]) {
        ++j;
      }
      expected_free.push_back({.base = base_ + i, .size = j - i});
      free_bytes += j - i;
      i = j;
    }
    if (real.free_ranges() != expected_free) {
      return "free ranges differ (or are not coalesced)";
    }
    if (real.free_bytes() != free_bytes || real.allocated_count() != allocations_.size()) {
      return "free byte count or allocation count differs";
    }
    for (const auto& [b, s] : allocations_) {
      const alloc::address_range r{.base = b, .size = s};
      if (!real.is_allocated(r) || real.find(b) != r || real.find(r.last()) != r) {
        return std::format("lookup of allocated {} differs", r);
      }
    }
    return {};
  }

 private:
  /// For each address index, how many free addresses start there.
  [[nodiscard]] auto free_runs() const -> std::vector<std::uint64_t> {
    std::vector<std::uint64_t> runs(used_.size() + 1, 0);
    for (std::uint64_t i = used_.size(); i-- > 0;) {
      runs[i] = used_[i] ? 0 : runs[i + 1] + 1;
    }
    return runs;
  }

  auto take(std::uint64_t index, std::uint64_t size) -> alloc::address_range {
    for (std::uint64_t k = 0; k < size; ++k) {
      used_[index + k] = true;
    }
    allocations_.emplace(base_ + index, size);
    return {.base = base_ + index, .size = size};
  }

  std::uint64_t base_;
  std::vector<bool> used_;
  std::map<std::uint64_t, std::uint64_t> allocations_;  // base → size
};

/// Ids [first, first + count - 1], one flag each.
class id_model {
 public:
  id_model(std::uint32_t first, std::uint32_t count) : first_{first}, used_(count, false) {}

  auto allocate() -> expected<std::uint32_t> {
    for (std::uint32_t i = 0; i < used_.size(); ++i) {
      if (!used_[i]) {
        used_[i] = true;
        return first_ + i;
      }
    }
    return std::unexpected(alloc::errc::ids_exhausted);
  }

  auto allocate(std::uint32_t id) -> expected<std::uint32_t> {
    if (!inside(id)) {
      return std::unexpected(alloc::errc::id_out_of_range);
    }
    if (used_[id - first_]) {
      return std::unexpected(alloc::errc::id_taken);
    }
    used_[id - first_] = true;
    return id;
  }

  auto free(std::uint32_t id) -> expected<void> {
    if (!inside(id)) {
      return std::unexpected(alloc::errc::id_out_of_range);
    }
    if (!used_[id - first_]) {
      return std::unexpected(alloc::errc::id_not_allocated);
    }
    used_[id - first_] = false;
    return {};
  }

  /// An empty string when `real` agrees with the model on every id in and just around the range.
  [[nodiscard]] auto check(const alloc::id_allocator& real) const -> std::string {
    std::uint64_t count = 0;
    for (std::uint32_t i = 0; i < used_.size(); ++i) {
      count += used_[i] ? 1 : 0;
      if (real.is_allocated(first_ + i) != used_[i]) {
        return std::format("id {} differs", first_ + i);
      }
    }
    if (real.allocated_count() != count) {
      return "allocated count differs";
    }
    return {};
  }

  [[nodiscard]] auto inside(std::uint32_t id) const -> bool { return id >= first_ && id - first_ < used_.size(); }

 private:
  std::uint32_t first_;
  std::vector<bool> used_;
};

/// Whether a real result is the model's: the same value, or the same error code.
template <class T>
[[nodiscard]] auto same(const vmm::result<T>& real, const expected<T>& model) -> bool {
  if (real.has_value() != model.has_value()) {
    return false;
  }
  if (!real) {
    return real.error() == make_error_code(model.error());
  }
  if constexpr (std::is_void_v<T>) {
    return true;
  } else {
    return *real == *model;
  }
}

}  // namespace allocator_model
