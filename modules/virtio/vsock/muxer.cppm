// vmm.virtio.vsock:muxer — maps each (local port, peer port) pair to its connection and unix socket, connects
// guest requests to "<uds_path>_<port>", accepts host connections on "<uds_path>" and "<uds_path>.seqpacket" with
// the "CONNECT <port>\n" handshake, and orders the packets owed to the guest.
//
// The muxer watches its sockets with an epoll instance of its own (as Firecracker's does): the device's handler
// registers that one descriptor with the event manager and calls process_events() when it is readable, so the
// event manager does not see connections come and go. The deadlines of connections waiting on the guest (and of
// host sockets that have not sent their CONNECT line) share one timerfd in that epoll instance, armed for the
// earliest of them: expiry is one more readiness event, nothing polls.
export module vmm.virtio.vsock:muxer;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import :error;
import :packet;
import :metrics;
import :connection;

export namespace vmm::virtio::vsock {

/// The longest CONNECT line accepted, newline included ("CONNECT 4294967295\n" is 19 bytes): a host socket that
/// sends this many bytes without a newline is closed.
inline constexpr std::size_t max_connect_line = 32;
/// Host-initiated connections get local ports from here up (wrapping back to here), skipping ports in use.
inline constexpr std::uint32_t first_local_port = 1U << 30U;
/// The suffix of the seqpacket listener's path ("<uds_path>.seqpacket").
inline constexpr std::string_view seqpacket_listener_suffix = ".seqpacket";

/// How a muxer is set up.
struct muxer_config {
  /// The guest's CID: in [3, 2^32) (0–2 are reserved).
  std::uint64_t guest_cid = 3;
  /// The host-side socket path. The muxer listens on it (and on "<uds_path>.seqpacket"); guest connections to port
  /// P go to "<uds_path>_<P>".
  std::filesystem::path uds_path;
  /// The most connections, pending host handshakes included; more are refused (reset, or socket closed).
  std::size_t max_connections = 256;
  /// The most resets for packets that match no connection waiting for rx buffers; more are dropped (counted).
  std::size_t max_pending_resets = 256;
  /// How long a host-initiated connection waits for the guest's RESPONSE, and an accepted host socket for its
  /// CONNECT line. Then the guest gets a reset (if its REQUEST was delivered), the host socket is closed and the
  /// connection freed (connect_timeouts, handshake_timeouts). Positive.
  std::chrono::milliseconds connect_timeout{2000};
  /// How long a connection that owes the guest a reset waits for an rx buffer to carry it (or for the guest's own
  /// reset). Then the host socket is closed, the connection freed and the reset moved to the standalone queue
  /// (close_timeouts). Positive.
  std::chrono::milliseconds close_timeout{2000};
};

/// The connections of one vsock device. Not thread-safe: the device's thread drives it.
class muxer {
 public:
  /// Binds the two listeners and creates the epoll instance and the timer. Errors: errc::invalid_config; the bind's
  /// error (EADDRINUSE when a path exists, vmm::sys::errc::path_too_long).
  [[nodiscard]] static auto create(muxer_config config) -> vmm::result<std::unique_ptr<muxer>>;

  muxer(const muxer&) = delete;
  auto operator=(const muxer&) -> muxer& = delete;
  muxer(muxer&&) = delete;
  auto operator=(muxer&&) -> muxer& = delete;
  ~muxer() = default;

  /// Whether the driver negotiated VIRTIO_VSOCK_F_SEQPACKET (without it, seqpacket packets are reset and
  /// seqpacket host connections closed).
  void set_seqpacket(bool enabled) noexcept { seqpacket_ = enabled; }

  /// Processes the guest packet in a tx chain. Never fails: a packet read_tx_packet rejects is dropped and counted,
  /// one with a bad type or op is answered with a reset (unless it is one) and counted.
  void handle_tx(const memory::guest_memory& memory, const queue::descriptor_chain& chain);
  /// Processes a guest packet whose header read_tx_packet accepted (src_cid and dst_cid as checked there,
  /// payload.size() == h.len ≤ max_packet_payload).
  void handle_packet(const header& h, std::span<const std::byte> payload);

  /// Whether a packet is owed to the guest.
  [[nodiscard]] auto has_rx() const noexcept -> bool;
  /// The next packet owed to the guest, with at most `max_payload` payload bytes; false when none.
  [[nodiscard]] auto next_rx(header& h, std::vector<std::byte>& payload, std::size_t max_payload) -> bool;
  /// Writes the next packet owed to the guest into an rx chain. Returns the used length, 0 when nothing was owed.
  /// Errors: errc::rx_buffer_too_small (the chain is not used; nothing is lost); a vmm.memory error (the packet is
  /// lost: for data the guest's credit accounting then resets the connection).
  [[nodiscard]] auto fill_rx(const memory::guest_memory& memory, const queue::descriptor_chain& chain)
      -> vmm::result<std::uint32_t>;

