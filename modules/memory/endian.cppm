// vmm.memory:endian — integers stored in a fixed byte order, for device structures that live in guest memory
// (virtio is little-endian, some legacy and network formats are big-endian).
//
// Each type has the size and alignment of its integer, so a structure of them has the guest's layout and an aligned
// field is read with one access. The stored bits are the wire bytes; value() converts to the host's order.
export module vmm.memory:endian;
import std;

export namespace vmm::memory {

/// An unsigned integer of type `T` stored in byte order `Order` (std::endian::little or std::endian::big).
template <class T, std::endian Order>
  requires std::unsigned_integral<T> && (Order == std::endian::little || Order == std::endian::big)
class endian_value {
 public:
  using value_type = T;
  static constexpr std::endian order = Order;

  constexpr endian_value() noexcept = default;
  /// Stores `value` (given in the host's order) in `Order`.
  constexpr explicit endian_value(T value) noexcept : stored_{convert(value)} {}

  /// The value in the host's order.
  [[nodiscard]] constexpr auto value() const noexcept -> T { return convert(stored_); }
  /// Replaces the value (given in the host's order).
  constexpr void set(T value) noexcept { stored_ = convert(value); }
  /// The stored bits exactly as they lie in memory, reinterpreted as a host integer.
  [[nodiscard]] constexpr auto raw() const noexcept -> T { return stored_; }
  /// An endian_value from bits exactly as they lie in memory.
  [[nodiscard]] static constexpr auto from_raw(T bits) noexcept -> endian_value {
    endian_value v;
    v.stored_ = bits;
    return v;
  }

  friend constexpr auto operator==(endian_value, endian_value) noexcept -> bool = default;

 private:
  static constexpr auto convert(T v) noexcept -> T {
    if constexpr (Order == std::endian::native || sizeof(T) == 1) {
      return v;
    } else {
      return std::byteswap(v);
    }
  }
  T stored_ = 0;
};

/// Whether `T` is an endian_value (every bit pattern of one is a valid value, unlike a bool or an optional).
template <class T>
inline constexpr bool is_endian_value_v = false;
template <class T, std::endian Order>
inline constexpr bool is_endian_value_v<endian_value<T, Order>> = true;

using le16 = endian_value<std::uint16_t, std::endian::little>;  ///< little-endian 16-bit
using le32 = endian_value<std::uint32_t, std::endian::little>;  ///< little-endian 32-bit
using le64 = endian_value<std::uint64_t, std::endian::little>;  ///< little-endian 64-bit
using be16 = endian_value<std::uint16_t, std::endian::big>;     ///< big-endian 16-bit
using be32 = endian_value<std::uint32_t, std::endian::big>;     ///< big-endian 32-bit
using be64 = endian_value<std::uint64_t, std::endian::big>;     ///< big-endian 64-bit

static_assert(sizeof(le16) == 2 && alignof(le16) == 2 && std::is_trivially_copyable_v<le16>);
static_assert(sizeof(be64) == 8 && alignof(be64) == 8 && std::is_trivially_copyable_v<be64>);

}  // namespace vmm::memory
