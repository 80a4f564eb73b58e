// legacy_fakes — what the vmm.devices.legacy tests plug into the devices: triggers that count or fail, an output
// that fails, and one-byte register access helpers.
module;
#include <cerrno>
export module legacy_fakes;
import std;
import vmm.sys;
import vmm.device;
import vmm.devices.legacy;

export namespace legacy_fakes {

/// Counts trigger() calls; fails them (EAGAIN, like a full eventfd) while `failing` is set.
class counting_trigger final : public vmm::device::interrupt_trigger {
 public:
  [[nodiscard]] auto trigger() -> vmm::result<void> override {
    calls.fetch_add(1);
    if (failing.load()) {
      return vmm::os_failure(EAGAIN);
    }
    return {};
  }
  std::atomic<std::uint64_t> calls{0};
  std::atomic<bool> failing{false};
};

/// An output whose every write fails with EIO.
class failing_output final : public vmm::devices::legacy::serial_output {
 public:
  [[nodiscard]] auto write(std::span<const std::byte> /*bytes*/) -> vmm::result<void> override {
    calls.fetch_add(1);
    return vmm::os_failure(EIO);
  }
  std::atomic<std::uint64_t> calls{0};
};

/// Writes one byte at `offset` of a device registered at `base`.
inline void out(vmm::device::bus_device& device, std::uint64_t offset, std::uint8_t value, std::uint64_t base = 0) {
  const std::array data{std::byte{value}};
  device.write(vmm::device::bus_address{base}, offset, data);
}

/// Reads one byte at `offset` of a device registered at `base`.
[[nodiscard]] inline auto in(vmm::device::bus_device& device, std::uint64_t offset, std::uint64_t base = 0)
    -> std::uint8_t {
  std::array<std::byte, 1> data{std::byte{0xee}};
  device.read(vmm::device::bus_address{base}, offset, data);
  return std::to_integer<std::uint8_t>(data[0]);
}

/// The bytes of `text`.
[[nodiscard]] inline auto bytes_of(std::string_view text) -> std::vector<std::byte> {
  std::vector<std::byte> out(text.size());
  std::ranges::transform(text, out.begin(), [](char c) { return static_cast<std::byte>(c); });
  return out;
}

/// A serial device with a memory output and a counting trigger, for the tests to poke.
struct serial_rig {
  std::shared_ptr<vmm::devices::legacy::memory_output> output = std::make_shared<vmm::devices::legacy::memory_output>();
  std::shared_ptr<counting_trigger> irq = std::make_shared<counting_trigger>();
  vmm::devices::legacy::serial uart{{.output = output, .interrupt = irq}};
};

}  // namespace legacy_fakes