  /// Handles the sockets that are ready now and the deadlines that have passed, without waiting. Returns how many
  /// events it handled.
  /// Errors: the epoll wait's (EINTR).
  [[nodiscard]] auto process_events() -> vmm::result<std::size_t>;
  /// The muxer's epoll instance: readable when process_events() has work.
  [[nodiscard]] auto epoll_fd() const noexcept -> sys::borrowed_fd { return epoll_.fd(); }

  /// Closes every connection and pending handshake without telling the guest (the driver reset the device, or
  /// the device sends a transport reset) and drops the resets waiting for rx buffers.
  void reset_all() noexcept;

  /// Open connections (pending handshakes not included).
  [[nodiscard]] auto connection_count() const noexcept -> std::size_t { return connections_.size(); }
  /// Host sockets accepted whose CONNECT line has not arrived yet.
  [[nodiscard]] auto handshake_count() const noexcept -> std::size_t { return handshakes_.size(); }
  /// Connections and handshakes with a deadline (connecting, closing, waiting for a CONNECT line).
  [[nodiscard]] auto deadline_count() const noexcept -> std::size_t { return deadlines_.size(); }
  /// The connection between local (host) port `local` and guest port `peer`, or null.
  [[nodiscard]] auto find(std::uint32_t local, std::uint32_t peer) const noexcept -> const connection*;
  [[nodiscard]] auto counters() noexcept -> vsock::metrics& { return *metrics_; }
  [[nodiscard]] auto counters() const noexcept -> const vsock::metrics& { return *metrics_; }
  /// The counters, shared (the device exposes them).
  [[nodiscard]] auto shared_counters() const noexcept -> std::shared_ptr<vsock::metrics> { return metrics_; }
  [[nodiscard]] auto config() const noexcept -> const muxer_config& { return config_; }

 private:
  using clock = std::chrono::steady_clock;
  struct record {
    std::unique_ptr<connection> conn;
    std::uint64_t token = 0;
    sys::event_set registered = sys::event_set::none;
    bool queued = false;
    connection_state timed = connection_state::established;  // the state its deadline is for (none: established)
    // NOLINTNEXTLINE(readability-redundant-member-init): lets designated initializers omit it (clang warns otherwise)
    clock::time_point deadline{};
  };
  struct handshake {
    sys::unique_fd socket;
    sys::socket_kind kind = sys::socket_kind::stream;
    std::string line;
    // NOLINTNEXTLINE(readability-redundant-member-init): lets designated initializers omit it (clang warns otherwise)
    clock::time_point deadline{};
  };

  muxer(muxer_config config, sys::epoll epoll, sys::timer_fd timer, sys::unix_listener stream,
        sys::unix_listener seqpacket);

  [[nodiscard]] static auto key_of(std::uint32_t local, std::uint32_t peer) noexcept -> std::uint64_t {
    return (static_cast<std::uint64_t>(local) << 32U) | peer;
  }
  void queue_reset(const header& to);
  void guest_connect(const header& h);
  void sync(std::uint64_t key);
  void erase(std::uint64_t key) noexcept;
  void accept_all(const sys::unix_listener& listener, sys::socket_kind kind);
  void on_handshake(std::uint64_t token);
  void fail_handshake(std::uint64_t token) noexcept;
  void drop_handshake(std::uint64_t token) noexcept;
  void update_deadline(record& r);
  void schedule(std::uint64_t token, clock::time_point when);
  void expire_deadlines();
  void expire(std::uint64_t key);
  [[nodiscard]] auto allocate_local_port() noexcept -> std::uint32_t;

  muxer_config config_;
  sys::epoll epoll_;
  sys::timer_fd timer_;
  sys::unix_listener stream_listener_;
  sys::unix_listener seqpacket_listener_;
  std::shared_ptr<vsock::metrics> metrics_ = std::make_shared<vsock::metrics>();
  bool seqpacket_ = false;
  std::unordered_map<std::uint64_t, record> connections_;
  std::unordered_map<std::uint64_t, std::uint64_t> token_to_key_;
  std::unordered_map<std::uint64_t, handshake> handshakes_;
  std::deque<std::uint64_t> rx_queue_;
  std::deque<header> resets_;
  std::set<std::pair<clock::time_point, std::uint64_t>> deadlines_;  // (when, token): at most one per token
  std::optional<clock::time_point> armed_for_;                       // what the timer is armed for
  std::uint64_t next_token_ = 3;                                     // 0 is the timer, 1 and 2 are the listeners
  std::uint32_t next_local_port_ = first_local_port;
  std::vector<std::byte> payload_;  // reused for every packet
};

}  // namespace vmm::virtio::vsock
