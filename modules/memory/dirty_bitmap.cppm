// vmm.memory:dirty_bitmap — which pages of a region were written, for live migration and snapshots.
//
// One bit per page in 64-bit words, laid out as KVM's dirty log (KVM_GET_DIRTY_LOG): bit i % 64 of word i / 64 is
// page i. Marking is a relaxed atomic OR, so every thread that writes guest memory through vmm.memory can mark
// concurrently; take() hands the bits over and clears them word by word, so no mark is lost between two rounds of a
// migration.
export module vmm.memory:dirty_bitmap;
import std;
import vmm.sys;
import :error;

export namespace vmm::memory {

/// A page-granular, thread-safe dirty bitmap for one region.
class dirty_bitmap {
 public:
  /// The page size the bitmap tracks: 4 KiB, KVM's dirty-log granularity on every architecture we support.
  static constexpr std::uint64_t page_size = 4096;

  /// A clear bitmap covering `size_bytes` (rounded up to whole pages).
  inline explicit dirty_bitmap(std::uint64_t size_bytes)
      : pages_{(size_bytes + page_size - 1) / page_size}, words_(static_cast<std::size_t>((pages_ + 63) / 64)) {}

  /// Marks every page that [offset, offset + length) touches. Parts beyond the bitmap are ignored (the accessors
  /// only mark ranges they have already bounds-checked). Lock-free; safe from any thread.
  inline void mark(std::uint64_t offset, std::uint64_t length) noexcept {
    if (length == 0 || offset >= pages_ * page_size) {
      return;
    }
    const std::uint64_t first = offset / page_size;
    const std::uint64_t last = last_page(offset, length);
    if (first == last) [[likely]] {
      words_[first / 64].fetch_or(std::uint64_t{1} << (first % 64), std::memory_order_relaxed);
      return;
    }
    mark_pages(first, last);
  }

  /// Whether page `page` is marked (false beyond the bitmap).
  [[nodiscard]] inline auto is_dirty(std::uint64_t page) const noexcept -> bool {
    if (page >= pages_) {
      return false;
    }
    return (words_[page / 64].load(std::memory_order_relaxed) >> (page % 64) & 1U) != 0;
  }

  /// Whether any page that [offset, offset + length) touches is marked.
  [[nodiscard]] auto is_range_dirty(std::uint64_t offset, std::uint64_t length) const noexcept -> bool;

  /// Clears the pages that [offset, offset + length) touches.
  void reset(std::uint64_t offset, std::uint64_t length) noexcept;

  /// Clears every page.
  void reset_all() noexcept;

  /// A copy of the bits in KVM's dirty-log layout (the marks stay).
  [[nodiscard]] auto snapshot() const -> std::vector<std::uint64_t>;

  /// The bits in KVM's dirty-log layout, clearing each word as it is read (atomic exchange): a page written during
  /// the call is either in the result or still marked afterwards, never lost.
  [[nodiscard]] auto take() -> std::vector<std::uint64_t>;

  /// ORs a dirty log in KVM's layout (from KVM_GET_DIRTY_LOG for this region's memory slot) into the marks, so
  /// pages the guest wrote and pages the VMM wrote end up in one bitmap. Errors: errc::bitmap_size_mismatch when
  /// `log` does not have word_count() words; bits beyond page_count() must be clear (else the same error).
  [[nodiscard]] auto merge(std::span<const std::uint64_t> log) -> result<void>;

  /// How many pages are marked.
  [[nodiscard]] auto dirty_count() const noexcept -> std::uint64_t;

  /// The number of pages tracked.
  [[nodiscard]] inline auto page_count() const noexcept -> std::uint64_t { return pages_; }
  /// The number of 64-bit words of the KVM layout.
  [[nodiscard]] auto word_count() const noexcept -> std::size_t { return static_cast<std::size_t>((pages_ + 63) / 64); }

 private:
  void mark_pages(std::uint64_t first, std::uint64_t last) noexcept;

  /// The last page that [offset, offset + length) touches, clipped to the bitmap (`offset` lies inside it, `length`
  /// is not 0). Compared, not added, so that a length running past 2^64 is clipped too instead of wrapping.
  [[nodiscard]] auto last_page(std::uint64_t offset, std::uint64_t length) const noexcept -> std::uint64_t {
    const std::uint64_t room = (pages_ * page_size) - offset;  // bytes from `offset` to the end of the bitmap
    return length > room ? pages_ - 1 : (offset + (length - 1)) / page_size;
  }

  std::uint64_t pages_;
  std::vector<std::atomic<std::uint64_t>> words_;  // value-initialised: all clear
};

}  // namespace vmm::memory
