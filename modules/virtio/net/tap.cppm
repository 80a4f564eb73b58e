// vmm.virtio.net:tap — the host side of the network device: a Linux tap interface opened through /dev/net/tun with
// a virtio-net header in front of every frame (IFF_VNET_HDR), so checksum and segmentation offloads pass through.
export module vmm.virtio.net:tap;
import std;
import vmm.sys;
import :error;

export namespace vmm::virtio::net {

/// TUNSETOFFLOAD flags: what the reader of the tap (the guest, through the device) accepts from the kernel.
namespace tun_offload {
inline constexpr std::uint32_t csum = 0x01;     ///< TUN_F_CSUM: frames with a partial checksum
inline constexpr std::uint32_t tso4 = 0x02;     ///< TUN_F_TSO4: TCPv4 GSO frames
inline constexpr std::uint32_t tso6 = 0x04;     ///< TUN_F_TSO6: TCPv6 GSO frames
inline constexpr std::uint32_t tso_ecn = 0x08;  ///< TUN_F_TSO_ECN
inline constexpr std::uint32_t ufo = 0x10;      ///< TUN_F_UFO
}  // namespace tun_offload

/// The tun offload flags a driver that negotiated `features` can take on its rx queue: TUN_F_CSUM for
/// VIRTIO_NET_F_GUEST_CSUM, and TSO4/TSO6 for GUEST_TSO4/6 (only together with GUEST_CSUM, as the kernel requires).
[[nodiscard]] auto offload_for_features(std::uint64_t features) noexcept -> std::uint32_t;

/// Where and how a tap is opened.
struct tap_options {
  /// The tun/tap clone device.
  std::filesystem::path device = "/dev/net/tun";
};

/// An open tap interface: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR with a 12-byte header (TUNSETVNETHDRSZ), non-blocking
/// and close-on-exec. Every read returns one frame with its header in front; every write takes one.
class tap {
 public:
  /// Opens the tap named `name` (created when it does not exist and the caller has CAP_NET_ADMIN in the network
  /// namespace; at most 15 bytes, empty for a kernel-chosen tapN) and probes which offloads it takes (offloads()),
  /// leaving none enabled. Errors: errc::interface_name_too_long; open's errno (ENOENT without /dev/net/tun,
  /// EACCES/EPERM where it is not allowed); TUNSETIFF's (EPERM without CAP_NET_ADMIN, EBUSY when the interface is
  /// attached elsewhere, EINVAL when it is a tun); TUNSETVNETHDRSZ's.
  [[nodiscard]] static auto open(std::string_view name, const tap_options& options = {}) -> vmm::result<tap>;

  /// The interface's name as the kernel gave it.
  [[nodiscard]] auto name() const noexcept -> const std::string& { return name_; }
  /// The descriptor, for the event manager (readable when a frame is waiting).
  [[nodiscard]] auto fd() const noexcept -> sys::borrowed_fd { return fd_.borrow(); }
  /// The tun_offload flags the tap accepted when probed: the device offers the matching features.
  [[nodiscard]] auto offloads() const noexcept -> std::uint32_t { return offloads_; }
  /// Sets the offloads the reader accepts (TUNSETOFFLOAD). Errors: EINVAL for a combination the kernel refuses.
  [[nodiscard]] auto set_offload(std::uint32_t flags) const -> vmm::result<void>;

  /// Reads one frame, header first, into `buffer`; returns its length (a frame longer than `buffer` is cut).
  /// Errors: EAGAIN when no frame is waiting, EIO when the interface is down… (read(2)'s).
  [[nodiscard]] auto read(std::span<std::byte> buffer) const -> vmm::result<std::size_t>;
  /// Writes one frame, header first, gathered from `buffers`; returns the bytes taken. Errors: writev's (EAGAIN
  /// when the interface's queue is full, EIO while it is down, EINVAL for a header the kernel refuses).
  [[nodiscard]] auto write(std::span<const sys::io_buffer> buffers) const -> vmm::result<std::size_t>;

 private:
  tap(sys::unique_fd fd, std::string name, std::uint32_t offloads) noexcept
      : fd_{std::move(fd)}, name_{std::move(name)}, offloads_{offloads} {}

  sys::unique_fd fd_;
  std::string name_;
  std::uint32_t offloads_ = 0;
};

}  // namespace vmm::virtio::net
