// vmm.virtio.queue:config — what a transport learns about a queue from the driver before it is activated, and the
// counters a queue keeps about what the driver did wrong.
export module vmm.virtio.queue:config;
import std;
import vmm.memory;

export namespace vmm::virtio::queue {

/// A queue as the driver configured it through the transport (virtio-mmio's QueueNum, QueueDesc, QueueDriver,
/// QueueDevice, QueueReady). Plain values: nothing here has been checked yet; a queue's create checks them.
struct queue_config {
  /// The largest size the device offers (QueueNumMax).
  std::uint16_t max_size = 0;
  /// The size the driver chose.
  std::uint16_t size = 0;
  /// The driver set QueueReady.
  bool ready = false;
  /// Split: the descriptor table. Packed: the descriptor ring.
  memory::guest_address descriptor_area;
  /// Split: the available ring. Packed: the driver event suppression structure.
  memory::guest_address driver_area;
  /// Split: the used ring. Packed: the device event suppression structure.
  memory::guest_address device_area;

  friend constexpr auto operator==(const queue_config&, const queue_config&) noexcept -> bool = default;
};

/// What a queue counted (for a device's metrics): chains handed to the device, chains dropped because the driver
/// broke a rule (by reason, through the errc of the last one), and notifications.
struct queue_stats {
  std::uint64_t chains_popped = 0;
  std::uint64_t chains_dropped = 0;
  std::uint64_t duplicate_heads = 0;
  std::uint64_t used_added = 0;
  std::uint64_t notifications_needed = 0;
  std::uint64_t notifications_suppressed = 0;
  /// The reason for the latest dropped chain (empty when none was dropped).
  std::error_code last_error;
};

}  // namespace vmm::virtio::queue
