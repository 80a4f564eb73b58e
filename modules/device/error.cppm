// vmm.device:error — the failures a bus detects: bad ranges at registration, accesses no device answers.
export module vmm.device:error;
import std;

export namespace vmm::device {

/// What went wrong on a bus. Each value's message (device_category) is one sentence naming it.
enum class errc : std::uint8_t {
  empty_range = 1,          ///< a range to register has size zero
  range_wraps,              ///< base + size runs past 2^64 (the range would wrap around)
  port_out_of_range,        ///< a port-I/O range runs past port 0xffff
  overlapping_range,        ///< the range overlaps a range already registered (bus::find_overlap names it)
  not_registered,           ///< no device is registered at that base
  no_device_at_address,     ///< an access starts at an address no registered range contains
  access_straddles_device,  ///< an access starts inside a device's range but runs past its end
};

/// The category of vmm::device::errc, named "vmm.device".
[[nodiscard]] auto device_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from a vmm::device::errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::device

template <>
struct std::is_error_code_enum<vmm::device::errc> : std::true_type {};
