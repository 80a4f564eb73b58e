// vmm.memory:volatile_slice — a bounds-checked view of guest memory inside one region.
//
// A slice is what a device holds while it works on one guest buffer: a host pointer, a length, whether it may write,
// and the region's dirty bitmap. Every access is checked against the slice's bounds; a write marks the pages it
// touched. A slice does not keep its region alive: hold the guest_memory snapshot it came from while using it.
export module vmm.memory:volatile_slice;
import std;
import vmm.sys;
import :error;
import :copy;
import :dirty_bitmap;

export namespace vmm::memory {

/// A bounds-checked, non-owning view of guest memory inside one region.
class volatile_slice {
 public:
  /// An empty slice.
  constexpr volatile_slice() noexcept = default;

  /// A view of [data, data + size). Safety: the memory must stay mapped while the slice (or any copy) is used;
  /// `bitmap`, when not null, must cover [bitmap_offset, bitmap_offset + size) and outlive the slice.
  constexpr volatile_slice(std::byte* data, std::size_t size, access mode, dirty_bitmap* bitmap = nullptr,
                           std::uint64_t bitmap_offset = 0) noexcept
      : data_{data}, size_{size}, mode_{mode}, bitmap_{bitmap}, bitmap_offset_{bitmap_offset} {}

  /// Its length in bytes.
  [[nodiscard]] constexpr auto size() const noexcept -> std::size_t { return size_; }
  [[nodiscard]] constexpr auto empty() const noexcept -> bool { return size_ == 0; }
  /// Whether writes through it are allowed (it was asked for with access::write).
  [[nodiscard]] constexpr auto writable() const noexcept -> bool { return mode_ == access::write; }

  /// The host address of its first byte. Safety: whoever writes through this pointer must call mark_dirty for what
  /// it wrote, and must not write through a slice that is not writable().
  [[nodiscard]] constexpr auto data() const noexcept -> std::byte* { return data_; }

  /// The slice [offset, offset + length) of this one. Errors: errc::out_of_range when it does not fit,
  /// errc::address_overflow when offset + length overflows.
  [[nodiscard]] inline auto subslice(std::size_t offset, std::size_t length) const noexcept -> result<volatile_slice> {
    if (offset > size_) {
      return failure(errc::out_of_range);
    }
    if (length > size_ - offset) {
      return failure(offset + length < offset ? errc::address_overflow : errc::out_of_range);
    }
    return volatile_slice{data_ + offset, length, mode_, bitmap_, bitmap_offset_ + offset};
  }

  /// The slice from `offset` to the end. Errors: errc::out_of_range when offset > size().
  [[nodiscard]] inline auto tail(std::size_t offset) const noexcept -> result<volatile_slice> {
    return subslice(offset, size_ - std::min(offset, size_));
  }

  /// Copies min(size(), out.size()) bytes from the slice's start into `out`; returns the count.
  [[nodiscard]] inline auto copy_to(std::span<std::byte> out) const noexcept -> std::size_t {
    const std::size_t n = std::min(size_, out.size());
    detail::copy_from_guest(out.data(), data_, n);
    return n;
  }

  /// Copies min(size(), in.size()) bytes from `in` to the slice's start and marks them dirty; returns the count.
  /// The slice must be writable() (contract-checked: ask for access::write when the slice is made).
  [[nodiscard]] inline auto copy_from(std::span<const std::byte> in) const noexcept -> std::size_t {
    check_writable();
    const std::size_t n = std::min(size_, in.size());
    detail::copy_to_guest(data_, in.data(), n);
    mark_dirty(0, n);
    return n;
  }

  /// Copies min(size(), to.size()) bytes from this slice into `to` (which must be writable); returns the count.
  [[nodiscard]] inline auto copy_to(const volatile_slice& to) const noexcept -> std::size_t {
    to.check_writable();
    const std::size_t n = std::min(size_, to.size_);
    detail::copy_guest_to_guest(to.data_, data_, n);
    to.mark_dirty(0, n);
    return n;
  }

  /// Sets every byte to `value` and marks the slice dirty (the slice must be writable).
  inline void fill(std::byte value) const noexcept {
    check_writable();
    std::memset(data_, std::to_integer<int>(value), size_);
    mark_dirty(0, size_);
  }

