// vmm.virtio.mmio:transport — the virtio-mmio version 2 register window in front of one virtio device.
export module vmm.virtio.mmio:transport;
import std;
import vmm.sys;
import vmm.memory;
import vmm.device;
import vmm.virtio.queue;
import vmm.virtio.device;
import :error;
import :registers;
import :interrupt;

export namespace vmm::virtio::mmio {

/// The most queues a transport drives (each has an eventfd; no virtio device comes near this).
inline constexpr std::size_t max_queues = 1024;

/// What a transport is made from. device and memory are required; interrupt may be null (the bits are still set,
/// for a driver that polls).
struct mmio_options {
  // {} keeps designated initializers that omit these members free of -Wmissing-designated-field-initializers.
  // NOLINTBEGIN(readability-redundant-member-init)
  std::shared_ptr<device::virtio_device> device{};              ///< the device behind the registers
  std::shared_ptr<const memory::atomic_guest_memory> memory{};  ///< guest memory the queues live in
  std::shared_ptr<vmm::device::interrupt_trigger> interrupt{};  ///< the device's interrupt line (an irqfd)
  // NOLINTEND(readability-redundant-member-init)
  std::uint32_t vendor_id = 0;  ///< what VendorID reads
};

/// A snapshot of the transport's counters. Everything the guest does wrong is ignored and counted here; nothing
/// is reported to the guest except through the status register (FEATURES_OK left clear, DEVICE_NEEDS_RESET).
struct mmio_metrics {
  std::uint64_t invalid_accesses = 0;         ///< register accesses not 4 bytes wide or not 4-byte aligned
  std::uint64_t unknown_register_reads = 0;   ///< reads of reserved, legacy or write-only registers (read 0)
  std::uint64_t ignored_register_writes = 0;  ///< writes to reserved, legacy or read-only registers
  std::uint64_t config_reads = 0;             ///< configuration space reads passed to the device
  std::uint64_t config_writes = 0;            ///< configuration space writes passed to the device
  std::uint64_t ignored_feature_writes = 0;   ///< DriverFeatures with a selector above 1, or after FEATURES_OK
  std::uint64_t features_refused = 0;         ///< FEATURES_OK writes refused (no VERSION_1, or unoffered bits)
  std::uint64_t invalid_status_writes = 0;    ///< status writes out of order, clearing bits, or setting NEEDS_RESET
  std::uint64_t invalid_queue_writes = 0;     ///< queue registers with QueueSel out of range or a bad value
  std::uint64_t queue_writes_after_driver_ok = 0;  ///< queue registers written after DRIVER_OK (CVE-2026-5747)
  std::uint64_t notifications = 0;                 ///< QueueNotify writes delivered to the queue's eventfd
  std::uint64_t invalid_notifications = 0;         ///< QueueNotify writes naming no queue
  std::uint64_t notification_errors = 0;           ///< QueueNotify writes whose eventfd write failed
  std::uint64_t activations = 0;                   ///< DRIVER_OK writes that activated the device
  std::uint64_t activation_failures = 0;           ///< DRIVER_OK writes that ended in DEVICE_NEEDS_RESET
  std::uint64_t resets = 0;                        ///< writes of 0 to the status
  std::uint64_t config_changes = 0;                ///< ConfigGeneration increments (config_changed, update_config)
  std::uint64_t interrupts = 0;                    ///< interrupts triggered
  std::uint64_t interrupt_errors = 0;              ///< interrupt triggers that failed
};

/// The virtio-mmio version 2 transport of one device: a vmm::device::bus_device to register on an mmio_bus on a
/// window of window_size bytes.
///
/// Registers (offsets below reg::config) are accessed 4 bytes at a time at 4-byte aligned offsets; any other access
/// reads as zeroes and is ignored (counted). Configuration space accesses (from reg::config) of any width go to the
/// device's read_config / write_config.
///
/// Feature negotiation: DeviceFeatures shows the device's offer (without VIRTIO_F_NOTIFICATION_DATA, which the
/// transport does not implement), 32 bits per DeviceFeaturesSel value 0 and 1. DriverFeatures stores the 32 bits of
/// DriverFeaturesSel 0 or 1 as written; writing FEATURES_OK checks them: the status write is refused (FEATURES_OK
/// reads back clear) unless they include VIRTIO_F_VERSION_1 and nothing the device did not offer. After FEATURES_OK
/// DriverFeatures writes are ignored.
///
/// Status: the driver adds one bit at a time in the order ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, or FAILED at
/// any time; after FAILED or DEVICE_NEEDS_RESET only FAILED and reset are accepted. Any other write (clearing a bit,
/// skipping a step, setting DEVICE_NEEDS_RESET) is ignored and counted. Writing 0 resets: the device's reset(),
/// every register and queue back to its initial value, InterruptStatus cleared, pending notifications drained;
/// ConfigGeneration keeps counting (it never goes back, so a driver that compares generations across a reset still
/// sees a change).
///
/// Activation: on DRIVER_OK the queues the driver made ready (which must be queues 0..k-1) are built with
/// virtqueue::create from their configuration, the negotiated features and the current guest memory, and handed to
/// device->activate together with their eventfds and the interrupt. When a queue's configuration is invalid or the
/// device refuses, the device stays inactive, DEVICE_NEEDS_RESET is set and a configuration change interrupt is
/// raised (last_activation_error says why).
///
/// Queue registers (QueueSel, QueueNum, QueueReady, QueueDesc/Driver/Device Low/High) are ignored after DRIVER_OK,
/// until reset, and counted: the device works on the queues it was activated with, whatever the guest writes
/// (Firecracker let them be rewritten after activation: CVE-2026-5747).
///
/// Notifications: QueueNotify with a queue index writes 1 to that queue's eventfd (queue_event); other values are
/// ignored and counted. A VMM registers the eventfds as KVM ioeventfds (register_notify_ioeventfds), so a guest's
/// notification never reaches write() at all.
///
/// Thread safety: vCPU threads may call read and write (and every other member) at the same time. The register
/// state is protected by one mutex; the configuration space and ConfigGeneration by a second one (taken after the
/// first where both are held, never the other way round); InterruptStatus and the counters are atomics. The
/// device's activate and reset are called with the register mutex held, read_config and write_config with the
/// configuration mutex held. So a device calls no member of its transport from activate, reset, read_config or
/// write_config, except config_changed / update_config from activate and reset; and a device thread that reset()
/// waits for uses only the interrupt it was given and config_changed / update_config.
class mmio_transport final : public vmm::device::bus_device {
  struct private_tag {
    explicit private_tag() = default;
  };

