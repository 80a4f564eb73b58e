module vmm.virtio.rng;
import std;

namespace vmm::virtio::rng {
namespace {

class category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.virtio.rng"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::wrong_queue_count:
        return "Entropy device needs exactly one queue and one queue event";
      case errc::no_memory:
        return "Entropy device activation has no guest memory";
      case errc::no_interrupt:
        return "Entropy device activation has no interrupt";
      case errc::already_active:
        return "Entropy device is already active";
      case errc::queue_broken:
        return "Entropy device's request queue is broken and needs a reset";
    }
    return "Unknown vmm.virtio.rng error " + std::to_string(value);
  }
};

}  // namespace

auto rng_category() noexcept -> const std::error_category& {
  static const category instance;
  return instance;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), rng_category()};
}

}  // namespace vmm::virtio::rng
