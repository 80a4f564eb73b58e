module vmm.device;
import std;

namespace vmm::device {
namespace {

class device_error_category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.device"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::empty_range:
        return "Bus range has size zero";
      case errc::range_wraps:
        return "Bus range runs past 2^64 and would wrap around";
      case errc::port_out_of_range:
        return "Port-I/O range runs past port 0xffff";
      case errc::overlapping_range:
        return "Bus range overlaps a range that is already registered";
      case errc::not_registered:
        return "No device is registered at that base address";
      case errc::no_device_at_address:
        return "No device is registered at that bus address";
      case errc::access_straddles_device:
        return "Bus access runs past the end of the device's range";
    }
    return "Unknown vmm.device error " + std::to_string(value);
  }
};

}  // namespace

auto device_category() noexcept -> const std::error_category& {
  static const device_error_category category;
  return category;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), device_category()};
}

}  // namespace vmm::device
