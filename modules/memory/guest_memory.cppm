// vmm.memory:guest_memory — the guest's physical address space: sorted, non-overlapping regions, and every way the
// VMM reads and writes it.
//
// A guest_memory is an immutable snapshot: insert and remove return a new one, and the old one (with its regions)
// stays valid for whoever still holds it. Region lookup is a branch-free binary search over a compact array, O(log n).
//
// What a failing access may have written (tested in tests/memory/negative_test.cpp):
// - read_exact, write_all, read_obj, write_obj, load, store, get_slice(s), append_io_buffers and mark_dirty check
//   the whole range before touching anything: on failure nothing was read, written or marked, and an output buffer
//   or vector is unchanged.
// - read and write are partial: they transfer the longest mapped (and, for write, writable) prefix and return its
//   length; they fail only when that prefix is empty.
// - read_from / read_exact_from (fd → guest) may have stored the bytes the fd delivered before an error or end of
//   file: those bytes are in guest memory and marked dirty, and read_exact_from's error says the range is incomplete.
//   write_to / write_all_to never change guest memory.
export module vmm.memory:guest_memory;
import std;
import vmm.sys;
import :error;
import :address;
import :copy;
import :dirty_bitmap;
import :volatile_slice;
import :region;

namespace vmm::memory::detail {

/// One region as the lookup sees it: everything an access needs without touching the region object. 64 bytes, so
/// the slot count is a shift of the vector's byte length, not a division, on the lookup's critical path.
struct alignas(64) region_slot {
  std::uint64_t start = 0;
  std::uint64_t last = 0;  // the last address inside (so a region may end at 2^64 - 1)
  std::byte* host = nullptr;
  dirty_bitmap* bitmap = nullptr;
  const guest_region* region = nullptr;
  bool writable = true;
};

}  // namespace vmm::memory::detail

export namespace vmm::memory {

struct memory_removal;

/// An immutable set of non-overlapping guest memory regions, and the accessors of the guest address space.
class guest_memory {
 public:
  /// An address space with no memory.
  guest_memory() = default;

  /// The regions, in any order. Errors: errc::overlapping_regions when two share an address. Null regions are a
  /// contract violation.
  [[nodiscard]] static auto create(std::vector<std::shared_ptr<const guest_region>> regions) -> result<guest_memory>;

  /// Anonymous regions for each range of `layout` (rust-vmm's GuestMemoryMmap::from_ranges). Errors: as
  /// guest_region::anonymous and create.
  [[nodiscard]] static auto anonymous(std::span<const guest_range> layout, const region_options& options = {})
      -> result<guest_memory>;

  /// A new snapshot with `region` added (memory hot-plug). Errors: errc::overlapping_regions.
  [[nodiscard]] auto insert(std::shared_ptr<const guest_region> region) const -> result<guest_memory>;

  /// A new snapshot without the region that starts at `start` and has `size` bytes (memory hot-unplug).
  /// Errors: errc::region_not_found.
  [[nodiscard]] auto remove(guest_address start, std::uint64_t size) const -> result<memory_removal>;

  /// The regions, sorted by start address.
  [[nodiscard]] inline auto regions() const noexcept -> std::span<const std::shared_ptr<const guest_region>> {
    return regions_;
  }
  [[nodiscard]] inline auto region_count() const noexcept -> std::size_t { return regions_.size(); }
  /// The sum of the regions' sizes.
  [[nodiscard]] inline auto total_size() const noexcept -> std::uint64_t { return total_size_; }

  /// The region that contains `address`, or nullptr. O(log n), no allocation, no lock.
  [[nodiscard]] inline auto find_region(guest_address address) const noexcept -> const guest_region* {
    const auto* s = find_slot(address.raw());
    return s != nullptr ? s->region : nullptr;
  }

  /// Whether `address` lies in some region.
  [[nodiscard]] inline auto contains(guest_address address) const noexcept -> bool {
    return find_slot(address.raw()) != nullptr;
  }

