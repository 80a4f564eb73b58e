// vmm.virtio.net:metrics — what the network device counted, serialisable to JSON.
export module vmm.virtio.net:metrics;
import std;

export namespace vmm::virtio::net {

/// A snapshot of the network device's counters (since it was created; reset does not clear them).
struct net_metrics {
  std::uint64_t tx_frames = 0;              ///< frames the tap took
  std::uint64_t tx_bytes = 0;               ///< their bytes (after the header)
  std::uint64_t tx_malformed = 0;           ///< frames refused by gather_tx_frame (header, size, buffers): dropped
  std::uint64_t tx_memory_errors = 0;       ///< frames with a buffer outside guest memory: dropped
  std::uint64_t tx_tap_errors = 0;          ///< frames the tap refused (queue full, interface down): dropped
  std::uint64_t tx_invalid_chains = 0;      ///< tx chains the queue refused (malformed; its stats say why)
  std::uint64_t rx_frames = 0;              ///< frames delivered to the guest
  std::uint64_t rx_bytes = 0;               ///< their bytes (after the header)
  std::uint64_t rx_buffers = 0;             ///< rx chains used for them (more than rx_frames with MRG_RXBUF)
  std::uint64_t rx_dropped = 0;             ///< frames dropped: too large for an rx chain without MRG_RXBUF
  std::uint64_t rx_memory_errors = 0;       ///< frames dropped because an rx buffer was not writable guest memory
  std::uint64_t rx_bad_buffers = 0;         ///< rx chains too small for a header, returned with length 0
  std::uint64_t rx_short_frames = 0;        ///< tap reads shorter than a header (dropped)
  std::uint64_t rx_tap_errors = 0;          ///< tap reads that failed other than with EAGAIN
  std::uint64_t rx_invalid_chains = 0;      ///< rx chains the queue refused
  std::uint64_t rx_blocked = 0;             ///< times the device stopped reading the tap for lack of rx chains
  std::uint64_t queue_errors = 0;           ///< add_used / notification failures and broken queues
  std::uint64_t interrupts = 0;             ///< used-buffer interrupts raised
  std::uint64_t interrupt_errors = 0;       ///< interrupts that could not be raised
  std::uint64_t ignored_config_writes = 0;  ///< driver writes to the read-only configuration space

  /// The counters as one JSON object, keys named as the members.
  [[nodiscard]] auto to_json() const -> std::string;

  friend constexpr auto operator==(const net_metrics&, const net_metrics&) noexcept -> bool = default;
};

}  // namespace vmm::virtio::net
