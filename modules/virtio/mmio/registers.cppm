// vmm.virtio.mmio:registers — the virtio-mmio version 2 register layout (virtio 1.x §4.2.2), from the kernel's UAPI
// header linux/virtio_mmio.h, evaluated here once and exported as constants.
module;
#include <linux/virtio_mmio.h>
export module vmm.virtio.mmio:registers;
import std;

export namespace vmm::virtio::mmio {

/// Register offsets inside the transport's window. Every register is 32 bits wide and 4-byte aligned.
namespace reg {
inline constexpr std::uint64_t magic_value = VIRTIO_MMIO_MAGIC_VALUE;                  ///< R: magic
inline constexpr std::uint64_t version = VIRTIO_MMIO_VERSION;                          ///< R: 2
inline constexpr std::uint64_t device_id = VIRTIO_MMIO_DEVICE_ID;                      ///< R: the device type
inline constexpr std::uint64_t vendor_id = VIRTIO_MMIO_VENDOR_ID;                      ///< R
inline constexpr std::uint64_t device_features = VIRTIO_MMIO_DEVICE_FEATURES;          ///< R: 32 bits of the offer
inline constexpr std::uint64_t device_features_sel = VIRTIO_MMIO_DEVICE_FEATURES_SEL;  ///< W: which 32 bits
inline constexpr std::uint64_t driver_features = VIRTIO_MMIO_DRIVER_FEATURES;          ///< W: 32 bits accepted
inline constexpr std::uint64_t driver_features_sel = VIRTIO_MMIO_DRIVER_FEATURES_SEL;  ///< W: which 32 bits
inline constexpr std::uint64_t queue_sel = VIRTIO_MMIO_QUEUE_SEL;                      ///< W: the queue set up
inline constexpr std::uint64_t queue_num_max = VIRTIO_MMIO_QUEUE_NUM_MAX;        ///< R: the selected queue's maximum
inline constexpr std::uint64_t queue_num = VIRTIO_MMIO_QUEUE_NUM;                ///< W: the selected queue's size
inline constexpr std::uint64_t queue_ready = VIRTIO_MMIO_QUEUE_READY;            ///< RW: the selected queue is ready
inline constexpr std::uint64_t queue_notify = VIRTIO_MMIO_QUEUE_NOTIFY;          ///< W: a queue index: new buffers
inline constexpr std::uint64_t interrupt_status = VIRTIO_MMIO_INTERRUPT_STATUS;  ///< R: interrupt causes
inline constexpr std::uint64_t interrupt_ack = VIRTIO_MMIO_INTERRUPT_ACK;        ///< W: causes handled
inline constexpr std::uint64_t status = VIRTIO_MMIO_STATUS;                      ///< RW: device status
inline constexpr std::uint64_t queue_desc_low = VIRTIO_MMIO_QUEUE_DESC_LOW;      ///< W: descriptor area
inline constexpr std::uint64_t queue_desc_high = VIRTIO_MMIO_QUEUE_DESC_HIGH;
inline constexpr std::uint64_t queue_driver_low = VIRTIO_MMIO_QUEUE_AVAIL_LOW;  ///< W: driver area
inline constexpr std::uint64_t queue_driver_high = VIRTIO_MMIO_QUEUE_AVAIL_HIGH;
inline constexpr std::uint64_t queue_device_low = VIRTIO_MMIO_QUEUE_USED_LOW;  ///< W: device area
inline constexpr std::uint64_t queue_device_high = VIRTIO_MMIO_QUEUE_USED_HIGH;
inline constexpr std::uint64_t shm_sel = VIRTIO_MMIO_SHM_SEL;              ///< W: shared memory region id
inline constexpr std::uint64_t shm_len_low = VIRTIO_MMIO_SHM_LEN_LOW;      ///< R: region length (all ones: none)
inline constexpr std::uint64_t shm_len_high = VIRTIO_MMIO_SHM_LEN_HIGH;    ///< R
inline constexpr std::uint64_t shm_base_low = VIRTIO_MMIO_SHM_BASE_LOW;    ///< R: region base (all ones: none)
inline constexpr std::uint64_t shm_base_high = VIRTIO_MMIO_SHM_BASE_HIGH;  ///< R
inline constexpr std::uint64_t config_generation = VIRTIO_MMIO_CONFIG_GENERATION;  ///< R: config version
inline constexpr std::uint64_t config = VIRTIO_MMIO_CONFIG;  ///< the device's configuration space starts here
}  // namespace reg

/// What MagicValue reads: "virt" in little-endian ASCII.
inline constexpr std::uint32_t magic = 0x7472'6976;
/// What Version reads: the virtio 1.x (non-legacy) layout.
inline constexpr std::uint32_t version = 2;
/// The width of every register access (other widths read as zero and are ignored).
inline constexpr std::size_t register_width = 4;
/// The size of the window to register a transport on (the configuration space is its last 0xf00 bytes).
inline constexpr std::uint64_t window_size = 0x1000;

/// InterruptStatus bits.
inline constexpr std::uint32_t interrupt_vring = VIRTIO_MMIO_INT_VRING;    ///< a queue has new used buffers
inline constexpr std::uint32_t interrupt_config = VIRTIO_MMIO_INT_CONFIG;  ///< the configuration changed
/// Every InterruptStatus bit the transport sets.
inline constexpr std::uint32_t interrupt_mask = interrupt_vring | interrupt_config;

}  // namespace vmm::virtio::mmio
