module vmm.virtio.vsock;
import std;

namespace vmm::virtio::vsock {
namespace {

class category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.virtio.vsock"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::header_too_short:
        return "Vsock packet is shorter than its 44-byte header";
      case errc::wrong_source_cid:
        return "Vsock packet's source CID is not the guest's";
      case errc::wrong_destination_cid:
        return "Vsock packet's destination CID is not the host's (2)";
      case errc::payload_too_long:
        return "Vsock packet's length is above the 64 KiB limit";
      case errc::payload_truncated:
        return "Vsock packet's length is more than its readable payload";
      case errc::unknown_type:
        return "Vsock packet's socket type is unknown or not negotiated";
      case errc::unknown_op:
        return "Vsock packet's operation is unknown";
      case errc::rx_buffer_too_small:
        return "Vsock rx buffer cannot hold a packet header";
      case errc::too_many_connections:
        return "Vsock connection limit reached";
      case errc::invalid_config:
        return "Vsock guest CID must be in [3, 2^32), the socket path not empty and the timeouts positive";
      case errc::credit_exceeded:
        return "Vsock guest sent more than its credit";
      case errc::message_too_long:
        return "Vsock seqpacket message is larger than the device buffer";
      case errc::event_buffer_too_small:
        return "Vsock event buffer cannot hold a 4-byte event";
    }
    return "Unknown vmm.virtio.vsock error " + std::to_string(value);
  }
};

}  // namespace

auto vsock_category() noexcept -> const std::error_category& {
  static const category instance;
  return instance;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), vsock_category()};
}

}  // namespace vmm::virtio::vsock
