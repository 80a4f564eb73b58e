// vmm.devices.legacy:error — what the legacy devices report besides OS errors.
export module vmm.devices.legacy:error;
import std;

export namespace vmm::devices::legacy {

/// Failures the legacy devices detect themselves (a sink's OS failures keep their errno in std::system_category()).
enum class errc : std::uint8_t {
  receive_fifo_full = 1,  ///< serial::enqueue_input: the 64-byte receive FIFO has no room for even one byte
  keyboard_buffer_full,   ///< i8042::enqueue_keyboard: the controller's output queue has no room for even one byte
  output_closed,          ///< fd_output: write(2) accepted no bytes
  output_limit_reached,   ///< memory_output: the sink already holds its byte limit
};

/// The category of vmm::devices::legacy::errc, named "vmm.devices.legacy".
[[nodiscard]] auto legacy_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from an errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::devices::legacy

template <>
struct std::is_error_code_enum<vmm::devices::legacy::errc> : std::true_type {};
