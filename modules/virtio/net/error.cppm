// vmm.virtio.net:error — what the network device refuses in a guest's frames and in its configuration.
export module vmm.virtio.net:error;
import std;

export namespace vmm::virtio::net {

/// Failures the network device detects (OS failures keep their errno in std::system_category()). The values up to
/// bad_rx_buffer describe one guest frame or buffer: it is dropped (returned with used length 0) and counted, and
/// the next one is unaffected.
enum class errc : std::uint8_t {
  short_header = 1,            ///< a tx chain holds fewer readable bytes than the 12-byte virtio_net_hdr_v1
  frame_too_short,             ///< the frame after the header is shorter than an Ethernet header (14 bytes)
  frame_too_large,             ///< the frame after the header is longer than max_frame_bytes (64 KiB)
  unknown_header_flags,        ///< flags holds a bit other than NEEDS_CSUM (DATA_VALID and RSC_INFO are device-only)
  checksum_not_negotiated,     ///< NEEDS_CSUM without VIRTIO_NET_F_CSUM
  checksum_out_of_frame,       ///< csum_start + csum_offset + 2 runs past the end of the frame
  unknown_gso_type,            ///< gso_type is not NONE, TCPV4, TCPV6 or UDP (ECN bit aside)
  gso_not_negotiated,          ///< a GSO type (or the ECN bit) whose HOST_* feature was not negotiated
  gso_without_checksum,        ///< a GSO frame without NEEDS_CSUM (segmentation needs the checksum offload)
  bad_gso_size,                ///< gso_size is 0 for a GSO frame
  header_length_out_of_frame,  ///< hdr_len is longer than the frame
  nonzero_num_buffers,         ///< a tx header's num_buffers is not 0 (the driver must leave it 0)
  too_many_buffers,            ///< the frame is split into more guest buffers than one writev takes (1024)
  bad_rx_buffer,               ///< an rx chain cannot take a header: fewer than 12 writable bytes, or none
  wrong_queue_count,           ///< activate: the activation does not hold exactly the rx and tx queues and events
  no_memory,                   ///< activate: the activation has no guest memory
  no_interrupt,                ///< activate: the activation has no interrupt
  already_active,              ///< activate: the device is active (reset it first)
  invalid_features,            ///< activate: a negotiated feature lacks one it depends on (HOST_TSO4 without CSUM, …)
  queue_broken,                ///< a queue broke (the driver corrupted its rings); the device needs a reset
  interface_name_too_long,     ///< a tap interface name longer than 15 bytes, or holding a NUL
};

/// The category of vmm::virtio::net::errc, named "vmm.virtio.net".
[[nodiscard]] auto net_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from an errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::virtio::net

template <>
struct std::is_error_code_enum<vmm::virtio::net::errc> : std::true_type {};