  /// The T at `offset` (an object of 8 bytes or less at a naturally aligned address is read with one access).
  /// Errors: errc::out_of_range when it does not fit.
  template <byte_valued T>
  [[nodiscard]] auto read_obj(std::size_t offset) const noexcept -> result<T> {
    if (offset > size_ || sizeof(T) > size_ - offset) {
      return failure(errc::out_of_range);
    }
    std::array<std::byte, sizeof(T)> bytes;
    detail::copy_from_guest(bytes.data(), data_ + offset, sizeof(T));
    return std::bit_cast<T>(bytes);
  }

  /// Writes `value` at `offset` and marks it dirty (the slice must be writable). Errors: errc::out_of_range.
  template <byte_valued T>
  [[nodiscard]] auto write_obj(std::size_t offset, const T& value) const noexcept -> result<void> {
    check_writable();
    if (offset > size_ || sizeof(T) > size_ - offset) {
      return failure(errc::out_of_range);
    }
    detail::copy_to_guest(data_ + offset, reinterpret_cast<const std::byte*>(&value),  // NOLINT(*-reinterpret-cast)
                          sizeof(T));
    mark_dirty(offset, sizeof(T));
    return {};
  }

  /// An atomic load of the T at `offset` with `order` (not release or acq_rel). Errors: errc::out_of_range,
  /// errc::misaligned_access when the address is not a multiple of sizeof(T).
  template <atomic_value T>
  [[nodiscard]] auto load(std::size_t offset, std::memory_order order) const noexcept -> result<T> {
    vmm::contract_check(order != std::memory_order_release && order != std::memory_order_acq_rel,
                        "a load cannot have release semantics");
    if (auto e = check_atomic(offset, sizeof(T))) {
      return std::unexpected(e);
    }
    return detail::atomic_load<T>(data_ + offset, order);
  }

  /// An atomic store of `value` at `offset` with `order` (relaxed, release or seq_cst), marked dirty. The slice must
  /// be writable. Errors: errc::out_of_range, errc::misaligned_access.
  template <atomic_value T>
  [[nodiscard]] auto store(std::size_t offset, T value, std::memory_order order) const noexcept -> result<void> {
    vmm::contract_check(
        order == std::memory_order_relaxed || order == std::memory_order_release || order == std::memory_order_seq_cst,
        "a store can only be relaxed, release or seq_cst");
    check_writable();
    if (auto e = check_atomic(offset, sizeof(T))) {
      return std::unexpected(e);
    }
    detail::atomic_store<T>(data_ + offset, value, order);
    mark_dirty(offset, sizeof(T));
    return {};
  }

  /// Marks [offset, offset + length) of the slice dirty, for writes made through data() (DMA by a backend, a
  /// kernel that filled the buffer). Parts beyond the slice are ignored.
  inline void mark_dirty(std::size_t offset, std::size_t length) const noexcept {
    if (bitmap_ != nullptr && offset < size_) {
      bitmap_->mark(bitmap_offset_ + offset, std::min(length, size_ - offset));
    }
  }

  /// The slice as one buffer for readv/writev/io_uring.
  [[nodiscard]] inline auto io_buffer() const noexcept -> sys::io_buffer { return {.base = data_, .length = size_}; }

 private:
  inline void check_writable() const noexcept {
    vmm::contract_check(mode_ == access::write, "write through a volatile_slice made for access::read");
  }
  [[nodiscard]] inline auto check_atomic(std::size_t offset, std::size_t width) const noexcept -> std::error_code {
    if (offset > size_ || width > size_ - offset) {
      return make_error_code(errc::out_of_range);
    }
    if (reinterpret_cast<std::uintptr_t>(data_ + offset) % width != 0) {  // NOLINT(*-reinterpret-cast)
      return make_error_code(errc::misaligned_access);
    }
    return {};
  }

  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  access mode_ = access::read;
  dirty_bitmap* bitmap_ = nullptr;
  std::uint64_t bitmap_offset_ = 0;
};

}  // namespace vmm::memory
