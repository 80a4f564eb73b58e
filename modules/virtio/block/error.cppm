// vmm.virtio.block:error — what the block device finds wrong in a request, and what its activation refuses.
export module vmm.virtio.block:error;
import std;

export namespace vmm::virtio::block {

/// What went wrong. The request values (header_too_short … segment_out_of_range) each describe one malformed
/// request from the driver: the device answers it with the status status_for() gives (or drops the chain for
/// no_status_byte), counts it by this cause, and goes on with the next request.
enum class errc : std::uint8_t {
  no_status_byte = 1,    ///< no device-writable byte (in writable guest memory) for the status: dropped, used length 0
  header_too_short,      ///< fewer than 16 device-readable bytes for the request header
  unsupported_type,      ///< the request type is unknown, or its feature was not negotiated
  data_wrong_direction,  ///< a read with device-readable data, or a write/discard with device-writable data
  zero_length,           ///< a read or write with no data bytes
  length_not_sector_multiple,  ///< a read or write whose data is not a multiple of 512 bytes
  request_too_large,           ///< the data passes the device's transfer limit (seg_max × size_max)
  too_many_segments,           ///< more data descriptors than seg_max, or more discard/write-zeroes ranges than allowed
  sector_out_of_range,         ///< sector + length passes the capacity, or the sum overflows
  read_only,                   ///< a write, discard or write-zeroes on a read-only device
  id_buffer_too_short,         ///< a GET_ID whose writable data is shorter than the 20-byte serial
  bad_segment_list,            ///< discard/write-zeroes data that is empty or not a multiple of 16 bytes
  unsupported_segment_flags,   ///< a discard range with the unmap flag, or a range with an unknown flag
  segment_too_large,           ///< a discard/write-zeroes range longer than max_discard/write_zeroes_sectors
  buffer_unmapped,             ///< a buffer of the chain is not (or no longer) in guest memory
  io_failed,                   ///< the backing file returned an error or a short transfer
  backend_full,                ///< the backend has no free slot (the caller submitted past its queue depth)
  not_activated,               ///< a queue operation before activation, or after reset
  bad_activation,              ///< the activation does not have exactly one queue, with its event
};

/// The category of vmm::virtio::block::errc, named "vmm.virtio.block".
[[nodiscard]] auto block_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from a vmm::virtio::block::errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::virtio::block

template <>
struct std::is_error_code_enum<vmm::virtio::block::errc> : std::true_type {};
