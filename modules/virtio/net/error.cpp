module vmm.virtio.net;
import std;

namespace vmm::virtio::net {
namespace {

class category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.virtio.net"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::short_header:
        return "Transmit chain is shorter than the 12-byte virtio-net header";
      case errc::frame_too_short:
        return "Transmitted frame is shorter than an Ethernet header";
      case errc::frame_too_large:
        return "Transmitted frame is longer than 64 KiB";
      case errc::unknown_header_flags:
        return "virtio-net header flags hold a bit the driver may not set";
      case errc::checksum_not_negotiated:
        return "virtio-net header asks for checksum offload without VIRTIO_NET_F_CSUM";
      case errc::checksum_out_of_frame:
        return "virtio-net header's checksum start and offset lie beyond the frame";
      case errc::unknown_gso_type:
        return "virtio-net header names an unknown GSO type";
      case errc::gso_not_negotiated:
        return "virtio-net header asks for a segmentation offload that was not negotiated";
      case errc::gso_without_checksum:
        return "virtio-net header asks for segmentation without checksum offload";
      case errc::bad_gso_size:
        return "virtio-net header's GSO segment size is zero";
      case errc::header_length_out_of_frame:
        return "virtio-net header's hdr_len is longer than the frame";
      case errc::nonzero_num_buffers:
        return "virtio-net transmit header's num_buffers is not zero";
      case errc::too_many_buffers:
        return "Transmitted frame spans more buffers than one writev takes";
      case errc::bad_rx_buffer:
        return "Receive chain has fewer writable bytes than the virtio-net header";
      case errc::wrong_queue_count:
        return "Network device needs exactly a receive and a transmit queue and their events";
      case errc::no_memory:
        return "Network device activation has no guest memory";
      case errc::no_interrupt:
        return "Network device activation has no interrupt";
      case errc::already_active:
        return "Network device is already active";
      case errc::invalid_features:
        return "Network device features were negotiated without the features they depend on";
      case errc::queue_broken:
        return "Network device queue is broken and needs a reset";
      case errc::interface_name_too_long:
        return "Tap interface name is longer than 15 bytes or holds a NUL";
    }
    return "Unknown vmm.virtio.net error " + std::to_string(value);
  }
};

}  // namespace

auto net_category() noexcept -> const std::error_category& {
  static const category instance;
  return instance;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), net_category()};
}

}  // namespace vmm::virtio::net
