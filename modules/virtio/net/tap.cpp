module;
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
module vmm.virtio.net;
import std;
import vmm.sys;

namespace vmm::virtio::net {
namespace {

constexpr unsigned long tunsetiff = sys::iow<int>('T', 202);
constexpr unsigned long tunsetoffload = sys::iow<unsigned int>('T', 208);
constexpr unsigned long tunsetvnethdrsz = sys::iow<int>('T', 216);
static_assert(tunsetiff == TUNSETIFF);
static_assert(tunsetoffload == TUNSETOFFLOAD);
static_assert(tunsetvnethdrsz == TUNSETVNETHDRSZ);
static_assert(tun_offload::csum == TUN_F_CSUM && tun_offload::tso4 == TUN_F_TSO4 && tun_offload::tso6 == TUN_F_TSO6 &&
              tun_offload::tso_ecn == TUN_F_TSO_ECN && tun_offload::ufo == TUN_F_UFO);

// The offloads the device may offer, most capable first; the probe keeps the first the tap takes.
constexpr std::array<std::uint32_t, 2> probes{tun_offload::csum | tun_offload::tso4 | tun_offload::tso6,
                                              tun_offload::csum};

}  // namespace

auto offload_for_features(std::uint64_t features) noexcept -> std::uint32_t {
  const auto has = [&](unsigned bit) {
    return ((features >> bit) & 1U) != 0;
  };
  if (!has(feature::guest_csum)) {
    return 0;
  }
  std::uint32_t flags = tun_offload::csum;
  if (has(feature::guest_tso4)) {
    flags |= tun_offload::tso4;
  }
  if (has(feature::guest_tso6)) {
    flags |= tun_offload::tso6;
  }
  return flags;
}

auto tap::open(std::string_view name, const tap_options& options) -> vmm::result<tap> {
  ::ifreq request{};
  if (name.size() >= sizeof(request.ifr_name) || name.find('\0') != std::string_view::npos) {
    return vmm::failure(errc::interface_name_too_long);
  }
  auto fd = sys::open_file(options.device, {.read = true, .write = true, .nonblocking = true});
  if (!fd) {
    return std::unexpected(fd.error());
  }
  std::ranges::copy(name, std::begin(request.ifr_name));
  request.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
  if (auto r = sys::ioctl_with_mut_ref(*fd, tunsetiff, request); !r) {
    return std::unexpected(r.error());
  }
  const int header = static_cast<int>(header_size);
  if (auto r = sys::ioctl_with_ref(*fd, tunsetvnethdrsz, header); !r) {
    return std::unexpected(r.error());
  }
  std::uint32_t accepted = 0;
  for (const std::uint32_t flags : probes) {
    if (sys::ioctl_with_val(*fd, tunsetoffload, flags)) {
      accepted = flags;
      break;
    }
  }
  if (auto r = sys::ioctl_with_val(*fd, tunsetoffload, 0); !r) {
    return std::unexpected(r.error());
  }
  const std::span<const char> raw_name{request.ifr_name};
  const std::string kernel_name{raw_name.begin(), std::ranges::find(raw_name, '\0')};
  return tap{std::move(*fd), kernel_name, accepted};
}

auto tap::set_offload(std::uint32_t flags) const -> vmm::result<void> {
  if (auto r = sys::ioctl_with_val(fd_, tunsetoffload, flags); !r) {
    return std::unexpected(r.error());
  }
  return {};
}

auto tap::read(std::span<std::byte> buffer) const -> vmm::result<std::size_t> {
  return sys::read(fd_, buffer);
}

auto tap::write(std::span<const sys::io_buffer> buffers) const -> vmm::result<std::size_t> {
  return sys::writev(fd_, buffers);
}

}  // namespace vmm::virtio::net
