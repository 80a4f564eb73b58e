module vmm.virtio.mmio;
import std;

namespace vmm::virtio::mmio {
namespace {

class mmio_error_category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.virtio.mmio"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::version_1_not_offered:
        return "Virtio device does not offer VIRTIO_F_VERSION_1, which virtio-mmio version 2 requires";
      case errc::too_many_queues:
        return "Virtio device has more queues than the transport supports";
      case errc::invalid_queue_max_size:
        return "Virtio device's queue maximum size is zero or above 32768";
      case errc::ready_queue_after_unready:
        return "Driver made a queue ready after a queue it left unready";
    }
    return "Unknown vmm.virtio.mmio error " + std::to_string(value);
  }
};

}  // namespace

auto mmio_category() noexcept -> const std::error_category& {
  static const mmio_error_category category;
  return category;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), mmio_category()};
}

}  // namespace vmm::virtio::mmio
