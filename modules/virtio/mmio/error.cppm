// vmm.virtio.mmio:error — what the virtio-mmio transport reports besides the errors of the queues and devices it
// drives.
export module vmm.virtio.mmio:error;
import std;

export namespace vmm::virtio::mmio {

/// Failures the transport detects itself. Queue and device errors (vmm::virtio::queue::errc, a device's own) keep
/// their categories.
enum class errc : std::uint8_t {
  version_1_not_offered = 1,  ///< mmio_transport::create: the device does not offer VIRTIO_F_VERSION_1
  too_many_queues,            ///< mmio_transport::create: the device has more than max_queues queues
  invalid_queue_max_size,     ///< mmio_transport::create: a queue's maximum size is 0 or above 32768
  ready_queue_after_unready,  ///< activation: a ready queue follows one the driver did not make ready
};

/// The category of vmm::virtio::mmio::errc, named "vmm.virtio.mmio".
[[nodiscard]] auto mmio_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from a vmm::virtio::mmio::errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::virtio::mmio

template <>
struct std::is_error_code_enum<vmm::virtio::mmio::errc> : std::true_type {};
