module vmm.allocator;
import std;
import vmm.sys;

namespace vmm::allocator {

namespace {

constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();

/// The lowest multiple of `alignment` at or above `value`, or nothing when it would pass 2^64 - 1.
[[nodiscard]] auto align_up(std::uint64_t value, std::uint64_t alignment) noexcept -> std::optional<std::uint64_t> {
  const std::uint64_t mask = alignment - 1;
  if (value > max_u64 - mask) {
    return std::nullopt;
  }
  return (value + mask) & ~mask;
}

}  // namespace

auto address_range::make(std::uint64_t base, std::uint64_t size) -> vmm::result<address_range> {
  if (size == 0) {
    return vmm::failure(errc::zero_size);
  }
  if (size - 1 > max_u64 - base) {
    return vmm::failure(errc::range_overflow);
  }
  return address_range{.base = base, .size = size};
}

auto address_range::inclusive(std::uint64_t first, std::uint64_t last) -> vmm::result<address_range> {
  if (first > last) {
    return vmm::failure(errc::zero_size);
  }
  if (first == 0 && last == max_u64) {
    return vmm::failure(errc::range_overflow);
  }
  return address_range{.base = first, .size = last - first + 1};
}

address_allocator::address_allocator(address_range pool) : pool_{pool} {
  add_free(pool.base, pool.last());
}

auto address_allocator::create(std::uint64_t base, std::uint64_t size) -> vmm::result<address_allocator> {
  auto pool = address_range::make(base, size);
  if (!pool) {
    return std::unexpected(pool.error());
  }
  return address_allocator{*pool};
}

void address_allocator::add_free(std::uint64_t first, std::uint64_t last) {
  free_.emplace(first, last);
  free_by_size_.emplace(last - first, first);
  free_bytes_ += last - first + 1;
}

void address_allocator::erase_free(range_map::iterator at) {
  free_by_size_.erase({at->second - at->first, at->first});
  free_bytes_ -= at->second - at->first + 1;
  free_.erase(at);
}

auto address_allocator::carve(range_map::iterator at, std::uint64_t first, std::uint64_t last) -> address_range {
  const std::uint64_t free_first = at->first;
  const std::uint64_t free_last = at->second;
  // The free range's map and size-set nodes are reused for what is left of it and for the allocation, so the common
  // allocation (at one end of a free range) allocates no tree node.
  auto node = free_.extract(at);
  auto size_node = free_by_size_.extract({free_last - free_first, free_first});
  free_bytes_ -= free_last - free_first + 1;
  const auto put_back = [&](std::uint64_t piece_first, std::uint64_t piece_last) {
    if (node.empty()) {
      add_free(piece_first, piece_last);
      return;
    }
    node.key() = piece_first;
    node.mapped() = piece_last;
    free_.insert(std::move(node));
    size_node.value() = {piece_last - piece_first, piece_first};
    free_by_size_.insert(std::move(size_node));
    free_bytes_ += piece_last - piece_first + 1;
  };
  if (first > free_first) {
    put_back(free_first, first - 1);
  }
  if (last < free_last) {
    put_back(last + 1, free_last);
  }
  if (node.empty()) {
    allocated_.emplace(first, last);
  } else {
    node.key() = first;
    node.mapped() = last;
    allocated_.insert(std::move(node));
  }
  return {.base = first, .size = last - first + 1};
}

auto address_allocator::first_fit(std::uint64_t span, std::uint64_t alignment) -> std::optional<address_range> {
  for (auto at = free_.begin(); at != free_.end(); ++at) {
    const auto [first, last] = *at;
    if (last - first < span) {
      continue;
    }
    const auto start = align_up(first, alignment);
    if (!start) {
      return std::nullopt;  // every later free range starts higher still
    }
    if (*start <= last && last - *start >= span) {
      return carve(at, *start, *start + span);
    }
  }
  return std::nullopt;
}

auto address_allocator::last_fit(std::uint64_t span, std::uint64_t alignment) -> std::optional<address_range> {
  for (auto at = free_.rbegin(); at != free_.rend(); ++at) {
    const auto [first, last] = *at;
    if (last - first < span) {
      continue;
    }
    // The highest start that still fits, rounded down to the alignment; last - span >= first cannot wrap.
    const std::uint64_t start = (last - span) & ~(alignment - 1);
    if (start >= first) {
      return carve(std::prev(at.base()), start, start + span);
    }
  }
  return std::nullopt;
}

auto address_allocator::allocate(std::uint64_t size, std::uint64_t alignment, allocation_policy policy)
    -> vmm::result<address_range> {
  if (size == 0) {
    return vmm::failure(errc::zero_size);
  }
  if (!is_power_of_two(alignment)) {
    return vmm::failure(errc::invalid_alignment);
  }
  const std::uint64_t span = size - 1;  // last - first of the range to place
  if (free_by_size_.empty() || free_by_size_.rbegin()->first < span) {
    return vmm::failure(errc::out_of_space);
  }
  const auto placed = policy == allocation_policy::first_fit ? first_fit(span, alignment) : last_fit(span, alignment);
  if (!placed) {
    return vmm::failure(errc::out_of_space);
  }
  return *placed;
}

auto address_allocator::allocate_at(std::uint64_t base, std::uint64_t size) -> vmm::result<address_range> {
  auto wanted = address_range::make(base, size);
  if (!wanted) {
    return wanted;
  }
  if (!pool_.contains(*wanted)) {
    return vmm::failure(errc::outside_pool);
  }
  // Only the free range that starts at or below `base` can hold it.
  auto after = free_.upper_bound(base);
  if (after == free_.begin()) {
    return vmm::failure(errc::range_taken);
  }
  const auto at = std::prev(after);
  if (at->second < wanted->last()) {
    return vmm::failure(errc::range_taken);
  }
  return carve(at, base, wanted->last());
}

auto address_allocator::free(address_range range) -> vmm::result<void> {
  const auto at = allocated_.find(range.base);
  if (range.size == 0 || at == allocated_.end() || at->second - at->first != range.size - 1) {
    return vmm::failure(errc::not_allocated);
  }
  auto node = allocated_.extract(at);  // becomes the merged free range's node
  std::uint64_t first = node.key();
  std::uint64_t last = node.mapped();
  // Merge with the free range that ends just below and the one that starts just above, if they exist.
  if (first > 0) {
    auto below = free_.upper_bound(first);
    if (below != free_.begin() && std::prev(below)->second == first - 1) {
      --below;
      first = below->first;
      erase_free(below);
    }
  }
  if (last < max_u64) {
    const auto above = free_.find(last + 1);
    if (above != free_.end()) {
      last = above->second;
      erase_free(above);
    }
  }
  node.key() = first;
  node.mapped() = last;
  free_.insert(std::move(node));
  free_by_size_.emplace(last - first, first);
  free_bytes_ += last - first + 1;
  return {};
}

auto address_allocator::find(std::uint64_t address) const -> std::optional<address_range> {
  const auto after = allocated_.upper_bound(address);
  if (after == allocated_.begin()) {
    return std::nullopt;
  }
  const auto at = std::prev(after);
  if (address > at->second) {
    return std::nullopt;
  }
  return address_range{.base = at->first, .size = at->second - at->first + 1};
}

auto address_allocator::is_allocated(address_range range) const -> bool {
  const auto at = allocated_.find(range.base);
  return range.size != 0 && at != allocated_.end() && at->second - at->first == range.size - 1;
}

auto address_allocator::allocated() const -> std::vector<address_range> {
  std::vector<address_range> all;
  all.reserve(allocated_.size());
  for (const auto& [first, last] : allocated_) {
    all.push_back({.base = first, .size = last - first + 1});
  }
  return all;
}

auto address_allocator::free_ranges() const -> std::vector<address_range> {
  std::vector<address_range> all;
  all.reserve(free_.size());
  for (const auto& [first, last] : free_) {
    all.push_back({.base = first, .size = last - first + 1});
  }
  return all;
}

}  // namespace vmm::allocator