  /// Whether every byte of [address, address + length) lies in some region (adjacent regions may share the
  /// range). An empty range is contained; one that overflows is not.
  [[nodiscard]] auto contains_range(guest_address address, std::uint64_t length) const noexcept -> bool;

  /// A slice of [address, address + length), which must lie inside one region. Errors: errc::out_of_range,
  /// errc::crosses_region_boundary, errc::address_overflow, errc::read_only_region (access::write).
  [[nodiscard]] auto get_slice(guest_address address, std::uint64_t length, access mode) const
      -> result<volatile_slice>;

  /// The slices that together cover [address, address + length), one per region touched. Errors: errc::out_of_range
  /// when any byte is unmapped, errc::address_overflow, errc::read_only_region.
  [[nodiscard]] auto get_slices(guest_address address, std::uint64_t length, access mode) const
      -> result<std::vector<volatile_slice>>;

  /// Appends to `out` the host buffers that cover [address, address + length), for readv/writev or io_uring (a
  /// scatter-gather list of a guest range). With access::write the range is marked dirty up front (whoever fills
  /// the buffers cannot tell vmm.memory). Errors: as get_slices; errc::too_many_buffers when `out` would hold more
  /// than `max_buffers` entries. On error `out` is unchanged.
  [[nodiscard]] auto append_io_buffers(guest_address address, std::uint64_t length, access mode,
                                       std::vector<sys::io_buffer>& out,
                                       std::size_t max_buffers = sys::max_io_buffers) const -> result<void>;

  /// Copies guest memory from `address` into `out`, as far as memory is mapped; returns the bytes copied.
  /// Errors: errc::out_of_range when `address` itself is unmapped (and `out` is not empty), errc::address_overflow.
  [[nodiscard]] auto read(guest_address address, std::span<std::byte> out) const -> result<std::size_t>;

  /// Copies `in` to guest memory at `address`, as far as memory is mapped and writable; returns the bytes copied.
  /// Errors: errc::out_of_range, errc::read_only_region (when nothing could be written), errc::address_overflow.
  [[nodiscard]] auto write(guest_address address, std::span<const std::byte> in) const -> result<std::size_t>;

  /// Fills all of `out` from guest memory, across region boundaries. Errors: errc::out_of_range when any byte is
  /// unmapped (nothing is copied), errc::address_overflow.
  [[nodiscard]] inline auto read_exact(guest_address address, std::span<std::byte> out) const -> result<void> {
    if (const auto* s = find_slot(address.raw());
        s != nullptr && !out.empty() && out.size() - 1 <= s->last - address.raw()) [[likely]] {
      detail::copy_from_guest(out.data(), s->host + (address.raw() - s->start), out.size());
      return {};
    }
    return read_exact_slow(address, out);
  }

  /// Writes all of `in` to guest memory, across region boundaries. Errors: errc::out_of_range,
  /// errc::read_only_region, errc::address_overflow; on error nothing was written.
  [[nodiscard]] inline auto write_all(guest_address address, std::span<const std::byte> in) const -> result<void> {
    if (const auto* s = find_slot(address.raw());
        s != nullptr && s->writable && !in.empty() && in.size() - 1 <= s->last - address.raw()) [[likely]] {
      const std::uint64_t offset = address.raw() - s->start;
      detail::copy_to_guest(s->host + offset, in.data(), in.size());
      if (s->bitmap != nullptr) {
        s->bitmap->mark(offset, in.size());
      }
      return {};
    }
    return write_all_slow(address, in);
  }

  /// The T at `address`. An object of 8 bytes or less at a naturally aligned address is read with one access.
  /// Errors: as read_exact.
  template <byte_valued T>
  [[nodiscard]] inline auto read_obj(guest_address address) const -> result<T> {
    if constexpr (sizeof(T) <= 8 && std::has_single_bit(sizeof(T))) {
      // The common case, a naturally aligned small object in one region: one lookup, one check, one load. (Region
      // hosts and starts are page-aligned, so the host address is aligned exactly when the guest address is.)
      const auto* s = find_slot(address.raw());
      if (s != nullptr && address.raw() % sizeof(T) == 0 && sizeof(T) - 1 <= s->last - address.raw()) [[likely]] {
        return std::bit_cast<T>(detail::load_word<sizeof(T)>(s->host + (address.raw() - s->start)));
      }
    }
    std::array<std::byte, sizeof(T)> bytes;
    if (auto r = read_exact(address, bytes); !r) [[unlikely]] {
      return std::unexpected(r.error());
    }
    return std::bit_cast<T>(bytes);
  }

