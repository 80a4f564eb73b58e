// vmm.virtio.block:device — the virtio-blk device: what it offers (features, one or more queues of up to 256
// entries, the configuration space), activation and reset, and the processing of its queues through one request
// engine. The event-loop side (which fd means what) is :handler.
export module vmm.virtio.block:device;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.device;
import :error;
import :config;
import :request;
import :backend;
import :metrics;
import :engine;

export namespace vmm::virtio::block {

/// How a block device is set up.
struct block_options {
  /// Refuse writes, discards and write-zeroes and offer VIRTIO_BLK_F_RO (also implied by a read-only backend).
  bool read_only = false;
  /// The GET_ID serial: at most 20 bytes are used, shorter ones are padded with NUL.
  std::string serial;
  block_limits limits;
  /// The request queues offered (1..block_device::max_queues). More than one offers VIRTIO_BLK_F_MQ with
  /// config.num_queues; each queue is popped and answered on its own, all share the backend.
  std::uint16_t num_queues = 1;
};

/// A virtio-blk device on a backend.
///
/// Threading: the transport calls the virtio_device members from a vCPU thread; process_queue and
/// process_completions run on the device's event-loop thread (block_handler). One mutex serialises them, so a
/// reset never races a request in progress; requests still in the backend at reset finish there unreported.
class block_device final : public device::virtio_device {
 public:
  /// The most request queues a device offers.
  static constexpr std::uint16_t max_queues = 64;

  /// A device on `backend`. Errors: EINVAL when options.num_queues is 0 or above max_queues; the state eventfd's
  /// (EMFILE).
  [[nodiscard]] static auto create(std::unique_ptr<block_backend> backend, const block_options& options)
      -> vmm::result<std::shared_ptr<block_device>>;

  block_device(const block_device&) = delete;
  auto operator=(const block_device&) -> block_device& = delete;
  block_device(block_device&&) = delete;
  auto operator=(block_device&&) -> block_device& = delete;
  ~block_device() override;

  /// device_id::block.
  [[nodiscard]] auto device_type() const noexcept -> std::uint32_t override;
  /// VERSION_1, RING_PACKED, EVENT_IDX, INDIRECT_DESC, FLUSH, BLK_SIZE, SEG_MAX, SIZE_MAX, and RO when read-only,
  /// else DISCARD and WRITE_ZEROES; MQ with more than one queue.
  [[nodiscard]] auto device_features() const noexcept -> std::uint64_t override;
  /// options.num_queues queues of at most 256 entries.
  [[nodiscard]] auto queue_max_sizes() const noexcept -> std::span<const std::uint16_t> override;
  /// The block_config bytes at `offset` (zero past its end).
  void read_config(std::uint64_t offset, std::span<std::byte> data) const override;
  /// Ignored and counted: no field is writable without VIRTIO_BLK_F_CONFIG_WCE, which is not offered.
  void write_config(std::uint64_t offset, std::span<const std::byte> data) override;
  /// Takes the queues: with MQ negotiated the first 1..num_queues (as many as the driver made ready), without it
  /// queue 0 alone (others the driver made ready are never looked at). Errors: errc::bad_activation (no queue, more
  /// than offered, a queue event missing for a used queue, or no memory or interrupt).
  [[nodiscard]] auto activate(device::activation a) -> vmm::result<void> override;
  /// Drops the queues; requests in flight are abandoned (finished on the backend, never reported).
  void reset() override;

  /// Pops every available chain of queue `index`, runs it, puts finished chains on their queues' used rings and
  /// interrupts the driver when it asked for it. Stops taking chains while the backend is full
  /// (process_completions resumes). Errors: errc::not_activated (also for an index at or past active_queues());
  /// errc::queue_broken / ring_unreadable (that queue needs a reset; the others go on); the interrupt's error.
  /// Malformed chains are never errors here: they are answered and counted.
  [[nodiscard]] auto process_queue(std::size_t index = 0) -> vmm::result<void>;
  /// Reaps the backend's completions, returns their chains, and takes more chains from every queue (if they were
  /// waiting for room). Errors: as process_queue, the first one (errc::not_activated is not an error here:
  /// completions after a reset are reaped and dropped).
  [[nodiscard]] auto process_completions() -> vmm::result<void>;

  /// Signalled on activate and reset, so the handler can watch the new queue event (or stop watching).
  [[nodiscard]] auto state_event() const noexcept -> sys::borrowed_fd { return state_event_.fd(); }
  /// The backend's completion eventfd (empty for a synchronous backend).
  [[nodiscard]] auto completion_event() const noexcept -> sys::borrowed_fd { return backend_->completion_event(); }
  /// Queue `index`'s notification eventfd while active and in use, else empty.
  [[nodiscard]] auto queue_event(std::size_t index = 0) const -> sys::borrowed_fd;
  /// The queues in use: 0 while inactive, else 1, or with MQ negotiated as many as the driver made ready.
  [[nodiscard]] auto active_queues() const -> std::size_t;
  [[nodiscard]] auto active() const -> bool;
  [[nodiscard]] auto read_only() const noexcept -> bool { return read_only_; }
  /// The configuration space as the driver sees it.
  [[nodiscard]] auto config() const noexcept -> const block_config& { return config_; }
  /// The request policy in force (the offered features before activation, the negotiated ones after).
  [[nodiscard]] auto policy() const -> request_policy;
  /// A copy of the counters.
  [[nodiscard]] auto metrics() const -> block_metrics;

  /// The GET_ID serial as 20 bytes.
  [[nodiscard]] static auto serial_bytes(std::string_view serial) noexcept -> std::array<std::byte, id_bytes>;

 private:
  block_device(std::unique_ptr<block_backend> backend, const block_options& options, sys::event_fd state_event);
  [[nodiscard]] auto drain_queue(const std::shared_ptr<const memory::guest_memory>& memory, std::size_t index)
      -> vmm::result<void>;
  [[nodiscard]] auto complete(const memory::guest_memory& memory) -> vmm::result<void>;

  std::unique_ptr<block_backend> backend_;
  bool read_only_;
  block_limits limits_;
  block_config config_;
  sys::event_fd state_event_;
  mutable std::mutex mutex_;
  block_metrics metrics_;
  request_engine engine_;
  std::vector<std::uint16_t> queue_sizes_;
  std::optional<device::activation> activation_;
  std::size_t queues_used_ = 0;  // of activation_->queues
  std::size_t next_queue_ = 0;   // where process_completions starts draining
  queue::descriptor_chain chain_;
  std::vector<finished_chain> finished_;
};

}  // namespace vmm::virtio::block
