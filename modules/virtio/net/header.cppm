// vmm.virtio.net:header — the virtio_net_hdr_v1 that precedes every frame on both queues (virtio 1.x §5.1.6), and
// the rules a transmitted header must follow before the device hands it to the tap. Constants from the
// specification (linux/virtio_net.h is not valid C++; see :config).
export module vmm.virtio.net:header;
import std;
import vmm.sys;
import :error;

export namespace vmm::virtio::net {

/// The header's size with VIRTIO_F_VERSION_1 (virtio_net_hdr_v1, num_buffers included): what the tap is told to
/// use (TUNSETVNETHDRSZ) and what every tx and rx chain starts with.
inline constexpr std::size_t header_size = 12;

/// The largest frame (after the header) the device transmits or receives: 64 KiB, enough for a 64 KiB GSO frame
/// with its headers, and what bounds one writev to the tap and the rx bounce buffer.
inline constexpr std::size_t max_frame_bytes = std::size_t{64} * 1024;

/// The smallest frame the device transmits: an Ethernet header.
inline constexpr std::size_t min_frame_bytes = 14;

/// header.flags bits.
namespace header_flag {
inline constexpr std::uint8_t needs_csum = 1;  ///< csum_start/csum_offset are valid
inline constexpr std::uint8_t data_valid = 2;  ///< rx only: the checksum was verified
inline constexpr std::uint8_t rsc_info = 4;    ///< rx only: coalescing information
}  // namespace header_flag

/// header.gso_type values.
namespace gso {
inline constexpr std::uint8_t none = 0;
inline constexpr std::uint8_t tcpv4 = 1;
inline constexpr std::uint8_t udp = 3;
inline constexpr std::uint8_t tcpv6 = 4;
inline constexpr std::uint8_t ecn = 0x80;  ///< a bit on top of the type
}  // namespace gso

/// A decoded virtio_net_hdr_v1 (the wire format is little-endian and packed).
struct net_header {
  std::uint8_t flags = 0;
  std::uint8_t gso_type = gso::none;
  std::uint16_t hdr_len = 0;
  std::uint16_t gso_size = 0;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;
  std::uint16_t num_buffers = 0;

  friend constexpr auto operator==(const net_header&, const net_header&) noexcept -> bool = default;
};

/// Decodes the 12 header bytes.
[[nodiscard]] constexpr auto decode_header(std::span<const std::byte, header_size> bytes) noexcept -> net_header {
  const auto get16 = [&](std::size_t at) {
    return static_cast<std::uint16_t>(std::to_integer<unsigned>(bytes[at]) |
                                      (std::to_integer<unsigned>(bytes[at + 1]) << 8U));
  };
  return {.flags = std::to_integer<std::uint8_t>(bytes[0]),
          .gso_type = std::to_integer<std::uint8_t>(bytes[1]),
          .hdr_len = get16(2),
          .gso_size = get16(4),
          .csum_start = get16(6),
          .csum_offset = get16(8),
          .num_buffers = get16(10)};
}

/// Encodes a header into its 12 wire bytes.
[[nodiscard]] constexpr auto encode_header(const net_header& h) noexcept -> std::array<std::byte, header_size> {
  const auto lo = [](std::uint16_t v) {
    return static_cast<std::byte>(v & 0xffU);
  };
  const auto hi = [](std::uint16_t v) {
    return static_cast<std::byte>(v >> 8U);
  };
  return {static_cast<std::byte>(h.flags),
          static_cast<std::byte>(h.gso_type),
          lo(h.hdr_len),
          hi(h.hdr_len),
          lo(h.gso_size),
          hi(h.gso_size),
          lo(h.csum_start),
          hi(h.csum_start),
          lo(h.csum_offset),
          hi(h.csum_offset),
          lo(h.num_buffers),
          hi(h.num_buffers)};
}

/// Checks a header the driver put in front of a transmitted frame of `frame_length` bytes (after the header),
/// against the negotiated `features`. The rules (each refusal names its errc):
/// - the frame is min_frame_bytes..max_frame_bytes long (frame_too_short, frame_too_large);
/// - flags holds only NEEDS_CSUM (unknown_header_flags), and NEEDS_CSUM needs VIRTIO_NET_F_CSUM
///   (checksum_not_negotiated) and csum_start + csum_offset + 2 ≤ frame_length (checksum_out_of_frame);
/// - gso_type without the ECN bit is NONE, TCPV4, TCPV6 or UDP (unknown_gso_type); TCPV4 needs HOST_TSO4, TCPV6
///   HOST_TSO6, UDP HOST_UFO and the ECN bit HOST_ECN (gso_not_negotiated); a GSO frame needs NEEDS_CSUM
///   (gso_without_checksum) and a non-zero gso_size (bad_gso_size);
/// - hdr_len ≤ frame_length (header_length_out_of_frame);
/// - num_buffers is 0 (nonzero_num_buffers).
/// An accepted header is one the kernel's tap accepts too, so a refusal here is a guest error counted by the device,
/// never a tap error.
[[nodiscard]] auto validate_tx_header(const net_header& header, std::uint64_t frame_length, std::uint64_t features)
    -> vmm::result<void>;

}  // namespace vmm::virtio::net
