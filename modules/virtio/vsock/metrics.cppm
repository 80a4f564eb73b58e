// vmm.virtio.vsock:metrics — the device's counters (relaxed atomics: written on the device thread, read anywhere),
// serialised to JSON.
export module vmm.virtio.vsock:metrics;
import std;

export namespace vmm::virtio::vsock {

/// One counter, readable from any thread.
class counter {
 public:
  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] auto get() const noexcept -> std::uint64_t { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// What the device counts. Every dropped or reset guest packet is counted under its reason.
struct metrics {
  counter tx_packets;              ///< guest packets accepted (header valid)
  counter tx_payload_bytes;        ///< their payload bytes
  counter rx_packets;              ///< packets delivered to the guest
  counter rx_payload_bytes;        ///< their payload bytes
  counter dropped_header_short;    ///< tx chains shorter than a header (dropped)
  counter dropped_bad_cid;         ///< wrong src_cid or dst_cid (dropped)
  counter dropped_bad_len;         ///< len above the limit or the readable payload (dropped)
  counter dropped_unreadable;      ///< a buffer could not be read (dropped)
  counter bad_type;                ///< unknown or not negotiated type (answered with a reset)
  counter bad_op;                  ///< unknown op (answered with a reset)
  counter no_connection;           ///< a packet for no connection (answered with a reset unless it is one)
  counter credit_exceeded;         ///< the guest overran the device's buffer (connection reset)
  counter protocol_errors;         ///< an op that is illegal in the connection's state (connection reset)
  counter resets_sent;             ///< RST packets sent to the guest
  counter resets_received;         ///< RST packets from the guest
  counter resets_dropped;          ///< resets not sent because the reset queue was full
  counter guest_connects;          ///< guest-initiated connections established
  counter guest_connect_failures;  ///< guest requests refused (no listener, limit reached, ...)
  counter host_connects;           ///< host-initiated connections established
  counter handshake_failures;      ///< host sockets closed for a bad CONNECT line, refusal or limit
  counter socket_errors;           ///< host socket read/write failures (connection reset)
  counter connect_timeouts;        ///< host connections the guest did not answer in time (reset, socket closed)
  counter close_timeouts;          ///< connections whose reset the guest did not take in time (socket closed)
  counter handshake_timeouts;      ///< host sockets closed for sending no CONNECT line in time
  counter transport_resets;        ///< TRANSPORT_RESET events written to the guest's event buffers
  counter event_buffer_errors;     ///< event buffers too small or not writable (returned unused)
  counter rx_buffer_too_small;     ///< rx chains too small for a header (returned unused)
  counter config_writes_ignored;   ///< driver writes to the read-only configuration space

  /// The counters as one JSON object, {"tx_packets": 1, ...}.
  [[nodiscard]] auto to_json() const -> std::string;
};

}  // namespace vmm::virtio::vsock