  /// Writes `value` at `address` (an object of 8 bytes or less at an aligned address with one access).
  /// Errors: as write_all.
  template <byte_valued T>
  [[nodiscard]] inline auto write_obj(guest_address address, const T& value) const -> result<void> {
    if constexpr (sizeof(T) <= 8 && std::has_single_bit(sizeof(T))) {
      const auto* s = find_slot(address.raw());
      if (s != nullptr && s->writable && address.raw() % sizeof(T) == 0 && sizeof(T) - 1 <= s->last - address.raw())
          [[likely]] {
        const std::uint64_t offset = address.raw() - s->start;
        detail::store_word<sizeof(T)>(s->host + offset, std::bit_cast<detail::word_t<sizeof(T)>>(value));
        if (s->bitmap != nullptr) {
          s->bitmap->mark(offset, sizeof(T));
        }
        return {};
      }
    }
    const auto bytes = std::bit_cast<std::array<std::byte, sizeof(T)>>(value);
    return write_all(address, bytes);
  }

  /// An atomic load of the T at `address` with `order` (not release or acq_rel): one access, never torn.
  /// Errors: errc::out_of_range, errc::misaligned_access when `address` is not a multiple of sizeof(T).
  template <atomic_value T>
  [[nodiscard]] inline auto load(guest_address address, std::memory_order order) const -> result<T> {
    vmm::contract_check(order != std::memory_order_release && order != std::memory_order_acq_rel,
                        "a load cannot have release semantics");
    const auto* s = find_slot(address.raw());
    if (s == nullptr) [[unlikely]] {
      return failure(errc::out_of_range);
    }
    // Alignment first: an aligned access of at most 8 bytes never crosses a page, so a region boundary either.
    if (address.raw() % sizeof(T) != 0) [[unlikely]] {
      return failure(errc::misaligned_access);
    }
    if (sizeof(T) - 1 > s->last - address.raw()) [[unlikely]] {
      return failure(errc::out_of_range);
    }
    return detail::atomic_load<T>(s->host + (address.raw() - s->start), order);
  }

  /// An atomic store of `value` at `address` with `order` (relaxed, release or seq_cst): one access, marked dirty.
  /// Errors: errc::out_of_range, errc::misaligned_access, errc::read_only_region.
  template <atomic_value T>
  [[nodiscard]] inline auto store(guest_address address, T value, std::memory_order order) const -> result<void> {
    vmm::contract_check(
        order == std::memory_order_relaxed || order == std::memory_order_release || order == std::memory_order_seq_cst,
        "a store can only be relaxed, release or seq_cst");
    const auto* s = find_slot(address.raw());
    if (s == nullptr) [[unlikely]] {
      return failure(errc::out_of_range);
    }
    // Alignment first: an aligned access of at most 8 bytes never crosses a page, so a region boundary either.
    if (address.raw() % sizeof(T) != 0) [[unlikely]] {
      return failure(errc::misaligned_access);
    }
    if (sizeof(T) - 1 > s->last - address.raw()) [[unlikely]] {
      return failure(errc::out_of_range);
    }
    if (!s->writable) [[unlikely]] {
      return failure(errc::read_only_region);
    }
    const std::uint64_t offset = address.raw() - s->start;
    detail::atomic_store<T>(s->host + offset, value, order);
    if (s->bitmap != nullptr) {
      s->bitmap->mark(offset, sizeof(T));
    }
    return {};
  }

