// vmm.virtio.block:request — a descriptor chain read as a virtio-blk request: the 16-byte header from the start of
// the device-readable bytes, the data, and the status byte (the last device-writable byte), with every field the
// driver controls checked before any I/O is started.
export module vmm.virtio.block:request;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import :error;
import :config;

export namespace vmm::virtio::block {

/// What a request asks the device to do.
enum class operation : std::uint8_t {
  read,          ///< VIRTIO_BLK_T_IN
  write,         ///< VIRTIO_BLK_T_OUT
  flush,         ///< VIRTIO_BLK_T_FLUSH
  get_id,        ///< VIRTIO_BLK_T_GET_ID
  discard,       ///< VIRTIO_BLK_T_DISCARD
  write_zeroes,  ///< VIRTIO_BLK_T_WRITE_ZEROES
};

/// What the parser checks requests against: the disk's size, its mode, the negotiated request types, the limits.
struct request_policy {
  std::uint64_t capacity_sectors = 0;
  bool read_only = false;
  bool discard = false;       ///< VIRTIO_BLK_F_DISCARD negotiated (else a DISCARD is UNSUPP)
  bool write_zeroes = false;  ///< VIRTIO_BLK_F_WRITE_ZEROES negotiated
  block_limits limits;
};

/// One checked discard / write-zeroes range.
struct sector_range {
  std::uint64_t sector = 0;
  std::uint32_t num_sectors = 0;
  bool unmap = false;  ///< write-zeroes may deallocate the range
};

/// A parsed request. Filled by parse_request; the vectors keep their storage from one parse to the next.
struct block_request {
  operation op = operation::read;
  /// The first sector (read and write).
  std::uint64_t sector = 0;
  /// The data bytes of a read or write (a multiple of 512), or the writable bytes a GET_ID may fill.
  std::uint64_t data_bytes = 0;
  /// Host buffers over the data of a read (marked dirty) or a write, in order.
  std::vector<sys::io_buffer> buffers;
  /// The ranges of a discard or write-zeroes.
  std::vector<sector_range> ranges;
  /// Where the status byte goes; meaningful when has_status.
  memory::guest_address status_address;
  /// Whether the chain has a status byte in writable guest memory (a chain without one is dropped).
  bool has_status = false;
  /// The device-writable descriptors (for GET_ID's serial).
  std::span<const queue::descriptor> writable;
};

/// Reads `chain` (its buffers in `memory`) as a request into `out`, checking it against `policy`. Errors (the cause
/// of a malformed request; map it to a status with status_for): errc::no_status_byte (out.has_status is false),
/// header_too_short, unsupported_type, read_only, data_wrong_direction, zero_length, length_not_sector_multiple,
/// request_too_large, too_many_segments, sector_out_of_range, id_buffer_too_short, bad_segment_list,
/// unsupported_segment_flags, segment_too_large, buffer_unmapped. Whenever a status byte exists, out.has_status
/// is set before any other check, so the caller can answer.
[[nodiscard]] auto parse_request(const memory::guest_memory& memory, const queue::descriptor_chain& chain,
                                 const request_policy& policy, block_request& out) -> vmm::result<void>;

/// The status that answers a request which failed with `error`: UNSUPP for an unknown or un-negotiated type and for
/// unsupported range flags, IOERR for everything else.
[[nodiscard]] auto status_for(std::error_code error) noexcept -> std::uint8_t;

/// Writes `bytes` at `offset` of the byte stream that `descriptors` form (their guest buffers in order). Errors:
/// errc::buffer_unmapped when the stream is too short or a buffer is not writable guest memory (what fitted before
/// the failing buffer was written).
[[nodiscard]] auto write_stream(const memory::guest_memory& memory, std::span<const queue::descriptor> descriptors,
                                std::uint64_t offset, std::span<const std::byte> bytes) -> vmm::result<void>;

}  // namespace vmm::virtio::block
