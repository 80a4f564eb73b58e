module vmm.allocator;
import std;
import vmm.sys;

namespace vmm::allocator {

id_allocator::id_allocator(std::uint32_t first, std::uint32_t last) : first_{first}, last_{last} {
  free_.emplace(first, last);
}

auto id_allocator::create(std::uint32_t first, std::uint32_t last) -> vmm::result<id_allocator> {
  if (first > last) {
    return vmm::failure(errc::empty_id_range);
  }
  return id_allocator{first, last};
}

auto id_allocator::allocate() -> vmm::result<std::uint32_t> {
  if (free_.empty()) {
    return vmm::failure(errc::ids_exhausted);
  }
  const auto lowest = free_.begin();
  const auto [id, interval_last] = *lowest;
  free_.erase(lowest);
  if (id < interval_last) {
    free_.emplace_hint(free_.begin(), id + 1, interval_last);
  }
  ++allocated_;
  return id;
}

auto id_allocator::allocate(std::uint32_t id) -> vmm::result<std::uint32_t> {
  if (id < first_ || id > last_) {
    return vmm::failure(errc::id_out_of_range);
  }
  const auto after = free_.upper_bound(id);
  if (after == free_.begin() || std::prev(after)->second < id) {
    return vmm::failure(errc::id_taken);
  }
  const auto at = std::prev(after);
  const auto [interval_first, interval_last] = *at;
  free_.erase(at);
  if (interval_first < id) {
    free_.emplace(interval_first, id - 1);
  }
  if (id < interval_last) {
    free_.emplace(id + 1, interval_last);
  }
  ++allocated_;
  return id;
}

auto id_allocator::free(std::uint32_t id) -> vmm::result<void> {
  if (id < first_ || id > last_) {
    return vmm::failure(errc::id_out_of_range);
  }
  if (!is_allocated(id)) {
    return vmm::failure(errc::id_not_allocated);
  }
  std::uint32_t interval_first = id;
  std::uint32_t interval_last = id;
  // Merge with the free interval ending just below and the one starting just above.
  auto above = free_.upper_bound(id);
  if (above != free_.begin() && id > 0 && std::prev(above)->second == id - 1) {
    const auto below = std::prev(above);
    interval_first = below->first;
    free_.erase(below);
  }
  if (above != free_.end() && id < std::numeric_limits<std::uint32_t>::max() && above->first == id + 1) {
    interval_last = above->second;
    free_.erase(above);
  }
  free_.emplace(interval_first, interval_last);
  --allocated_;
  return {};
}

auto id_allocator::is_allocated(std::uint32_t id) const -> bool {
  if (id < first_ || id > last_) {
    return false;
  }
  const auto after = free_.upper_bound(id);
  return after == free_.begin() || std::prev(after)->second < id;
}

}  // namespace vmm::allocator