  /// One readv from `fd` into guest memory at `address`, at most `length` bytes, as far as memory is mapped and
  /// writable; returns the bytes read (0 at end of file). Errors: errc::out_of_range / read_only_region when
  /// nothing at `address` can be written, the fd's error (EINTR and EAGAIN are returned, not retried).
  [[nodiscard]] auto read_from(guest_address address, sys::borrowed_fd fd, std::uint64_t length) const
      -> result<std::size_t>;

  /// Reads exactly `length` bytes from `fd` into guest memory at `address`, retrying after EINTR and short reads.
  /// The range is checked first (errc::out_of_range, errc::read_only_region: nothing read). Errors afterwards:
  /// errc::unexpected_eof, the fd's error (EAGAIN for a non-blocking fd with no data); the bytes read until then
  /// are in guest memory.
  [[nodiscard]] auto read_exact_from(guest_address address, sys::borrowed_fd fd, std::uint64_t length) const
      -> result<void>;

  /// One writev of guest memory at `address` to `fd`, at most `length` bytes, as far as memory is mapped; returns
  /// the bytes written. Errors: errc::out_of_range when `address` is unmapped, the fd's error.
  [[nodiscard]] auto write_to(guest_address address, sys::borrowed_fd fd, std::uint64_t length) const
      -> result<std::size_t>;

  /// Writes exactly `length` bytes of guest memory at `address` to `fd`, retrying after EINTR and short writes.
  /// Errors: errc::out_of_range (checked first: nothing written), the fd's error, errc::unexpected_eof when the fd
  /// accepts no more bytes.
  [[nodiscard]] auto write_all_to(guest_address address, sys::borrowed_fd fd, std::uint64_t length) const
      -> result<void>;

  /// Marks [address, address + length) dirty in the regions that track it, for writes made outside vmm.memory.
  /// Errors: errc::out_of_range when any byte is unmapped (nothing marked), errc::address_overflow.
  [[nodiscard]] auto mark_dirty(guest_address address, std::uint64_t length) const -> result<void>;

 private:
  /// The slot whose region contains `a`, or nullptr: the last slot starting at or below `a`, found without
  /// branches on the data, then checked.
  [[nodiscard]] inline auto find_slot(std::uint64_t a) const noexcept -> const detail::region_slot* {
    std::size_t n = slots_.size();
    if (n == 0) [[unlikely]] {
      return nullptr;
    }
    const detail::region_slot* base = slots_.data();
    while (n > 1) {
      const std::size_t half = n / 2;
      // __builtin_unpredictable keeps this a cmov: without it clang 19 emits a branch here, mispredicted on about
      // half the steps of a lookup at a random address (3x slower over 256 regions, benches/memory/lookup_bench.cpp).
      const bool upper = base[half].start <= a;
      base = __builtin_unpredictable(static_cast<long>(upper)) != 0 ? base + half : base;
      n -= half;
    }
    return base->start <= a && a <= base->last ? base : nullptr;
  }

  [[nodiscard]] auto read_exact_slow(guest_address address, std::span<std::byte> out) const -> result<void>;
  [[nodiscard]] auto write_all_slow(guest_address address, std::span<const std::byte> in) const -> result<void>;

  /// Checks that [address, address + length) is mapped (and writable for access::write) and calls
  /// visit(slot, offset in region, bytes) for each piece, in order. Nothing is visited on error.
  template <class Visit>
  [[nodiscard]] auto for_each_piece(std::uint64_t address, std::uint64_t length, access mode, const Visit& visit) const
      -> result<void>;

  /// The mapped (writable, for access::write) prefix of [address, address + length): the bytes it covers.
  [[nodiscard]] auto prefix_length(std::uint64_t address, std::uint64_t length, access mode) const noexcept
      -> std::uint64_t;

  std::vector<detail::region_slot> slots_;
  std::vector<std::shared_ptr<const guest_region>> regions_;
  std::uint64_t total_size_ = 0;
};

/// What guest_memory::remove returns: the new snapshot and the region taken out of it.
struct memory_removal {
  guest_memory memory;
  std::shared_ptr<const guest_region> region;
};

}  // namespace vmm::memory
