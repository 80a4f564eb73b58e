// vmm.virtio.vsock:device — the virtio-vsock device: configuration space (guest_cid), features, the three queues
// (rx 0, tx 1, event 2), moving packets between the queues and the muxer, and the transport-reset event.
export module vmm.virtio.vsock:device;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.device;
import :error;
import :packet;
import :metrics;
import :muxer;

export namespace vmm::virtio::vsock {

/// Queue indexes.
namespace queue_index {
inline constexpr std::size_t rx = 0;
inline constexpr std::size_t tx = 1;
inline constexpr std::size_t event = 2;
}  // namespace queue_index

/// The maximum sizes of the rx, tx and event queues.
inline constexpr std::array<std::uint16_t, 3> queue_max_sizes{256, 256, 64};

/// The virtio-vsock device. The transport calls the virtio_device members from a vCPU thread; the handler calls
/// process_* from the event-manager thread; one mutex serialises them.
class vsock_device final : public device::virtio_device {
 public:
  /// A device whose muxer is set up from `config` (see muxer::create for the errors).
  [[nodiscard]] static auto create(muxer_config config) -> vmm::result<std::shared_ptr<vsock_device>>;

  explicit vsock_device(std::unique_ptr<vsock::muxer> muxer) noexcept;

  [[nodiscard]] auto device_type() const noexcept -> std::uint32_t override;
  /// VIRTIO_F_VERSION_1, VIRTIO_VSOCK_F_SEQPACKET, VIRTIO_RING_F_EVENT_IDX and VIRTIO_F_RING_PACKED.
  [[nodiscard]] auto device_features() const noexcept -> std::uint64_t override;
  [[nodiscard]] auto queue_max_sizes() const noexcept -> std::span<const std::uint16_t> override;
  /// The configuration space is struct virtio_vsock_config: guest_cid, 8 bytes little-endian.
  void read_config(std::uint64_t offset, std::span<std::byte> data) const override;
  /// The configuration space is read-only: writes are ignored and counted.
  void write_config(std::uint64_t offset, std::span<const std::byte> data) override;
  /// Errors: vmm::virtio::queue::errc::invalid_configuration unless there are three queues and guest memory.
  [[nodiscard]] auto activate(device::activation a) -> vmm::result<void> override;
  /// Drops the queues and closes every connection (a transport reset not delivered yet is dropped too).
  void reset() override;

  /// What a VMM calls when the guest's connections can no longer be valid (after restoring a snapshot, or once the
  /// guest CID changed): closes every connection and pending handshake (the host sockets see end of stream),
  /// drops the resets waiting for rx buffers, and sends the guest VIRTIO_VSOCK_EVENT_TRANSPORT_RESET in the next
  /// event-queue buffer with an interrupt. Without a buffer now, the event waits for the driver's next one (once,
  /// however often this is called meanwhile); an inactive device only closes the connections. Errors: the event
  /// queue's (queue_broken, ring_unreadable) or the interrupt's.
  [[nodiscard]] auto transport_reset() -> vmm::result<void>;
  /// Whether a transport-reset event waits for an event-queue buffer.
  [[nodiscard]] auto transport_reset_pending() const -> bool;

  /// Whether the driver activated the device.
  [[nodiscard]] auto active() const -> bool;
  /// The notification eventfd of queue `index` (empty while inactive).
  [[nodiscard]] auto queue_event(std::size_t index) const -> sys::borrowed_fd;
  /// The muxer's epoll descriptor (readable when a socket is ready).
  [[nodiscard]] auto backend_fd() const noexcept -> sys::borrowed_fd { return backend_fd_; }

  /// Handles every available tx chain, then fills rx buffers with what is owed. Errors: a queue's own
  /// (queue_broken, ring_unreadable) or the interrupt's; every per-chain problem is counted, not returned.
  [[nodiscard]] auto process_tx() -> vmm::result<void>;
  /// Fills available rx chains with owed packets (after the driver added rx buffers).
  [[nodiscard]] auto process_rx() -> vmm::result<void>;
  /// Handles ready sockets and passed deadlines, then fills rx buffers.
  [[nodiscard]] auto process_backend() -> vmm::result<void>;
  /// Delivers a pending transport-reset event (after the driver added event buffers). A buffer with fewer than 4
  /// writable bytes, or one that cannot be written, is returned unused and counted (event_buffer_errors); the
  /// event then waits for the next. Errors: as transport_reset's.
  [[nodiscard]] auto process_event() -> vmm::result<void>;

  [[nodiscard]] auto counters() const noexcept -> const vsock::metrics& { return *metrics_; }

 private:
  [[nodiscard]] auto fill_rx_locked() -> vmm::result<void>;
  [[nodiscard]] auto notify_locked(std::size_t index) -> vmm::result<void>;
  [[nodiscard]] auto deliver_event_locked() -> vmm::result<void>;

  mutable std::mutex mutex_;
  std::unique_ptr<vsock::muxer> muxer_;
  std::shared_ptr<vsock::metrics> metrics_;
  sys::borrowed_fd backend_fd_;
  std::unique_ptr<device::activation> active_;  // null while inactive
  std::shared_ptr<const memory::guest_memory> memory_;
  queue::descriptor_chain chain_;
  bool event_pending_ = false;
};

}  // namespace vmm::virtio::vsock
