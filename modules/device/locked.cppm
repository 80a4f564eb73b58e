// vmm.device:locked — puts a device that is not thread safe on a bus by serialising its accesses with a mutex
// (rust-vmm's MutDevicePio / MutDeviceMmio behind a Mutex).
export module vmm.device:locked;
import std;
import :bus_device;

export namespace vmm::device {

/// A device model with the bus_device methods, not necessarily virtual and not necessarily thread safe (a plain
/// struct with read and write members, like a serial port's register file).
template <class Device>
concept mutable_bus_device = requires(Device& device, bus_address base, std::uint64_t offset, std::span<std::byte> in,
                                      std::span<const std::byte> out) {
  device.read(base, offset, in);
  device.write(base, offset, out);
};

/// A bus_device that owns a `Device` and calls its read and write one at a time, under a mutex, so several vCPU
/// threads can reach a device that synchronises nothing itself. The device's own code runs with the mutex held: it
/// must not call back into this wrapper (with() included), or it deadlocks.
template <mutable_bus_device Device>
class locked final : public bus_device {
 public:
  /// Constructs the device in place from `args`.
  template <class... Args>
    requires std::constructible_from<Device, Args...>
  inline explicit locked(std::in_place_t /*tag*/, Args&&... args) : device_(std::forward<Args>(args)...) {}

  /// Takes `device` by move.
  inline explicit locked(Device device)
    requires std::move_constructible<Device>
      : device_{std::move(device)} {}

  /// Calls the device's read under the mutex.
  inline void read(bus_address base, std::uint64_t offset, std::span<std::byte> data) override {
    const std::scoped_lock lock{mutex_};
    device_.read(base, offset, data);
  }

  /// Calls the device's write under the mutex.
  inline void write(bus_address base, std::uint64_t offset, std::span<const std::byte> data) override {
    const std::scoped_lock lock{mutex_};
    device_.write(base, offset, data);
  }

  /// Calls `f(Device&)` under the same mutex (for the VMM's side of the device: raising input, reading state) and
  /// returns what it returns.
  template <class F>
  inline auto with(F&& f) -> decltype(auto) {
    const std::scoped_lock lock{mutex_};
    return std::invoke(std::forward<F>(f), device_);
  }

  /// Calls `f(const Device&)` under the mutex and returns what it returns.
  template <class F>
  inline auto with(F&& f) const -> decltype(auto) {
    const std::scoped_lock lock{mutex_};
    return std::invoke(std::forward<F>(f), std::as_const(device_));
  }

 private:
  mutable std::mutex mutex_;
  Device device_;
};

/// A shared locked<Device> constructed from `args`, ready for bus::insert.
template <mutable_bus_device Device, class... Args>
  requires std::constructible_from<Device, Args...>
[[nodiscard]] auto make_locked(Args&&... args) -> std::shared_ptr<locked<Device>> {
  return std::make_shared<locked<Device>>(std::in_place, std::forward<Args>(args)...);
}

}  // namespace vmm::device
