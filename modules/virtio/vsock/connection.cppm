// vmm.virtio.vsock:connection — one vsock connection between a guest port and a host unix socket: its state
// machine, credit-based flow control in both directions, and the buffers between the socket and the queues.
export module vmm.virtio.vsock:connection;
import std;
import vmm.sys;
import :error;
import :packet;
import :metrics;

export namespace vmm::virtio::vsock {

/// The device's buffer for guest data the host socket has not taken yet (the buf_alloc the device advertises). A
/// guest that sends more than that is reset. Also the largest guest → host seqpacket message.
inline constexpr std::uint32_t connection_buffer_size = 256U * 1024U;
/// The largest host → guest seqpacket message (a longer one resets the connection), and the most bytes read from a
/// host stream socket at once.
inline constexpr std::uint32_t max_host_read = 64U * 1024U;

/// Where a connection is in its life.
enum class connection_state : std::uint8_t {
  connecting,   ///< host-initiated: a REQUEST is sent (or queued) and the guest's RESPONSE is awaited
  established,  ///< data flows (possibly half-closed by either side)
  closing,      ///< the device owes the guest a reset; the connection goes once it is sent
  closed,       ///< nothing more to send; the muxer removes it
};

/// One connection. The socket is a connected, non-blocking unix socket (stream or seqpacket, as the connection's
/// type); every operation on it is non-blocking. The connection never sends the guest more payload than the guest's
/// credit (peer_buf_alloc − (rx_cnt − peer_fwd_cnt), zero when the guest's counters make no sense), and resets the
/// connection when the guest sends more than the device's own credit.
class connection {
 public:
  /// A host-initiated connection: queues the REQUEST to guest port `peer_port` from `local_port`. `pending` holds
  /// bytes the host wrote after its CONNECT line (sent once the connection is established).
  [[nodiscard]] static auto host_initiated(sys::unique_fd socket, std::uint16_t type, std::uint64_t guest_cid,
                                           std::uint32_t local_port, std::uint32_t peer_port,
                                           std::vector<std::byte> pending, vsock::metrics& counters)
      -> std::unique_ptr<connection>;
  /// A guest-initiated connection whose socket is connected: queues the RESPONSE to `request`.
  [[nodiscard]] static auto guest_initiated(sys::unique_fd socket, const header& request, vsock::metrics& counters)
      -> std::unique_ptr<connection>;

  connection(const connection&) = delete;
  auto operator=(const connection&) -> connection& = delete;
  connection(connection&&) = delete;
  auto operator=(connection&&) -> connection& = delete;
  ~connection() = default;

  /// A guest packet addressed to this connection (its header checked by read_tx_packet and check_type_and_op).
  void on_guest_packet(const header& h, std::span<const std::byte> payload);
  /// The socket is readable (or hung up).
  void on_readable();
  /// The socket is writable (or failed).
  void on_writable();

  /// Whether next_rx has a packet to give.
  [[nodiscard]] auto has_rx() const noexcept -> bool;
  /// The next packet for the guest, its payload (at most `max_payload` bytes) in `payload`; false when none.
  [[nodiscard]] auto next_rx(header& h, std::vector<std::byte>& payload, std::size_t max_payload) -> bool;
  /// The socket conditions the connection waits for now (none while it waits only for the guest).
  [[nodiscard]] auto wanted_events() const noexcept -> sys::event_set;

  [[nodiscard]] auto state() const noexcept -> connection_state { return state_; }
  [[nodiscard]] auto type() const noexcept -> std::uint16_t { return type_; }
  [[nodiscard]] auto local_port() const noexcept -> std::uint32_t { return local_port_; }
  [[nodiscard]] auto peer_port() const noexcept -> std::uint32_t { return peer_port_; }
  [[nodiscard]] auto socket() const noexcept -> sys::borrowed_fd { return socket_.borrow(); }
  /// The payload bytes the guest may still receive (its credit).
  [[nodiscard]] auto peer_credit() const noexcept -> std::uint32_t;
  /// Guest bytes buffered for the socket.
  [[nodiscard]] auto tx_buffered() const noexcept -> std::size_t;
  /// Payload bytes sent to the guest so far (rx_cnt, wrapping).
  [[nodiscard]] auto rx_count() const noexcept -> std::uint32_t { return rx_cnt_; }
  /// Guest bytes the socket has taken (fwd_cnt, wrapping).
  [[nodiscard]] auto forwarded_count() const noexcept -> std::uint32_t { return fwd_cnt_; }
  /// Whether the guest would have to be told with a reset if the connection went now: true unless it is closed, or
  /// connecting with its REQUEST not delivered yet.
  [[nodiscard]] auto guest_knows() const noexcept -> bool;
  /// Makes the connection owe the guest a reset (drops what it buffered); the muxer uses it on device reset and
  /// for protocol violations it detects.
  void reset() noexcept;

 private:
  connection(sys::unique_fd socket, std::uint16_t type, std::uint64_t guest_cid, std::uint32_t local_port,
             std::uint32_t peer_port, vsock::metrics& counters) noexcept;

  enum pending_bit : std::uint8_t {
    send_request = 1U << 0U,
    send_response = 1U << 1U,
    send_credit_update = 1U << 2U,
    send_credit_request = 1U << 3U,
    send_shutdown = 1U << 4U,
    send_rst = 1U << 5U,
  };

  void flush();
  // Each returns false when the flush must stop: the connection was reset, or (flush_reply) the reply is not out.
  [[nodiscard]] auto flush_reply() -> bool;
  [[nodiscard]] auto flush_data() -> bool;
  // true for EAGAIN/EINTR; otherwise counts the error, resets the connection and returns false.
  [[nodiscard]] auto socket_failed(const std::error_code& e) -> bool;
  void after_progress();
  [[nodiscard]] auto rx_remaining() const noexcept -> std::size_t { return rx_buf_.size() - rx_off_; }
  [[nodiscard]] auto make_header(std::uint16_t o) noexcept -> header;
  void accept_rw(const header& h, std::span<const std::byte> payload);

  sys::unique_fd socket_;
  vsock::metrics* metrics_;
  std::uint64_t guest_cid_;
  std::uint32_t local_port_;
  std::uint32_t peer_port_;
  std::uint16_t type_;
  connection_state state_ = connection_state::connecting;
  std::uint8_t pending_ = 0;

  // guest → host
  std::vector<std::byte> tx_buf_;  // stream bytes not written yet, from tx_off_
  std::size_t tx_off_ = 0;
  std::vector<std::byte> tx_msg_;               // seqpacket: the message being assembled
  std::deque<std::vector<std::byte>> tx_msgs_;  // seqpacket: complete messages not written yet
  std::size_t tx_msgs_bytes_ = 0;
  std::string reply_;  // "OK <port>\n" not written yet (host-initiated)
  std::size_t reply_off_ = 0;
  std::uint32_t fwd_cnt_ = 0;
  std::uint32_t last_fwd_cnt_sent_ = 0;
  std::uint32_t peer_shutdown_ = 0;
  bool socket_write_shut_ = false;

  // host → guest
  std::vector<std::byte> rx_buf_;  // bytes read from the socket, not sent yet, from rx_off_ (seqpacket: one message)
  std::size_t rx_off_ = 0;
  std::uint32_t rx_cnt_ = 0;
  std::uint32_t peer_buf_alloc_ = 0;
  std::uint32_t peer_fwd_cnt_ = 0;
  bool credit_requested_ = false;
  bool local_eof_ = false;
  bool shutdown_sent_ = false;
};

}  // namespace vmm::virtio::vsock
