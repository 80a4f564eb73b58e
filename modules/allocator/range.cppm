// vmm.allocator:range — the half-open address range [base, base + size) that the address allocator hands out.
export module vmm.allocator:range;
import std;
import vmm.sys;
import :error;

export namespace vmm::allocator {

/// The addresses [base, base + size). A valid range (address_range::make, or one an allocator returned) has
/// size > 0 and ends at or below 2^64, so last() never wraps; the whole 2^64 space is the one range it cannot hold.
struct address_range {
  std::uint64_t base = 0;
  std::uint64_t size = 0;

  /// The range [base, base + size). Errors: errc::zero_size, errc::range_overflow (base + size > 2^64).
  [[nodiscard]] static auto make(std::uint64_t base, std::uint64_t size) -> vmm::result<address_range>;

  /// The range [first, last] (inclusive). Errors: errc::zero_size when first > last; errc::range_overflow for the
  /// whole space [0, 2^64 - 1], whose size does not fit 64 bits.
  [[nodiscard]] static auto inclusive(std::uint64_t first, std::uint64_t last) -> vmm::result<address_range>;

  /// The last address in the range. Precondition: the range is valid.
  [[nodiscard]] inline constexpr auto last() const noexcept -> std::uint64_t { return base + (size - 1); }

  /// Whether `address` lies inside the range.
  [[nodiscard]] inline constexpr auto contains(std::uint64_t address) const noexcept -> bool {
    return address >= base && address - base < size;
  }

  /// Whether all of `other` lies inside the range. Precondition: both are valid.
  [[nodiscard]] inline constexpr auto contains(const address_range& other) const noexcept -> bool {
    return other.base >= base && other.last() <= last();
  }

  /// Whether the two ranges share an address. Precondition: both are valid.
  [[nodiscard]] inline constexpr auto overlaps(const address_range& other) const noexcept -> bool {
    return base <= other.last() && other.base <= last();
  }

  friend constexpr auto operator==(const address_range&, const address_range&) noexcept -> bool = default;
};

/// Whether `value` is a power of two (what every alignment must be; 1 means "no alignment").
[[nodiscard]] inline constexpr auto is_power_of_two(std::uint64_t value) noexcept -> bool {
  return std::has_single_bit(value);
}

}  // namespace vmm::allocator

/// Formats a range as a half-open hex interval ("{}" → "[0x1000, 0x2000)"; the end of a range that ends at 2^64
/// prints as 0x10000000000000000).
template <>
struct std::formatter<vmm::allocator::address_range> : std::formatter<std::uint64_t> {
  static auto format(const vmm::allocator::address_range& r, std::format_context& ctx) {
    if (r.size != 0 && r.last() == std::numeric_limits<std::uint64_t>::max()) {
      return std::format_to(ctx.out(), "[{:#x}, 0x10000000000000000)", r.base);
    }
    return std::format_to(ctx.out(), "[{:#x}, {:#x})", r.base, r.base + r.size);
  }
};
