module vmm.devices.legacy;
import std;

namespace vmm::devices::legacy {
namespace {

class category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.devices.legacy"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::receive_fifo_full:
        return "Serial receive FIFO is full (64 bytes); no input byte was accepted";
      case errc::keyboard_buffer_full:
        return "i8042 output queue is full; no keyboard byte was accepted";
      case errc::output_closed:
        return "Serial output file descriptor accepted no bytes";
      case errc::output_limit_reached:
        return "Serial memory output already holds its byte limit";
    }
    return "Unknown vmm.devices.legacy error " + std::to_string(value);
  }
};

}  // namespace

auto legacy_category() noexcept -> const std::error_category& {
  static const category instance;
  return instance;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), legacy_category()};
}

}  // namespace vmm::devices::legacy
