// vmm.virtio.net:device — the network device's state and its virtio_device implementation: one rx/tx queue pair
// on a tap.
export module vmm.virtio.net:device;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.device;
import :error;
import :config;
import :header;
import :frame;
import :tap;
import :metrics;

export namespace vmm::virtio::net {

/// Queue indices.
inline constexpr std::size_t rx_queue = 0;
inline constexpr std::size_t tx_queue = 1;
/// The size each queue offers (QueueNumMax).
inline constexpr std::uint16_t queue_size = 256;
/// The rx bounce buffer: one tap read, header and the largest frame.
inline constexpr std::size_t rx_buffer_size = header_size + max_frame_bytes;

/// What a network device is made with.
struct net_options {
  std::array<std::uint8_t, 6> mac{0x02, 0, 0, 0, 0, 1};  ///< the guest's MAC address (locally administered)
  std::uint16_t mtu = 1500;                              ///< the MTU the driver is advised to use
};

/// The features `tap` lets the device offer: VERSION_1, MAC, MTU, STATUS, MRG_RXBUF, EVENT_IDX, RING_PACKED,
/// INDIRECT_DESC always; CSUM and GUEST_CSUM when the tap takes TUN_F_CSUM; HOST_TSO4/6 and GUEST_TSO4/6 when it
/// takes TUN_F_TSO4 and TUN_F_TSO6 too.
[[nodiscard]] auto features_for_offloads(std::uint32_t tun_offloads) noexcept -> std::uint64_t;

/// Whether a negotiated feature set respects virtio-net's dependencies (§5.1.3.1): HOST_TSO4/6 need CSUM,
/// GUEST_TSO4/6 need GUEST_CSUM. Errors: errc::invalid_features.
[[nodiscard]] auto check_feature_dependencies(std::uint64_t features) -> vmm::result<void>;

/// The virtio network device (device id 1): rx queue 0, tx queue 1, frames to and from a tap.
///
/// tx: each chain's readable part is one frame with its header; gather_tx_frame checks it and the frame goes to
/// the tap in one writev behind the checked header copy; every chain is returned with length 0, and a refused frame
/// is counted and dropped. rx: one tap read (one frame) into a bounce buffer, then into the next rx chain (or,
/// with MRG_RXBUF, as many chains as it needs, num_buffers set in the first); when no rx chain is available the
/// frame waits in the buffer and process_rx reports that the tap should not be read until the rx queue is
/// notified.
///
/// Threading: the transport calls the virtio_device members from a vCPU thread; process_tx and process_rx run on
/// the event-manager thread (net_handler). One mutex guards the state they share.
class net_device final : public device::virtio_device {
 public:
  /// A new inactive device on `tap`. Errors: the state eventfd's (EMFILE, ENFILE).
  [[nodiscard]] static auto create(tap backend, const net_options& options = {})
      -> vmm::result<std::shared_ptr<net_device>>;

  [[nodiscard]] auto device_type() const noexcept -> std::uint32_t override;
  [[nodiscard]] auto device_features() const noexcept -> std::uint64_t override;
  [[nodiscard]] auto queue_max_sizes() const noexcept -> std::span<const std::uint16_t> override;
  /// The 12 bytes of net_config (MAC, status LINK_UP, one queue pair, MTU); bytes past them read as zero.
  void read_config(std::uint64_t offset, std::span<std::byte> data) const override;
  /// Ignored and counted: every field this device exposes is read-only to a virtio 1.x driver.
  void write_config(std::uint64_t offset, std::span<const std::byte> data) override;
  /// Takes the rx and tx queues and sets the tap's offloads to what the driver takes (offload_for_features).
  /// Errors: errc::wrong_queue_count, errc::no_memory, errc::no_interrupt, errc::already_active,
  /// errc::invalid_features; TUNSETOFFLOAD's or the state eventfd's error (the device stays inactive).
  [[nodiscard]] auto activate(device::activation a) -> vmm::result<void> override;
  /// Drops the queues and any frame waiting for an rx chain, and turns the tap's offloads off.
  void reset() override;

