// vmm.virtio.queue:layout — the ring layouts and feature bits a queue depends on. Feature bits come from the kernel's
// UAPI header (linux/virtio_config.h); the ring constants are the virtio 1.x specification's (§2.7, §2.8), written
// out here because linux/virtio_ring.h is not valid C++ (its vring_init assigns from void*).
module;
#include <linux/virtio_config.h>
export module vmm.virtio.queue:layout;
import std;

export namespace vmm::virtio::queue {

/// Feature bit numbers (1 << bit in the 64-bit feature word) that change how a queue works.
namespace feature {
inline constexpr unsigned indirect_desc = 28;                  ///< indirect descriptor tables
inline constexpr unsigned event_idx = 29;                      ///< used_event / avail_event suppression
inline constexpr unsigned version_1 = VIRTIO_F_VERSION_1;      ///< virtio 1.x (little-endian rings)
inline constexpr unsigned ring_packed = VIRTIO_F_RING_PACKED;  ///< the packed virtqueue layout
inline constexpr unsigned in_order = VIRTIO_F_IN_ORDER;        ///< buffers used in the order made available
}  // namespace feature

/// Whether `features` has feature bit `bit`.
[[nodiscard]] constexpr auto has_feature(std::uint64_t features, unsigned bit) noexcept -> bool {
  return bit < 64 && ((features >> bit) & 1U) != 0;
}

/// The largest queue size virtio allows (split: a power of two up to 32768; packed: up to 32768).
inline constexpr std::uint16_t max_queue_size = 32768;

/// Descriptor flags (split and packed).
inline constexpr std::uint16_t desc_f_next = 1;
inline constexpr std::uint16_t desc_f_write = 2;
inline constexpr std::uint16_t desc_f_indirect = 4;
/// Packed descriptor flags (bit numbers in the header, shifted here).
inline constexpr std::uint16_t packed_desc_f_avail = 1U << 7;
inline constexpr std::uint16_t packed_desc_f_used = 1U << 15;
/// Split ring flags.
inline constexpr std::uint16_t used_f_no_notify = 1;
inline constexpr std::uint16_t avail_f_no_interrupt = 1;
/// Packed event suppression.
inline constexpr std::uint16_t packed_event_flag_enable = 0;
inline constexpr std::uint16_t packed_event_flag_disable = 1;
inline constexpr std::uint16_t packed_event_flag_desc = 2;
inline constexpr unsigned packed_event_wrap_shift = 15;

/// Ring alignments the driver must respect (split: descriptor table 16, available ring 2, used ring 4; packed:
/// descriptor ring 16, event suppression areas 4).
inline constexpr std::uint64_t desc_align = 16;
inline constexpr std::uint64_t avail_align = 2;
inline constexpr std::uint64_t used_align = 4;
inline constexpr std::uint64_t packed_event_align = 4;

/// One descriptor, split or packed: 16 bytes in guest memory, little-endian.
inline constexpr std::uint64_t descriptor_size = 16;

/// A split queue's descriptor, as laid out in guest memory (virtio 1.x is little-endian; x86-64 hosts only).
struct split_descriptor {
  std::uint64_t addr;
  std::uint32_t len;
  std::uint16_t flags;
  std::uint16_t next;
};
static_assert(sizeof(split_descriptor) == descriptor_size);

/// A packed queue's descriptor.
struct packed_descriptor {
  std::uint64_t addr;
  std::uint32_t len;
  std::uint16_t id;
  std::uint16_t flags;
};
static_assert(sizeof(packed_descriptor) == descriptor_size);

/// One element of a split used ring.
struct used_element {
  std::uint32_t id;
  std::uint32_t len;
};
static_assert(sizeof(used_element) == 8);

/// Bytes of a split queue's available ring (flags, idx, ring[size], used_event) and used ring (flags, idx,
/// ring[size], avail_event) for `size` entries.
[[nodiscard]] constexpr auto avail_ring_bytes(std::uint16_t size) noexcept -> std::uint64_t {
  return 6 + (2 * std::uint64_t{size});
}
[[nodiscard]] constexpr auto used_ring_bytes(std::uint16_t size) noexcept -> std::uint64_t {
  return 6 + (8 * std::uint64_t{size});
}

}  // namespace vmm::virtio::queue
