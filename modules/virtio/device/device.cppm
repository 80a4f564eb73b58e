// vmm.virtio.device — what every virtio device implements, whatever transport carries it: the device type, the
// features it offers, its queues' maximum sizes, its configuration space, activation with the driver's queues, and
// reset. Also the status bits, device ids and common feature bits of virtio 1.x.
//
// What it deliberately does not do: no transport registers (vmm.virtio.mmio), no queue mechanics
// (vmm.virtio.queue), no device models (vmm.virtio.block, vmm.virtio.net, vmm.virtio.vsock, vmm.virtio.rng).
module;
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
export module vmm.virtio.device;
import std;
import vmm.sys;
import vmm.memory;
export import vmm.virtio.queue;

export namespace vmm::virtio::device {

/// Device status bits (the driver writes them in this order; virtio 1.x §2.1).
namespace status {
inline constexpr std::uint32_t acknowledge = VIRTIO_CONFIG_S_ACKNOWLEDGE;
inline constexpr std::uint32_t driver = VIRTIO_CONFIG_S_DRIVER;
inline constexpr std::uint32_t features_ok = VIRTIO_CONFIG_S_FEATURES_OK;
inline constexpr std::uint32_t driver_ok = VIRTIO_CONFIG_S_DRIVER_OK;
inline constexpr std::uint32_t needs_reset = VIRTIO_CONFIG_S_NEEDS_RESET;
inline constexpr std::uint32_t failed = VIRTIO_CONFIG_S_FAILED;
}  // namespace status

/// Device ids (virtio 1.x §5).
namespace device_id {
inline constexpr std::uint32_t net = VIRTIO_ID_NET;
inline constexpr std::uint32_t block = VIRTIO_ID_BLOCK;
inline constexpr std::uint32_t rng = VIRTIO_ID_RNG;
inline constexpr std::uint32_t vsock = VIRTIO_ID_VSOCK;
}  // namespace device_id

/// Feature bits every device may offer, besides the ring features in vmm::virtio::queue::feature.
namespace feature {
inline constexpr unsigned access_platform = VIRTIO_F_ACCESS_PLATFORM;
inline constexpr unsigned notification_data = 38;  // VIRTIO_F_NOTIFICATION_DATA (not in Debian 12's headers)
}  // namespace feature

/// Why a device raises its interrupt (virtio-mmio's InterruptStatus bits).
enum class interrupt_cause : std::uint8_t {
  used_buffer = 1,    ///< a queue has new used entries
  config_change = 2,  ///< the configuration space changed (or the device needs a reset)
};

/// How a device tells the driver something happened; the transport implements it (virtio-mmio: set the bit in
/// InterruptStatus, then trigger the irqfd). Called from the device's thread.
class virtio_interrupt {
 public:
  virtio_interrupt() = default;
  virtio_interrupt(const virtio_interrupt&) = delete;
  auto operator=(const virtio_interrupt&) -> virtio_interrupt& = delete;
  virtio_interrupt(virtio_interrupt&&) = delete;
  auto operator=(virtio_interrupt&&) -> virtio_interrupt& = delete;
  virtual ~virtio_interrupt() = default;

  /// Raises the interrupt for `cause`. Errors: the signal's (an eventfd write's errno).
  [[nodiscard]] virtual auto signal(interrupt_cause cause) -> vmm::result<void> = 0;
};

/// What a transport hands a device when the driver sets DRIVER_OK: the negotiated features, guest memory, the
/// queues (checked and built from the driver's configuration, in queue order), the eventfd the driver's
/// notifications of each queue arrive on, and the interrupt.
struct activation {
  std::uint64_t features = 0;
  std::shared_ptr<const memory::atomic_guest_memory> memory;
  std::vector<queue::virtqueue> queues;
  /// queue_events[i] is signalled when the driver notifies queue i (an ioeventfd, or written by the transport).
  std::vector<sys::borrowed_fd> queue_events;
  std::shared_ptr<virtio_interrupt> interrupt;
};

/// A virtio device model. The transport calls these from the vCPU thread that accessed its registers; activate and
/// reset hand the queues to and from the device's own thread, so a device synchronises what those threads share.
class virtio_device {
 public:
  virtio_device() = default;
  virtio_device(const virtio_device&) = delete;
  auto operator=(const virtio_device&) -> virtio_device& = delete;
  virtio_device(virtio_device&&) = delete;
  auto operator=(virtio_device&&) -> virtio_device& = delete;
  virtual ~virtio_device() = default;

  /// The device id (device_id::block, …).
  [[nodiscard]] virtual auto device_type() const noexcept -> std::uint32_t = 0;
  /// The features the device offers (VIRTIO_F_VERSION_1 included; the transport refuses a driver without it).
  [[nodiscard]] virtual auto device_features() const noexcept -> std::uint64_t = 0;
  /// The maximum size of each queue; the number of queues is its length.
  [[nodiscard]] virtual auto queue_max_sizes() const noexcept -> std::span<const std::uint16_t> = 0;
  /// Fills `data` from the configuration space at `offset`; bytes past its end read as zero.
  virtual void read_config(std::uint64_t offset, std::span<std::byte> data) const = 0;
  /// The driver writes `data` at `offset` of the configuration space; a device ignores writes to read-only
  /// fields and past its end (and may count them).
  virtual void write_config(std::uint64_t offset, std::span<const std::byte> data) = 0;
  /// Starts the device with the driver's queues. Errors: the device refuses the negotiated state (the transport
  /// then sets DEVICE_NEEDS_RESET); the device stays inactive.
  [[nodiscard]] virtual auto activate(activation a) -> vmm::result<void> = 0;
  /// Stops the device and drops its queues (the driver wrote 0 to the status). The device is ready for a new
  /// activation afterwards.
  virtual void reset() = 0;
};

}  // namespace vmm::virtio::device
