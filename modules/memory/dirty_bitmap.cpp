module vmm.memory;
import std;
import vmm.sys;

namespace vmm::memory {
namespace {

// The bits of word `w` that pages [first, last] cover.
auto word_mask(std::uint64_t w, std::uint64_t first, std::uint64_t last) noexcept -> std::uint64_t {
  const std::uint64_t lo = w == first / 64 ? first % 64 : 0;
  const std::uint64_t hi = w == last / 64 ? last % 64 : 63;
  const std::uint64_t upper = hi == 63 ? ~std::uint64_t{0} : (std::uint64_t{1} << (hi + 1)) - 1;
  return upper & ~((std::uint64_t{1} << lo) - 1);
}

}  // namespace

void dirty_bitmap::mark_pages(std::uint64_t first, std::uint64_t last) noexcept {
  for (std::uint64_t w = first / 64; w <= last / 64; ++w) {
    words_[w].fetch_or(word_mask(w, first, last), std::memory_order_relaxed);
  }
}

auto dirty_bitmap::is_range_dirty(std::uint64_t offset, std::uint64_t length) const noexcept -> bool {
  if (length == 0 || offset >= pages_ * page_size) {
    return false;
  }
  const std::uint64_t first = offset / page_size;
  const std::uint64_t last = last_page(offset, length);
  for (std::uint64_t w = first / 64; w <= last / 64; ++w) {
    if ((words_[w].load(std::memory_order_relaxed) & word_mask(w, first, last)) != 0) {
      return true;
    }
  }
  return false;
}

void dirty_bitmap::reset(std::uint64_t offset, std::uint64_t length) noexcept {
  if (length == 0 || offset >= pages_ * page_size) {
    return;
  }
  const std::uint64_t first = offset / page_size;
  const std::uint64_t last = last_page(offset, length);
  for (std::uint64_t w = first / 64; w <= last / 64; ++w) {
    words_[w].fetch_and(~word_mask(w, first, last), std::memory_order_relaxed);
  }
}

void dirty_bitmap::reset_all() noexcept {
  for (std::size_t w = 0; w < word_count(); ++w) {
    words_[w].store(0, std::memory_order_relaxed);
  }
}

auto dirty_bitmap::snapshot() const -> std::vector<std::uint64_t> {
  std::vector<std::uint64_t> out(word_count());
  for (std::size_t w = 0; w < out.size(); ++w) {
    out[w] = words_[w].load(std::memory_order_relaxed);
  }
  return out;
}

auto dirty_bitmap::take() -> std::vector<std::uint64_t> {
  std::vector<std::uint64_t> out(word_count());
  for (std::size_t w = 0; w < out.size(); ++w) {
    out[w] = words_[w].exchange(0, std::memory_order_acq_rel);
  }
  return out;
}

auto dirty_bitmap::merge(std::span<const std::uint64_t> log) -> result<void> {
  if (log.size() != word_count()) {
    return failure(errc::bitmap_size_mismatch);
  }
  if (pages_ % 64 != 0 && !log.empty() && (log.back() >> (pages_ % 64)) != 0) {
    return failure(errc::bitmap_size_mismatch);
  }
  for (std::size_t w = 0; w < log.size(); ++w) {
    if (log[w] != 0) {
      words_[w].fetch_or(log[w], std::memory_order_relaxed);
    }
  }
  return {};
}

auto dirty_bitmap::dirty_count() const noexcept -> std::uint64_t {
  std::uint64_t n = 0;
  for (std::size_t w = 0; w < word_count(); ++w) {
    n += static_cast<std::uint64_t>(std::popcount(words_[w].load(std::memory_order_relaxed)));
  }
  return n;
}

}  // namespace vmm::memory
