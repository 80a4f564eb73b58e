// vmm.virtio.net:config — the network device's feature bits and configuration space (virtio 1.x §5.1.3-§5.1.4).
// The values are the specification's, written out here: linux/virtio_net.h is not valid C++ (its
// virtio_net_ctrl_hdr has a member named `class`), so it cannot be included even in a global module fragment.
export module vmm.virtio.net:config;
import std;

export namespace vmm::virtio::net {

/// Feature bit numbers of virtio-net (1 << bit in the feature word).
namespace feature {
inline constexpr unsigned csum = 0;        ///< the device takes frames with partial checksums
inline constexpr unsigned guest_csum = 1;  ///< the driver takes frames with partial checksums
inline constexpr unsigned mtu = 3;         ///< config.mtu is valid
inline constexpr unsigned mac = 5;         ///< config.mac is valid
inline constexpr unsigned guest_tso4 = 7;  ///< the driver takes TCPv4 segmentation offload
inline constexpr unsigned guest_tso6 = 8;  ///< the driver takes TCPv6 segmentation offload
inline constexpr unsigned guest_ecn = 9;   ///< the driver takes TSO with ECN (not offered)
inline constexpr unsigned guest_ufo = 10;  ///< the driver takes UFO (not offered)
inline constexpr unsigned host_tso4 = 11;  ///< the device takes TCPv4 segmentation offload
inline constexpr unsigned host_tso6 = 12;  ///< the device takes TCPv6 segmentation offload
inline constexpr unsigned host_ecn = 13;   ///< the device takes TSO with ECN (not offered)
inline constexpr unsigned host_ufo = 14;   ///< the device takes UFO (not offered)
inline constexpr unsigned mrg_rxbuf = 15;  ///< a received frame may span several rx chains
inline constexpr unsigned status = 16;     ///< config.status is valid
}  // namespace feature

/// config.status bits.
inline constexpr std::uint16_t status_link_up = 1;

/// The configuration space fields this device implements, as the driver reads them (little-endian, packed, the
/// first 12 bytes of struct virtio_net_config). Fields past mtu (speed, duplex, RSS) read as zero.
struct net_config {
  std::array<std::uint8_t, 6> mac{};
  std::uint16_t status = 0;
  std::uint16_t max_virtqueue_pairs = 1;
  std::uint16_t mtu = 1500;

  /// The configuration space bytes (12), little-endian.
  [[nodiscard]] constexpr auto bytes() const noexcept -> std::array<std::byte, 12> {
    const auto lo = [](std::uint16_t v) {
      return static_cast<std::byte>(v & 0xffU);
    };
    const auto hi = [](std::uint16_t v) {
      return static_cast<std::byte>(v >> 8U);
    };
    return {static_cast<std::byte>(mac[0]),
            static_cast<std::byte>(mac[1]),
            static_cast<std::byte>(mac[2]),
            static_cast<std::byte>(mac[3]),
            static_cast<std::byte>(mac[4]),
            static_cast<std::byte>(mac[5]),
            lo(status),
            hi(status),
            lo(max_virtqueue_pairs),
            hi(max_virtqueue_pairs),
            lo(mtu),
            hi(mtu)};
  }

  friend constexpr auto operator==(const net_config&, const net_config&) noexcept -> bool = default;
};

/// The size of the configuration space this device exposes.
inline constexpr std::size_t config_size = 12;

}  // namespace vmm::virtio::net
