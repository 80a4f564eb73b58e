// vmm.virtio.vsock:error — what the vsock device finds wrong in what the guest or the host sends it.
export module vmm.virtio.vsock:error;
import std;

export namespace vmm::virtio::vsock {

/// Failures the vsock device detects itself (socket failures keep their errno in std::system_category()).
enum class errc : std::uint8_t {
  header_too_short = 1,    ///< a tx chain's readable part is shorter than the 44-byte header
  wrong_source_cid,        ///< a guest packet's src_cid is not the guest's CID
  wrong_destination_cid,   ///< a guest packet's dst_cid is not the host's (2)
  payload_too_long,        ///< a guest packet's len is above max_packet_payload
  payload_truncated,       ///< a guest packet's len is more than the chain's readable bytes after the header
  unknown_type,            ///< a packet's type is neither stream nor (negotiated) seqpacket
  unknown_op,              ///< a packet's op is not one of the seven vsock operations
  rx_buffer_too_small,     ///< an rx chain's writable part cannot hold a header
  too_many_connections,    ///< the connection limit is reached
  invalid_config,          ///< the guest CID is reserved or above 32 bits, the socket path empty, or a timeout ≤ 0
  credit_exceeded,         ///< the guest sent more bytes than the credit the device gave it
  message_too_long,        ///< a seqpacket message is larger than the device buffers
  event_buffer_too_small,  ///< an event-queue buffer's writable part cannot hold a 4-byte event
};

/// The category of vmm::virtio::vsock::errc, named "vmm.virtio.vsock".
[[nodiscard]] auto vsock_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from an errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::virtio::vsock

template <>
struct std::is_error_code_enum<vmm::virtio::vsock::errc> : std::true_type {};
