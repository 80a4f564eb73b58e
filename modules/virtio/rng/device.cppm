// vmm.virtio.rng:device — the entropy device's state, its virtio_device implementation, and the request core.
export module vmm.virtio.rng:device;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.device;
import :error;
import :metrics;

export namespace vmm::virtio::rng {

/// The size the request queue offers (QueueNumMax).
inline constexpr std::uint16_t queue_size = 256;

/// The most random bytes one request gets: a chain with more writable bytes is filled up to this and answered with
/// it as its used length (counted as rng_metrics::capped_requests). 64 KiB bounds the time one guest request holds
/// the device thread (a getrandom of 64 KiB takes tens of microseconds) and is 32 times what Linux's hw_random core
/// asks for at once; a guest wanting more simply makes more requests.
inline constexpr std::uint32_t max_request_bytes = 64 * 1024;

/// How fill_request ended.
enum class request_status : std::uint8_t {
  filled,               ///< every writable byte got a random byte
  capped,               ///< the first max_request_bytes writable bytes got random bytes; the rest is untouched
  no_writable_buffer,   ///< the chain has no writable byte (readable buffers only, or zero lengths): length 0
  entropy_unavailable,  ///< getrandom failed or returned nothing (pool not initialised, interrupted): partial
  memory_error,         ///< a writable buffer is no longer writable guest memory (hot-unplug, read-only): partial
};

/// What one request produced: the used length to report (the random bytes written, in chain order from the first
/// writable byte) and how it ended.
struct request_outcome {
  std::uint32_t used_length = 0;
  request_status status = request_status::filled;

  friend constexpr auto operator==(request_outcome, request_outcome) noexcept -> bool = default;
};

/// Fills `chain`'s writable buffers in order with bytes from getrandom (non-blocking), at most max_request_bytes.
/// Readable buffers are ignored (the spec gives them no meaning for this device). Never fails: a failure midway
/// ends the request with what was written so far (see request_status). Guest memory written is marked dirty.
[[nodiscard]] auto fill_request(const memory::guest_memory& memory, const queue::descriptor_chain& chain)
    -> request_outcome;

/// The virtio entropy device (device id 4). No configuration space: reads return zero, writes are ignored and
/// counted. Offers VERSION_1, RING_PACKED, EVENT_IDX and INDIRECT_DESC (the queue implements all four).
///
/// Threading: the transport calls the virtio_device members from a vCPU thread; process_queue runs on the device's
/// event-manager thread (rng_handler). One mutex guards the state they share. activate and reset write
/// state_event(), which the handler watches to start or stop watching the queue's notification eventfd.
class rng_device final : public device::virtio_device {
 public:
  /// A new inactive device. Errors: the eventfd's (EMFILE, ENFILE).
  [[nodiscard]] static auto create() -> vmm::result<std::shared_ptr<rng_device>>;

  [[nodiscard]] auto device_type() const noexcept -> std::uint32_t override;
  [[nodiscard]] auto device_features() const noexcept -> std::uint64_t override;
  [[nodiscard]] auto queue_max_sizes() const noexcept -> std::span<const std::uint16_t> override;
  void read_config(std::uint64_t offset, std::span<std::byte> data) const override;
  void write_config(std::uint64_t offset, std::span<const std::byte> data) override;
  /// Takes the driver's queue. Errors: errc::wrong_queue_count, errc::no_memory, errc::no_interrupt,
  /// errc::already_active; the state eventfd's write error (the device stays inactive).
  [[nodiscard]] auto activate(device::activation a) -> vmm::result<void> override;
  void reset() override;

  /// Answers every available request: pops each chain, fills it (fill_request), adds it to the used ring, then
  /// re-enables notifications and goes on while more arrived; signals the interrupt once when the driver wants one.
  /// Malformed chains are counted and skipped (the queue already returned them). Does nothing while inactive.
  /// Errors: errc::queue_broken (the driver corrupted the rings; counted; nothing more is processed until reset).
  [[nodiscard]] auto process_queue() -> vmm::result<void>;

  /// Written by activate and reset, so the handler re-reads queue_event(). Owned by the device.
  [[nodiscard]] auto state_event() const noexcept -> sys::borrowed_fd { return state_event_.fd(); }
  /// The eventfd the driver's notifications arrive on while active (invalid while inactive).
  [[nodiscard]] auto queue_event() const -> sys::borrowed_fd;
  /// Whether the device is active (activated and not reset since).
  [[nodiscard]] auto active() const -> bool;
  /// The features the driver accepted (0 while inactive).
  [[nodiscard]] auto acked_features() const -> std::uint64_t;
  /// A snapshot of the counters.
  [[nodiscard]] auto metrics() const -> rng_metrics;

  rng_device(const rng_device&) = delete;
  auto operator=(const rng_device&) -> rng_device& = delete;
  rng_device(rng_device&&) = delete;
  auto operator=(rng_device&&) -> rng_device& = delete;
  ~rng_device() override = default;

 private:
  explicit rng_device(sys::event_fd state_event) noexcept : state_event_{std::move(state_event)} {}
  void account(request_outcome outcome);
  // Pops and answers every available chain; sets `answered` when a chain went back to the driver.
  [[nodiscard]] auto answer_available(const memory::guest_memory& memory, queue::virtqueue& queue, bool& answered)
      -> vmm::result<void>;
  [[nodiscard]] auto broken() -> vmm::result<void>;

  mutable std::mutex mutex_;
  std::optional<device::activation> active_;
  queue::descriptor_chain chain_;
  rng_metrics metrics_;
  sys::event_fd state_event_;
};

}  // namespace vmm::virtio::rng
