// vmm.virtio.block:config — the wire layouts of virtio-blk (virtio 1.x §5.2): feature bits, request types and
// statuses, the configuration space, the request header and the discard/write-zeroes range, and the limits the
// device advertises. The numbers come from the kernel's UAPI header (linux/virtio_blk.h, valid C++); the layouts are
// written with vmm.memory's little-endian types and checked field by field against the header's structures.
module;
#include <cstddef>
#include <linux/virtio_blk.h>
export module vmm.virtio.block:config;
import std;
import vmm.memory;

export namespace vmm::virtio::block {

/// The unit of every sector number and capacity in virtio-blk, whatever the device's block size.
inline constexpr std::uint64_t sector_size = 512;
inline constexpr unsigned sector_shift = 9;
/// The length of the GET_ID serial (not NUL-terminated when it uses all 20 bytes).
inline constexpr std::size_t id_bytes = VIRTIO_BLK_ID_BYTES;

/// virtio-blk feature bit numbers.
namespace feature {
inline constexpr unsigned size_max = VIRTIO_BLK_F_SIZE_MAX;          ///< config.size_max is valid
inline constexpr unsigned seg_max = VIRTIO_BLK_F_SEG_MAX;            ///< config.seg_max is valid
inline constexpr unsigned read_only = VIRTIO_BLK_F_RO;               ///< the device refuses writes
inline constexpr unsigned blk_size = VIRTIO_BLK_F_BLK_SIZE;          ///< config.blk_size is valid
inline constexpr unsigned flush = VIRTIO_BLK_F_FLUSH;                ///< FLUSH requests (write-back cache)
inline constexpr unsigned discard = VIRTIO_BLK_F_DISCARD;            ///< DISCARD requests
inline constexpr unsigned write_zeroes = VIRTIO_BLK_F_WRITE_ZEROES;  ///< WRITE_ZEROES requests
inline constexpr unsigned mq = VIRTIO_BLK_F_MQ;                      ///< config.num_queues request queues
}  // namespace feature

/// Request types (the header's `type`).
namespace request_type {
inline constexpr std::uint32_t in = VIRTIO_BLK_T_IN;                      ///< read sectors into the driver's buffers
inline constexpr std::uint32_t out = VIRTIO_BLK_T_OUT;                    ///< write sectors from the driver's buffers
inline constexpr std::uint32_t flush = VIRTIO_BLK_T_FLUSH;                ///< make earlier writes durable
inline constexpr std::uint32_t get_id = VIRTIO_BLK_T_GET_ID;              ///< the 20-byte device serial
inline constexpr std::uint32_t discard = VIRTIO_BLK_T_DISCARD;            ///< drop ranges (they read back as zero)
inline constexpr std::uint32_t write_zeroes = VIRTIO_BLK_T_WRITE_ZEROES;  ///< zero ranges
}  // namespace request_type

/// Request statuses (the last byte of every request).
namespace status {
inline constexpr std::uint8_t ok = VIRTIO_BLK_S_OK;
inline constexpr std::uint8_t ioerr = VIRTIO_BLK_S_IOERR;
inline constexpr std::uint8_t unsupp = VIRTIO_BLK_S_UNSUPP;
}  // namespace status

/// The write-zeroes range flag that lets the device deallocate the range (discard is refused with it).
inline constexpr std::uint32_t write_zeroes_flag_unmap = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

/// The request header at the start of every request's device-readable part (virtio_blk_outhdr).
struct request_header {
  memory::le32 type;
  memory::le32 reserved;  ///< ioprio in legacy devices; ignored
  memory::le64 sector;
};
static_assert(sizeof(request_header) == sizeof(virtio_blk_outhdr));
static_assert(offsetof(request_header, type) == offsetof(virtio_blk_outhdr, type));
static_assert(offsetof(request_header, sector) == offsetof(virtio_blk_outhdr, sector));

/// One range of a DISCARD or WRITE_ZEROES request (virtio_blk_discard_write_zeroes).
struct range_segment {
  memory::le64 sector;
  memory::le32 num_sectors;
  memory::le32 flags;
};
static_assert(sizeof(range_segment) == sizeof(virtio_blk_discard_write_zeroes));
static_assert(offsetof(range_segment, num_sectors) == offsetof(virtio_blk_discard_write_zeroes, num_sectors));
static_assert(offsetof(range_segment, flags) == offsetof(virtio_blk_discard_write_zeroes, flags));

/// The configuration space (virtio_blk_config), as the driver reads it. Naturally aligned, so no packing is needed
/// to match the kernel's packed structure (checked below).
struct block_config {
  memory::le64 capacity;  ///< in 512-byte sectors
  memory::le32 size_max;  ///< the longest data descriptor (SIZE_MAX)
  memory::le32 seg_max;   ///< the most data descriptors per request (SEG_MAX)
  memory::le16 cylinders;
  std::uint8_t heads = 0;
  std::uint8_t sectors = 0;
  memory::le32 blk_size;  ///< the block size the driver should use (BLK_SIZE)
  std::uint8_t physical_block_exp = 0;
  std::uint8_t alignment_offset = 0;
  memory::le16 min_io_size;
  memory::le32 opt_io_size;
  std::uint8_t wce = 0;
  std::uint8_t unused = 0;
  memory::le16 num_queues;
  memory::le32 max_discard_sectors;
  memory::le32 max_discard_seg;
  memory::le32 discard_sector_alignment;
  memory::le32 max_write_zeroes_sectors;
  memory::le32 max_write_zeroes_seg;
  std::uint8_t write_zeroes_may_unmap = 0;
  std::array<std::uint8_t, 3> unused1{};
  memory::le32 max_secure_erase_sectors;
  memory::le32 max_secure_erase_seg;
  memory::le32 secure_erase_sector_alignment;
};
static_assert(sizeof(block_config) == sizeof(virtio_blk_config));
static_assert(offsetof(block_config, size_max) == offsetof(virtio_blk_config, size_max));
static_assert(offsetof(block_config, seg_max) == offsetof(virtio_blk_config, seg_max));
static_assert(offsetof(block_config, blk_size) == offsetof(virtio_blk_config, blk_size));
static_assert(offsetof(block_config, min_io_size) == offsetof(virtio_blk_config, min_io_size));
static_assert(offsetof(block_config, opt_io_size) == offsetof(virtio_blk_config, opt_io_size));
static_assert(offsetof(block_config, num_queues) == offsetof(virtio_blk_config, num_queues));
static_assert(offsetof(block_config, max_discard_sectors) == offsetof(virtio_blk_config, max_discard_sectors));
static_assert(offsetof(block_config, max_discard_seg) == offsetof(virtio_blk_config, max_discard_seg));
static_assert(offsetof(block_config, discard_sector_alignment) ==
              offsetof(virtio_blk_config, discard_sector_alignment));
static_assert(offsetof(block_config, max_write_zeroes_sectors) ==
              offsetof(virtio_blk_config, max_write_zeroes_sectors));
static_assert(offsetof(block_config, max_write_zeroes_seg) == offsetof(virtio_blk_config, max_write_zeroes_seg));
static_assert(offsetof(block_config, write_zeroes_may_unmap) == offsetof(virtio_blk_config, write_zeroes_may_unmap));
static_assert(offsetof(block_config, secure_erase_sector_alignment) ==
              offsetof(virtio_blk_config, secure_erase_sector_alignment));
static_assert(std::is_trivially_copyable_v<block_config>);

/// The one queue's largest size (the driver may choose less).
inline constexpr std::uint16_t max_queue_size = 256;

/// What the device advertises and enforces on every request. The defaults suit Linux guests.
struct block_limits {
  /// The most data descriptors per request (config.seg_max): two less than the queue, for header and status.
  std::uint32_t seg_max = 126;
  /// The longest data descriptor (config.size_max); with seg_max it bounds a request's data to 126 MiB.
  std::uint32_t size_max = 1U << 20U;
  /// The longest discard / write-zeroes range, in sectors (4 GiB − 512 bytes: the field's largest value).
  std::uint32_t max_discard_sectors = 0xffff'ffffU;
  std::uint32_t max_write_zeroes_sectors = 0xffff'ffffU;
  /// The most ranges per discard / write-zeroes request.
  std::uint32_t max_discard_seg = 16;
  std::uint32_t max_write_zeroes_seg = 16;
  /// The block size the driver should use (a power of two, at least 512).
  std::uint32_t block_size = 512;

