// vmm.virtio.vsock:packet — the virtio-vsock packet header (struct virtio_vsock_hdr, 44 bytes, little-endian) and
// the checked reading and writing of packets in descriptor chains.
module;
#include <linux/virtio_vsock.h>
export module vmm.virtio.vsock:packet;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import :error;

export namespace vmm::virtio::vsock {

/// The host's CID (VMADDR_CID_HOST): every guest packet must be addressed to it.
inline constexpr std::uint64_t host_cid = 2;
/// The size of struct virtio_vsock_hdr.
inline constexpr std::size_t header_size = sizeof(virtio_vsock_hdr);
static_assert(header_size == 44);
/// The largest payload one packet may carry in either direction (Linux guests send at most 64 KiB per packet).
inline constexpr std::uint32_t max_packet_payload = 64U * 1024U;

/// Packet operations (virtio 1.2 §5.10.6).
namespace op {
inline constexpr std::uint16_t invalid = VIRTIO_VSOCK_OP_INVALID;
inline constexpr std::uint16_t request = VIRTIO_VSOCK_OP_REQUEST;
inline constexpr std::uint16_t response = VIRTIO_VSOCK_OP_RESPONSE;
inline constexpr std::uint16_t rst = VIRTIO_VSOCK_OP_RST;
inline constexpr std::uint16_t shutdown = VIRTIO_VSOCK_OP_SHUTDOWN;
inline constexpr std::uint16_t rw = VIRTIO_VSOCK_OP_RW;
inline constexpr std::uint16_t credit_update = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
inline constexpr std::uint16_t credit_request = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
}  // namespace op

/// Socket types.
namespace socket_type {
inline constexpr std::uint16_t stream = VIRTIO_VSOCK_TYPE_STREAM;
inline constexpr std::uint16_t seqpacket = VIRTIO_VSOCK_TYPE_SEQPACKET;
}  // namespace socket_type

/// Flags of a SHUTDOWN packet.
namespace shutdown_flag {
inline constexpr std::uint32_t receive = VIRTIO_VSOCK_SHUTDOWN_RCV;  ///< the sender will receive no more
inline constexpr std::uint32_t send = VIRTIO_VSOCK_SHUTDOWN_SEND;    ///< the sender will send no more
inline constexpr std::uint32_t both = receive | send;
}  // namespace shutdown_flag

/// Flags of a seqpacket RW packet.
namespace seq_flag {
inline constexpr std::uint32_t eom = VIRTIO_VSOCK_SEQ_EOM;  ///< the last packet of a message
inline constexpr std::uint32_t eor = VIRTIO_VSOCK_SEQ_EOR;  ///< the message ends a record
}  // namespace seq_flag

/// Event ids of the event queue (virtio 1.2 §5.10.6.8).
namespace event_id {
/// The device's connections are gone (after a snapshot restore or a CID change): the guest drops its own.
inline constexpr std::uint32_t transport_reset = VIRTIO_VSOCK_EVENT_TRANSPORT_RESET;
}  // namespace event_id
/// The size of struct virtio_vsock_event (one le32 id).
inline constexpr std::size_t event_size = sizeof(virtio_vsock_event);
static_assert(event_size == 4);

/// Device feature bits of virtio-vsock.
namespace feature {
inline constexpr unsigned seqpacket = VIRTIO_VSOCK_F_SEQPACKET;
}  // namespace feature

/// A decoded packet header, fields in host byte order.
struct header {
  std::uint64_t src_cid = 0;
  std::uint64_t dst_cid = 0;
  std::uint32_t src_port = 0;
  std::uint32_t dst_port = 0;
  std::uint32_t len = 0;
  std::uint16_t type = 0;
  std::uint16_t op = 0;
  std::uint32_t flags = 0;
  std::uint32_t buf_alloc = 0;
  std::uint32_t fwd_cnt = 0;

  friend constexpr auto operator==(const header&, const header&) noexcept -> bool = default;
};

/// The 44 little-endian bytes of `h`, laid out as struct virtio_vsock_hdr.
[[nodiscard]] auto encode(const header& h) noexcept -> std::array<std::byte, header_size>;
/// The header in `bytes` (no field is checked here).
[[nodiscard]] auto decode(std::span<const std::byte, header_size> bytes) noexcept -> header;

/// Whether `o` is one of the seven operations.
[[nodiscard]] constexpr auto known_op(std::uint16_t o) noexcept -> bool {
  return o >= op::request && o <= op::credit_request;
}

/// Reads the guest packet (tx queue) in `chain`: the header from the start of its readable part, then `len` payload
/// bytes into `payload` (resized to len). Checks, in this order, everything that addresses the packet, so that a
/// packet this accepts can be answered: errc::header_too_short (fewer than 44 readable bytes);
/// errc::wrong_source_cid (src_cid ≠ `guest_cid`); errc::wrong_destination_cid (dst_cid ≠ host_cid);
/// errc::payload_too_long (len > max_packet_payload); errc::payload_truncated (len > readable bytes − 44); a
/// vmm.memory error when a buffer cannot be read. type and op are not checked here (see check_type_and_op): a
/// packet with a bad one is answered with a reset, not dropped. On error `payload` is left empty.
[[nodiscard]] auto read_tx_packet(const memory::guest_memory& memory, const queue::descriptor_chain& chain,
                                  std::uint64_t guest_cid, std::vector<std::byte>& payload) -> vmm::result<header>;

/// errc::unknown_type unless type is stream, or seqpacket with `seqpacket` negotiated; errc::unknown_op unless op is
/// one of the seven operations.
[[nodiscard]] auto check_type_and_op(const header& h, bool seqpacket) noexcept -> vmm::result<void>;

/// Writes a packet for the guest (rx queue) into the writable part of `chain`: the header with len set to
/// payload.size(), then the payload. Returns the bytes written (the used length). Errors:
/// errc::rx_buffer_too_small when the writable part cannot hold header and payload (nothing written); a vmm.memory
/// error.
[[nodiscard]] auto write_rx_packet(const memory::guest_memory& memory, const queue::descriptor_chain& chain, header h,
                                   std::span<const std::byte> payload) -> vmm::result<std::uint32_t>;

/// Writes the event `id` (le32) at the start of the writable part of an event-queue chain. Returns the bytes written
/// (the used length, 4). Errors: errc::event_buffer_too_small when fewer than 4 bytes are writable (nothing
/// written); a vmm.memory error.
[[nodiscard]] auto write_event(const memory::guest_memory& memory, const queue::descriptor_chain& chain,
                               std::uint32_t id) -> vmm::result<std::uint32_t>;

}  // namespace vmm::virtio::vsock