  /// Sends every available tx chain's frame to the tap and returns the chains; signals the interrupt once when the
  /// driver wants one. Errors: errc::queue_broken (counted; nothing more is sent until reset).
  [[nodiscard]] auto process_tx() -> vmm::result<void>;
  /// Moves frames from the tap into rx chains until the tap is empty or no rx chain is left. Returns whether the tap
  /// should go on being watched: false when a frame waits for an rx chain (watch the rx queue's event instead),
  /// when the tap failed, or when the device is inactive. Errors: errc::queue_broken.
  [[nodiscard]] auto process_rx() -> vmm::result<bool>;

  /// Written by activate and reset, so the handler re-reads the fds below. Owned by the device.
  [[nodiscard]] auto state_event() const noexcept -> sys::borrowed_fd { return state_event_.fd(); }
  /// The eventfd of queue `index`'s notifications while active (invalid while inactive).
  [[nodiscard]] auto queue_event(std::size_t index) const -> sys::borrowed_fd;
  /// The tap's descriptor.
  [[nodiscard]] auto tap_fd() const noexcept -> sys::borrowed_fd { return tap_.fd(); }
  /// The tap's interface name.
  [[nodiscard]] auto tap_name() const noexcept -> const std::string& { return tap_.name(); }
  /// Whether the device is active.
  [[nodiscard]] auto active() const -> bool;
  /// The features the driver accepted (0 while inactive).
  [[nodiscard]] auto acked_features() const -> std::uint64_t;
  /// The configuration space contents.
  [[nodiscard]] auto config() const noexcept -> const net_config& { return config_; }
  /// A snapshot of the counters.
  [[nodiscard]] auto metrics() const -> net_metrics;

  net_device(const net_device&) = delete;
  auto operator=(const net_device&) -> net_device& = delete;
  net_device(net_device&&) = delete;
  auto operator=(net_device&&) -> net_device& = delete;
  ~net_device() override = default;

 private:
  net_device(tap backend, const net_options& options, sys::event_fd state_event);
  // Delivers the frame in rx_buffer_ into rx chains; false when the queue ran out of chains midway.
  [[nodiscard]] auto deliver_rx(const memory::guest_memory& memory, queue::virtqueue& queue, bool& used)
      -> vmm::result<bool>;
  void drop_rx_frame(const memory::guest_memory& memory, queue::virtqueue& queue);
  // Puts the popped rx chain to use for the waiting frame (or returns it empty, or drops the frame).
  [[nodiscard]] auto place_rx_chain(const memory::guest_memory& memory, queue::virtqueue& queue) -> vmm::result<void>;
  // Sets num_buffers and adds the frame's chains to the used ring.
  [[nodiscard]] auto complete_rx_frame(const memory::guest_memory& memory, queue::virtqueue& queue)
      -> vmm::result<void>;
  // Reads the next frame from the tap into rx_buffer_; false when none is waiting (or the tap failed: watch_tap).
  [[nodiscard]] auto fill_rx_buffer(bool& watch_tap) -> bool;
  // Sends the popped tx chain's frame (or counts why not).
  void send_frame(const memory::guest_memory& memory);
  // Pops and sends every available tx chain; sets `used` when a chain went back to the driver.
  [[nodiscard]] auto send_available(const memory::guest_memory& memory, queue::virtqueue& queue, bool& used)
      -> vmm::result<void>;
  [[nodiscard]] auto notify(const memory::guest_memory& memory, queue::virtqueue& queue) -> vmm::result<void>;
  [[nodiscard]] auto broken() -> vmm::result<void>;

  struct rx_piece {
    queue::chain_token token;
    std::uint32_t length = 0;
  };

  mutable std::mutex mutex_;
  tap tap_;
  net_config config_;
  std::uint64_t offered_ = 0;
  std::optional<device::activation> active_;
  std::uint64_t features_ = 0;                           // active_->features while active
  std::shared_ptr<device::virtio_interrupt> interrupt_;  // active_->interrupt while active
  queue::descriptor_chain chain_;
  std::vector<sys::io_buffer> frame_buffers_;
  std::vector<sys::io_buffer> tx_iov_;
  std::vector<std::byte> rx_buffer_;
  std::size_t rx_length_ = 0;         // bytes of a frame waiting in rx_buffer_ (0: none)
  std::size_t rx_offset_ = 0;         // bytes of it already written into rx chains
  std::vector<rx_piece> rx_pieces_;   // the chains it took so far (used when the frame is complete)
  queue::descriptor_chain rx_first_;  // the first of them, for num_buffers
  net_metrics metrics_;
  sys::event_fd state_event_;
};

}  // namespace vmm::virtio::net
