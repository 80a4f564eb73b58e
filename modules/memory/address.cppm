// vmm.memory:address — strong types for guest physical addresses and offsets inside a region.
//
// A guest address is a number the guest chose: every arithmetic operation on it is checked, and an overflow is an
// error (errc::address_overflow), never a wrap. The unchecked forms exist only where the caller has proved the result
// fits, and they are contract-checked all the same.
export module vmm.memory:address;
import std;
import vmm.sys;
import :error;

export namespace vmm::memory {

/// A guest physical address.
class guest_address {
 public:
  constexpr guest_address() noexcept = default;
  constexpr explicit guest_address(std::uint64_t value) noexcept : value_{value} {}

  /// The address as a number.
  [[nodiscard]] constexpr auto raw() const noexcept -> std::uint64_t { return value_; }

  /// This address plus `offset`. Errors: errc::address_overflow when the sum passes 2^64 - 1.
  [[nodiscard]] constexpr auto checked_add(std::uint64_t offset) const noexcept -> result<guest_address> {
    std::uint64_t sum = 0;
    if (__builtin_add_overflow(value_, offset, &sum)) {
      return failure(errc::address_overflow);
    }
    return guest_address{sum};
  }

  /// This address minus `offset`. Errors: errc::address_overflow when the difference is below 0.
  [[nodiscard]] constexpr auto checked_sub(std::uint64_t offset) const noexcept -> result<guest_address> {
    if (offset > value_) {
      return failure(errc::address_overflow);
    }
    return guest_address{value_ - offset};
  }

  /// The distance from `base` up to this address. Errors: errc::address_overflow when `base` lies above.
  [[nodiscard]] constexpr auto offset_from(guest_address base) const noexcept -> result<std::uint64_t> {
    if (base.value_ > value_) {
      return failure(errc::address_overflow);
    }
    return value_ - base.value_;
  }

  /// This address plus `offset`, for a sum the caller knows fits (contract-checked).
  [[nodiscard]] constexpr auto unchecked_add(std::uint64_t offset) const noexcept -> guest_address {
    vmm::contract_check(offset <= std::numeric_limits<std::uint64_t>::max() - value_,
                        "guest_address::unchecked_add overflowed");
    return guest_address{value_ + offset};
  }

  /// Whether the address is a multiple of `alignment` (a power of two).
  [[nodiscard]] constexpr auto is_aligned(std::uint64_t alignment) const noexcept -> bool {
    vmm::contract_check(std::has_single_bit(alignment), "alignment must be a power of two");
    return (value_ & (alignment - 1)) == 0;
  }

  /// The next multiple of `alignment` (a power of two) at or above this address. Errors: errc::address_overflow.
  [[nodiscard]] constexpr auto align_up(std::uint64_t alignment) const noexcept -> result<guest_address> {
    vmm::contract_check(std::has_single_bit(alignment), "alignment must be a power of two");
    return checked_add((alignment - (value_ & (alignment - 1))) & (alignment - 1));
  }

  /// The multiple of `alignment` (a power of two) at or below this address.
  [[nodiscard]] constexpr auto align_down(std::uint64_t alignment) const noexcept -> guest_address {
    vmm::contract_check(std::has_single_bit(alignment), "alignment must be a power of two");
    return guest_address{value_ & ~(alignment - 1)};
  }

  friend constexpr auto operator<=>(guest_address, guest_address) noexcept = default;

 private:
  std::uint64_t value_ = 0;
};

/// An offset from the start of one memory region (rust-vmm's MemoryRegionAddress): meaningful only together with
/// the region it was computed for.
class region_address {
 public:
  constexpr region_address() noexcept = default;
  constexpr explicit region_address(std::uint64_t value) noexcept : value_{value} {}

  [[nodiscard]] constexpr auto raw() const noexcept -> std::uint64_t { return value_; }

  /// This offset plus `offset`. Errors: errc::address_overflow.
  [[nodiscard]] constexpr auto checked_add(std::uint64_t offset) const noexcept -> result<region_address> {
    std::uint64_t sum = 0;
    if (__builtin_add_overflow(value_, offset, &sum)) {
      return failure(errc::address_overflow);
    }
    return region_address{sum};
  }

  friend constexpr auto operator<=>(region_address, region_address) noexcept = default;

 private:
  std::uint64_t value_ = 0;
};

/// A half-open guest range [start, start + size) whose end was checked not to overflow.
struct guest_range {
  guest_address start;
  std::uint64_t size = 0;

  /// The range [start, start + size). Errors: errc::address_overflow when start + size passes 2^64 (a range may end
  /// exactly at 2^64).
  [[nodiscard]] static constexpr auto make(guest_address start, std::uint64_t size) noexcept -> result<guest_range> {
    if (size != 0 && size - 1 > std::numeric_limits<std::uint64_t>::max() - start.raw()) {
      return failure(errc::address_overflow);
    }
    return guest_range{.start = start, .size = size};
  }

  /// The last address inside the range (the range must not be empty).
  [[nodiscard]] constexpr auto last() const noexcept -> guest_address {
    vmm::contract_check(size != 0, "guest_range::last of an empty range");
    return guest_address{start.raw() + (size - 1)};
  }

  /// Whether `address` lies inside the range.
  [[nodiscard]] constexpr auto contains(guest_address address) const noexcept -> bool {
    return address >= start && address.raw() - start.raw() < size;
  }

  /// Whether the two ranges share at least one address.
  [[nodiscard]] constexpr auto overlaps(const guest_range& other) const noexcept -> bool {
    return size != 0 && other.size != 0 && start <= other.last() && other.start <= last();
  }

  friend constexpr auto operator==(const guest_range&, const guest_range&) noexcept -> bool = default;
};

}  // namespace vmm::memory

/// Formats a guest address as 0x-prefixed hex ("{}" → "0x1000").
template <>
struct std::formatter<vmm::memory::guest_address> : std::formatter<std::uint64_t> {
  static auto format(vmm::memory::guest_address a, std::format_context& ctx) {
    return std::format_to(ctx.out(), "{:#x}", a.raw());
  }
};
