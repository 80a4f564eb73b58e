// vmm.memory:copy — how bytes move between guest memory and the VMM, and the type requirements of typed access.
//
// Guest memory is shared with a running guest (and with other VMM threads), so how a copy touches it matters:
// - A copy of 8 bytes or less uses the widest naturally aligned single accesses the guest address allows (one
//   2-byte access for an aligned 2-byte ring index, never two byte accesses: CVE-2020-13759 was a byte-wise copy of
//   a virtio ring index that the guest saw torn). The accesses are relaxed atomics through std::atomic_ref, so
//   they are single instructions and free of data races in the C++ memory model.
// - A longer copy is std::memcpy: no atomicity is promised for it (none is possible for arbitrary lengths), and
//   concurrent guest writes may be seen partially. This is the contract of every VMM's guest memory.
export module vmm.memory:copy;
import std;
import :endian;

export namespace vmm::memory {

/// Types that may be copied to and from guest memory as their bytes: trivially copyable, and not pointers (a guest
/// never holds a host pointer). Structures of endian_value fields model device layouts. bool is excluded: a guest
/// byte other than 0 or 1 is not a valid bool, and reading one into a bool is undefined behaviour.
template <class T>
concept byte_valued = std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> && !std::is_member_pointer_v<T> &&
                      !std::is_reference_v<T> && !std::is_same_v<std::remove_cv_t<T>, bool>;

/// Types with single-access atomic loads and stores in guest memory: integers (and endian_value types) of 1, 2, 4 or
/// 8 bytes (not bool, as for byte_valued).
template <class T>
concept atomic_value =
    byte_valued<T> && (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8) &&
    ((std::is_integral_v<T> && !std::is_same_v<std::remove_cv_t<T>, bool>) || is_endian_value_v<std::remove_cv_t<T>>);

/// How a range of guest memory will be used: asking for write access to a read-only region fails up front.
enum class access : std::uint8_t {
  read,   ///< the VMM reads guest memory (for example a device reading a request)
  write,  ///< the VMM writes guest memory (marks the pages dirty where tracking is on)
};

}  // namespace vmm::memory

namespace vmm::memory::detail {

/// The unsigned integer of `Size` bytes.
template <std::size_t Size>
using word_t = std::conditional_t<
    Size == 1, std::uint8_t,
    std::conditional_t<Size == 2, std::uint16_t, std::conditional_t<Size == 4, std::uint32_t, std::uint64_t>>>;

/// One relaxed single-instruction load of `Size` bytes at `guest`, which must be aligned to `Size`.
template <std::size_t Size>
[[nodiscard]] inline auto load_word(std::byte* guest) noexcept -> word_t<Size> {
  // SAFETY: `guest` points into a live mapping and is aligned to Size (callers check). Mapped memory provides
  // implicit-lifetime integer objects; atomic_ref makes the access single-copy atomic and race-free.
  return std::atomic_ref<word_t<Size>>{*reinterpret_cast<word_t<Size>*>(guest)}  // NOLINT(*-reinterpret-cast)
      .load(std::memory_order_relaxed);
}

/// One relaxed single-instruction store of `Size` bytes at `guest`, aligned to `Size`.
template <std::size_t Size>
inline void store_word(std::byte* guest, word_t<Size> value) noexcept {
  // SAFETY: as load_word.
  std::atomic_ref<word_t<Size>>{*reinterpret_cast<word_t<Size>*>(guest)}  // NOLINT(*-reinterpret-cast)
      .store(value, std::memory_order_relaxed);
}

/// Copies `n` bytes from guest memory into `out`. At most 8 bytes: widest aligned single accesses.
inline void copy_from_guest(std::byte* out, std::byte* guest, std::size_t n) noexcept {
  if (n > 8) [[likely]] {
    std::memcpy(out, guest, n);
    return;
  }
  while (n > 0) {
    const auto a = reinterpret_cast<std::uintptr_t>(guest);  // NOLINT(*-reinterpret-cast)
    if (n >= 8 && a % 8 == 0) {
      const auto w = load_word<8>(guest);
      std::memcpy(out, &w, 8);
      return;
    }
    if (n >= 4 && a % 4 == 0) {
      const auto w = load_word<4>(guest);
      std::memcpy(out, &w, 4);
      out += 4, guest += 4, n -= 4;
    } else if (n >= 2 && a % 2 == 0) {
      const auto w = load_word<2>(guest);
      std::memcpy(out, &w, 2);
      out += 2, guest += 2, n -= 2;
    } else {
      const auto w = load_word<1>(guest);
      std::memcpy(out, &w, 1);
      out += 1, guest += 1, n -= 1;
    }
  }
}

/// Copies `n` bytes from `in` into guest memory. At most 8 bytes: widest aligned single accesses.
inline void copy_to_guest(std::byte* guest, const std::byte* in, std::size_t n) noexcept {
  if (n > 8) [[likely]] {
    std::memcpy(guest, in, n);
    return;
  }
  while (n > 0) {
    const auto a = reinterpret_cast<std::uintptr_t>(guest);  // NOLINT(*-reinterpret-cast)
    if (n >= 8 && a % 8 == 0) {
      word_t<8> w{};
      std::memcpy(&w, in, 8);
      store_word<8>(guest, w);
      return;
    }
    if (n >= 4 && a % 4 == 0) {
      word_t<4> w{};
      std::memcpy(&w, in, 4);
      store_word<4>(guest, w);
      guest += 4, in += 4, n -= 4;
    } else if (n >= 2 && a % 2 == 0) {
      word_t<2> w{};
      std::memcpy(&w, in, 2);
      store_word<2>(guest, w);
      guest += 2, in += 2, n -= 2;
    } else {
      word_t<1> w{};
      std::memcpy(&w, in, 1);
      store_word<1>(guest, w);
      guest += 1, in += 1, n -= 1;
    }
  }
}

/// Copies between two guest locations (memmove: the ranges may overlap when both are in one region).
inline void copy_guest_to_guest(std::byte* to, std::byte* from, std::size_t n) noexcept {
  if (n > 8) [[likely]] {
    std::memmove(to, from, n);
    return;
  }
  std::array<std::byte, 8> bounce{};
  copy_from_guest(bounce.data(), from, n);
  copy_to_guest(to, bounce.data(), n);
}

/// An atomic load of `T` with `order` from aligned guest memory.
template <class T>
[[nodiscard]] inline auto atomic_load(std::byte* guest, std::memory_order order) noexcept -> T {
  using W = word_t<sizeof(T)>;
  // SAFETY: `guest` is aligned to sizeof(T) inside a live mapping (callers check).
  const W w = std::atomic_ref<W>{*reinterpret_cast<W*>(guest)}.load(order);  // NOLINT(*-reinterpret-cast)
  return std::bit_cast<T>(w);
}

/// An atomic store of `T` with `order` to aligned guest memory.
template <class T>
inline void atomic_store(std::byte* guest, T value, std::memory_order order) noexcept {
  using W = word_t<sizeof(T)>;
  // SAFETY: as atomic_load.
  std::atomic_ref<W>{*reinterpret_cast<W*>(guest)}.store(std::bit_cast<W>(value), order);  // NOLINT(*-reinterpret-cast)
}

}  // namespace vmm::memory::detail
