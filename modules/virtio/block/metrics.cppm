// vmm.virtio.block:metrics — what the block device counted: requests by type, bytes moved, malformed requests by
// cause, backend failures, queue events and interrupts; serialised as one JSON object.
export module vmm.virtio.block:metrics;
import std;
import :error;

export namespace vmm::virtio::block {

/// The number of errc values a request can fail with (index = value − 1 in block_metrics::errors).
inline constexpr std::size_t error_cause_count = static_cast<std::size_t>(errc::bad_activation);

/// The block device's counters (a snapshot: block_device::metrics copies them under the device's lock).
struct block_metrics {
  std::uint64_t reads = 0;
  std::uint64_t writes = 0;
  std::uint64_t flushes = 0;
  std::uint64_t get_ids = 0;
  std::uint64_t discards = 0;
  std::uint64_t write_zeroes = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;
  /// Requests answered OK, IOERR and UNSUPP, and chains dropped without a status.
  std::uint64_t status_ok = 0;
  std::uint64_t status_ioerr = 0;
  std::uint64_t status_unsupp = 0;
  std::uint64_t dropped = 0;
  /// Failures by cause: errors[e − 1] counts errc e (malformed requests, and errc::io_failed for backend errors).
  std::array<std::uint64_t, error_cause_count> errors{};
  /// Chains the queue refused (its own checks) and queue operations that failed.
  std::uint64_t queue_errors = 0;
  std::uint64_t queue_events = 0;
  std::uint64_t completion_events = 0;
  std::uint64_t interrupts = 0;
  std::uint64_t interrupt_errors = 0;
  /// Driver writes to the (read-only) configuration space, ignored.
  std::uint64_t config_writes_ignored = 0;

  /// The count for one cause.
  [[nodiscard]] constexpr auto errors_of(errc e) const noexcept -> std::uint64_t {
    const auto i = static_cast<std::size_t>(e);
    return i >= 1 && i <= errors.size() ? std::span{errors}[i - 1] : 0;
  }
  /// Adds one to the count for `e`, when it is a vmm.virtio.block errc (other codes count as io_failed).
  void count_error(std::error_code e) noexcept;

  /// The counters as one JSON object: {"reads":…, …, "errors":{"header_too_short":…, …}}.
  [[nodiscard]] auto to_json() const -> std::string;
};

/// The name of a cause as it appears in to_json ("header_too_short").
[[nodiscard]] auto cause_name(errc e) noexcept -> std::string_view;

}  // namespace vmm::virtio::block
