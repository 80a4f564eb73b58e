// vmm.device:bus_device — what a device on a port-I/O or MMIO bus implements, and how it raises an interrupt.
export module vmm.device:bus_device;
import std;
import vmm.sys;

export namespace vmm::device {

/// An address on a bus: a port number on the port-I/O bus, a guest physical address on the MMIO bus.
struct bus_address {
  std::uint64_t value = 0;

  friend constexpr auto operator<=>(bus_address, bus_address) noexcept = default;
};

/// A device that vCPUs reach through a bus (vmm::device::bus). The bus calls read and write with the start of the
/// range the device was registered on (`base`, so a device registered on several ranges can tell them apart) and
/// the offset of the access inside that range; `data` holds the access's bytes (1, 2, 4 or 8 for a vCPU access, but
/// a device must accept any length, including 0, and never touch bytes outside `data`).
///
/// Thread safety: several vCPU threads may call read and write at the same time; a device synchronises its own
/// state (vmm::device::locked wraps one that does not). A device never throws and never fails an access: what the
/// guest does to a device is guest input, so an access the device does not implement reads as zeroes (or what the
/// real hardware returns) and writes are ignored; the device may count them.
class bus_device {
 public:
  bus_device() = default;
  bus_device(const bus_device&) = delete;
  auto operator=(const bus_device&) -> bus_device& = delete;
  bus_device(bus_device&&) = delete;
  auto operator=(bus_device&&) -> bus_device& = delete;
  virtual ~bus_device() = default;

  /// The guest reads `data.size()` bytes at `offset` inside the range starting at `base`: fill `data`.
  virtual void read(bus_address base, std::uint64_t offset, std::span<std::byte> data) = 0;
  /// The guest writes `data` at `offset` inside the range starting at `base`.
  virtual void write(bus_address base, std::uint64_t offset, std::span<const std::byte> data) = 0;
};

/// How a device raises its interrupt line: an eventfd registered as a KVM irqfd in a VMM, a counter in tests.
/// trigger() may be called from any vCPU thread.
class interrupt_trigger {
 public:
  interrupt_trigger() = default;
  interrupt_trigger(const interrupt_trigger&) = delete;
  auto operator=(const interrupt_trigger&) -> interrupt_trigger& = delete;
  interrupt_trigger(interrupt_trigger&&) = delete;
  auto operator=(interrupt_trigger&&) -> interrupt_trigger& = delete;
  virtual ~interrupt_trigger() = default;

  /// Raises the interrupt once (edge). Errors: whatever signalling it failed with (an eventfd write's errno).
  [[nodiscard]] virtual auto trigger() -> vmm::result<void> = 0;
};

/// An interrupt_trigger that writes 1 to an eventfd: register the eventfd with vmm::kvm's irqfd and the guest sees
/// its GSI raised without a VM exit.
class event_fd_trigger final : public interrupt_trigger {
 public:
  /// Takes ownership of `event`.
  explicit event_fd_trigger(vmm::sys::event_fd event) noexcept : event_{std::move(event)} {}

  /// Writes 1 to the eventfd. Errors: the write's errno (EAGAIN when the counter would overflow).
  [[nodiscard]] auto trigger() -> vmm::result<void> override { return event_.write(1); }

  /// The eventfd, to register as an irqfd or to poll in tests.
  [[nodiscard]] auto event() const noexcept -> const vmm::sys::event_fd& { return event_; }

 private:
  vmm::sys::event_fd event_;
};

}  // namespace vmm::device