 public:
  /// A transport for `options.device`, in the reset state, with one non-blocking eventfd per queue. Errors:
  /// errc::version_1_not_offered, errc::too_many_queues, errc::invalid_queue_max_size, an eventfd's creation errno.
  /// Preconditions: options.device and options.memory are not null.
  [[nodiscard]] static auto create(mmio_options options) -> vmm::result<std::shared_ptr<mmio_transport>>;

  /// Use create. (Public only for std::make_shared.)
  mmio_transport(private_tag tag, mmio_options options, std::vector<std::uint16_t> max_sizes, std::uint64_t features,
                 std::vector<sys::event_fd> events);
  /// Resets the device when it is active, so it drops the queues and eventfds it was given.
  ~mmio_transport() override;
  mmio_transport(const mmio_transport&) = delete;
  auto operator=(const mmio_transport&) -> mmio_transport& = delete;
  mmio_transport(mmio_transport&&) = delete;
  auto operator=(mmio_transport&&) -> mmio_transport& = delete;

  /// The guest reads `data.size()` bytes at `offset` of the window.
  void read(vmm::device::bus_address base, std::uint64_t offset, std::span<std::byte> data) override;
  /// The guest writes `data` at `offset` of the window.
  void write(vmm::device::bus_address base, std::uint64_t offset, std::span<const std::byte> data) override;

  /// The device's configuration changed: increments ConfigGeneration and raises a configuration change interrupt.
  /// For a change that is one atomic step of the device's read_config; otherwise use update_config.
  void config_changed();

  /// Runs `change` (a callable taking no arguments that updates the device's configuration) with no configuration
  /// access of the driver in between, increments ConfigGeneration in the same step, then raises a configuration
  /// change interrupt. A driver that reads ConfigGeneration before and after its configuration reads sees either
  /// none of the change and the same generation, or a different generation.
  template <class Change>
  void update_config(Change&& change) {
    {
      const std::scoped_lock lock{config_mutex_};
      std::forward<Change>(change)();
      ++config_generation_;
    }
    announce_config_change();
  }