  /// The largest data part of a read or write: seg_max × size_max.
  [[nodiscard]] constexpr auto max_transfer_bytes() const noexcept -> std::uint64_t {
    return std::uint64_t{seg_max} * size_max;
  }
};

/// The configuration space of a device with `capacity_sectors` sectors, `limits` and `num_queues` request queues;
/// the write-zeroes unmap bit says the device may deallocate zeroed ranges (it does: write-zeroes with the unmap
/// flag punches a hole).
[[nodiscard]] constexpr auto make_config(std::uint64_t capacity_sectors, const block_limits& limits,
                                         std::uint16_t num_queues = 1) noexcept -> block_config {
  block_config c{};
  c.capacity.set(capacity_sectors);
  c.size_max.set(limits.size_max);
  c.seg_max.set(limits.seg_max);
  c.blk_size.set(limits.block_size);
  c.num_queues.set(num_queues);
  c.max_discard_sectors.set(limits.max_discard_sectors);
  c.max_discard_seg.set(limits.max_discard_seg);
  c.discard_sector_alignment.set(limits.block_size / static_cast<std::uint32_t>(sector_size));
  c.max_write_zeroes_sectors.set(limits.max_write_zeroes_sectors);
  c.max_write_zeroes_seg.set(limits.max_write_zeroes_seg);
  c.write_zeroes_may_unmap = 1;
  return c;
}

}  // namespace vmm::virtio::block