  /// How many queues the device has.
  [[nodiscard]] inline auto queue_count() const noexcept -> std::size_t { return events_.size(); }
  /// The eventfd queue `index`'s notifications arrive on. Precondition: index < queue_count().
  [[nodiscard]] auto queue_event(std::size_t index) const -> const sys::event_fd&;
  /// The interrupt state the device signals (InterruptStatus).
  [[nodiscard]] inline auto interrupt() const noexcept -> const std::shared_ptr<mmio_interrupt>& { return interrupt_; }
  /// The features DeviceFeatures offers.
  [[nodiscard]] inline auto offered_features() const noexcept -> std::uint64_t { return offered_features_; }

  /// What the status register reads.
  [[nodiscard]] auto status() const -> std::uint32_t;
  /// The features the driver has written to DriverFeatures (negotiated once FEATURES_OK is set).
  [[nodiscard]] auto driver_features() const -> std::uint64_t;
  /// Every queue's configuration as the driver wrote it (frozen after DRIVER_OK).
  [[nodiscard]] auto queue_configs() const -> std::vector<queue::queue_config>;
  /// Whether the device has been activated (and not reset since).
  [[nodiscard]] auto active() const -> bool;
  /// Why the last activation failed (empty when it did not, or after a reset).
  [[nodiscard]] auto last_activation_error() const -> std::error_code;
  /// What ConfigGeneration reads.
  [[nodiscard]] auto config_generation() const -> std::uint32_t;
  /// The counters so far.
  [[nodiscard]] auto metrics() const noexcept -> mmio_metrics;

 private:
  [[nodiscard]] auto read_register(std::uint64_t offset) -> std::uint32_t;
  void write_register(std::uint64_t offset, std::uint32_t value);
  void write_queue_register(std::uint64_t offset, std::uint32_t value);
  void write_status(std::uint32_t value);
  void notify(std::uint32_t index);
  [[nodiscard]] auto features_acceptable() const noexcept -> bool;
  void activate();
  void reset();
  void announce_config_change();
  void initial_queues();

  std::shared_ptr<device::virtio_device> device_;
  std::shared_ptr<const memory::atomic_guest_memory> memory_;
  std::shared_ptr<mmio_interrupt> interrupt_;
  std::vector<std::uint16_t> max_sizes_;
  std::vector<sys::event_fd> events_;
  std::uint32_t vendor_id_;
  std::uint32_t device_id_;
  std::uint64_t offered_features_;

  mutable std::mutex mutex_;  // the register state below
  std::uint32_t status_ = 0;
  std::uint32_t device_features_sel_ = 0;
  std::uint32_t driver_features_sel_ = 0;
  std::uint64_t driver_features_ = 0;
  std::uint32_t queue_sel_ = 0;
  std::vector<queue::queue_config> queues_;
  bool active_ = false;
  std::error_code last_activation_error_;

  mutable std::mutex config_mutex_;  // the device's configuration space accesses and config_generation_
  std::uint32_t config_generation_ = 0;

  struct counters {
    std::atomic<std::uint64_t> invalid_accesses{0};
    std::atomic<std::uint64_t> unknown_register_reads{0};
    std::atomic<std::uint64_t> ignored_register_writes{0};
    std::atomic<std::uint64_t> config_reads{0};
    std::atomic<std::uint64_t> config_writes{0};
    std::atomic<std::uint64_t> ignored_feature_writes{0};
    std::atomic<std::uint64_t> features_refused{0};
    std::atomic<std::uint64_t> invalid_status_writes{0};
    std::atomic<std::uint64_t> invalid_queue_writes{0};
    std::atomic<std::uint64_t> queue_writes_after_driver_ok{0};
    std::atomic<std::uint64_t> notifications{0};
    std::atomic<std::uint64_t> invalid_notifications{0};
    std::atomic<std::uint64_t> notification_errors{0};
    std::atomic<std::uint64_t> activations{0};
    std::atomic<std::uint64_t> activation_failures{0};
    std::atomic<std::uint64_t> resets{0};
    std::atomic<std::uint64_t> config_changes{0};
  };
  counters counters_;
};

}  // namespace vmm::virtio::mmio
