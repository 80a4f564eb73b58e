// vmm.device:bus — the port-I/O and MMIO buses: ranges, registration, lookup and dispatch to bus_devices
// (rust-vmm's vm-device Bus, PioManager and MmioManager).
//
// A bus keeps its ranges in an immutable sorted snapshot (an array of base and last address, searched by a branch-free
// binary search, beside an array of devices) that registration replaces as a whole. A vCPU thread that dispatches an
// access never takes a lock: it announces itself in one of two reader counters, loads the snapshot, finds the range,
// copies the device's shared_ptr and leaves, then calls the device with no bus state held. Registration (rare: boot,
// PCI BAR reprogramming, hot-plug) is serialised by a mutex, publishes the next snapshot with one atomic exchange and
// waits only for readers that were inside the few instructions of a lookup, the scheme of vmm.memory's
// atomic_guest_memory. So a device may register or remove ranges from inside its own read or write (a PCI BAR write
// does), and a device removed while an access to it is running stays alive until that access returns.
export module vmm.device:bus;
import std;
import vmm.sys;
import :error;
import :bus_device;

export namespace vmm::device {

/// The bytes [base, base + size) of a bus. A valid range (bus_range::make, bus::insert) has size > 0 and ends at or
/// below 2^64, so last() never wraps; the whole 2^64-byte space is the one range it cannot describe.
struct bus_range {
  bus_address base;
  std::uint64_t size = 0;

  /// The range [base, base + size). Errors: errc::empty_range (size 0), errc::range_wraps (base + size > 2^64).
  [[nodiscard]] static auto make(bus_address base, std::uint64_t size) -> vmm::result<bus_range>;

  /// The last address inside the range (base + size - 1). Precondition: the range is valid.
  [[nodiscard]] inline constexpr auto last() const noexcept -> bus_address { return {base.value + (size - 1)}; }

  /// Whether `address` lies inside the range.
  [[nodiscard]] inline constexpr auto contains(bus_address address) const noexcept -> bool {
    return address.value >= base.value && address.value - base.value < size;
  }

  /// Whether the `length` bytes from `address` all lie inside the range (length 0: whether `address` does).
  [[nodiscard]] inline constexpr auto contains(bus_address address, std::uint64_t length) const noexcept -> bool {
    return contains(address) && (length == 0 || length - 1 <= last().value - address.value);
  }

  /// Whether the two ranges share at least one address. Precondition: both are valid.
  [[nodiscard]] inline constexpr auto overlaps(const bus_range& other) const noexcept -> bool {
    return base.value <= other.last().value && other.base.value <= last().value;
  }

  friend constexpr auto operator==(const bus_range&, const bus_range&) noexcept -> bool = default;
};

/// Which address space a bus decodes.
enum class bus_kind : std::uint8_t {
  port_io,  ///< x86 I/O ports: 16-bit addresses, every range inside [0, 0x10000)
  mmio,     ///< guest physical addresses: 64-bit
};

/// The number of I/O ports on x86: a port-I/O range must end at or below this.
inline constexpr std::uint64_t port_io_space_size = 0x1'0000;

/// A registered range and the device on it, as bus::find and bus::entries return them. The shared_ptr keeps the
/// device alive even after it is removed from the bus.
struct bus_entry {
  bus_range range;
  std::shared_ptr<bus_device> device;
};

/// A bus: bus_devices registered on disjoint ranges, and dispatch of vCPU accesses to them.
///
/// Thread safety: every member may be called from any number of threads at once. find, find_overlap, entries,
/// read and write never block; insert and remove are serialised among themselves. Devices are called with no bus
/// lock held (a device may insert or remove ranges from its own read or write).
class bus {
 public:
  /// An empty bus decoding `kind` addresses.
  explicit bus(bus_kind kind);
  ~bus();
  bus(const bus&) = delete;
  auto operator=(const bus&) -> bus& = delete;
  bus(bus&&) = delete;
  auto operator=(bus&&) -> bus& = delete;

  /// Which address space this bus decodes.
  [[nodiscard]] inline auto kind() const noexcept -> bus_kind { return kind_; }

  /// Registers `device` on [base, base + size) and returns that range. Nothing changes on an error.
  /// Errors: errc::empty_range (size 0), errc::range_wraps (base + size > 2^64), errc::port_out_of_range (a
  /// port-I/O range that ends above 0x10000), errc::overlapping_range (it shares an address with a registered
  /// range: find_overlap(range) names the first one). Precondition: `device` is not null.
  [[nodiscard]] auto insert(bus_address base, std::uint64_t size, std::shared_ptr<bus_device> device)
      -> vmm::result<bus_range>;

  /// Unregisters the range that starts at `base` and returns its device (accesses already running may still call
  /// it; new ones do not). Errors: errc::not_registered (no range starts exactly at `base`).
  [[nodiscard]] auto remove(bus_address base) -> vmm::result<std::shared_ptr<bus_device>>;

  /// The range that contains `address` and its device, in O(log n).
  /// Errors: errc::no_device_at_address.
  [[nodiscard]] auto find(bus_address address) const -> vmm::result<bus_entry>;

  /// The lowest registered range that overlaps `range`, if any (what an errc::overlapping_range insert hit).
  [[nodiscard]] auto find_overlap(bus_range range) const -> std::optional<bus_range>;

  /// Every registered range and its device, in address order (a copy: later changes do not show in it).
  [[nodiscard]] auto entries() const -> std::vector<bus_entry>;

  /// How many ranges are registered.
  [[nodiscard]] auto size() const -> std::size_t;

  /// A vCPU reads `data.size()` bytes at `address`: finds the range that contains them and calls its device's
  /// read with (range base, address - range base, data). On an error no device is called and `data` is left as the
  /// caller set it (a vCPU loop that ignores unmapped reads should fill it first, e.g. with 0xff as x86 floating
  /// buses do). Errors: errc::no_device_at_address (no range contains `address`), errc::access_straddles_device
  /// (the access starts inside a range but does not end inside it).
  [[nodiscard]] auto read(bus_address address, std::span<std::byte> data) const -> vmm::result<void>;

  /// A vCPU writes `data` at `address`: as read, calling the device's write. Errors: as read (no device called).
  [[nodiscard]] auto write(bus_address address, std::span<const std::byte> data) const -> vmm::result<void>;

  /// How many snapshots have been published (one per successful insert or remove).
  [[nodiscard]] inline auto generation() const noexcept -> std::uint64_t {
    return generation_.load(std::memory_order_acquire);
  }

 private:
  /// A registered range as the search reads it: base and last address side by side (16 bytes).
  struct slot {
    std::uint64_t base = 0;
    std::uint64_t last = 0;
  };
  /// The immutable state readers see: ranges sorted by base, and their devices in a parallel array, so the binary
  /// search touches only the dense slot array.
  struct snapshot {
    std::vector<slot> slots;
    std::vector<std::shared_ptr<bus_device>> devices;
  };
  struct located {
    std::shared_ptr<bus_device> device;
    std::uint64_t base = 0;
    std::uint64_t last = 0;
  };

  /// The entry containing `address`, copied out of the current snapshot (device null when none does).
  [[nodiscard]] auto locate(std::uint64_t address) const -> located;
  /// Calls `visit(const snapshot&)` on the current snapshot, announced as a reader (visit must not block).
  template <class Visit>
  auto with_snapshot(Visit&& visit) const -> decltype(auto);
  /// Exchanges `next` in and frees the old snapshot once no reader can still be inside it. Holds writer_.
  void publish(std::unique_ptr<const snapshot> next);
  /// The reader counter of epoch `e` (0 or 1).
  [[nodiscard]] inline auto counter_of(std::uint32_t e) const noexcept -> std::atomic<std::uint64_t>& {
    return (e & 1U) == 0 ? readers_[0].value : readers_[1].value;
  }

  bus_kind kind_;
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<const snapshot*> current_;  // owned: released from a unique_ptr, adopted again to delete
  std::atomic<std::uint64_t> generation_{0};
  std::mutex writer_;
  struct alignas(64) counter {
    std::atomic<std::uint64_t> value{0};
  };
  mutable std::array<counter, 2> readers_{};
};

/// The x86 port-I/O bus: addresses are port numbers, every range inside [0, 0x10000).
class pio_bus final : public bus {
 public:
  inline pio_bus() : bus{bus_kind::port_io} {}
};

/// The MMIO bus: addresses are guest physical addresses.
class mmio_bus final : public bus {
 public:
  inline mmio_bus() : bus{bus_kind::mmio} {}
};

}  // namespace vmm::device

/// Formats a bus address as 0x-prefixed hex ("{}" → "0x3f8").
template <>
struct std::formatter<vmm::device::bus_address> : std::formatter<std::uint64_t> {
  static auto format(vmm::device::bus_address a, std::format_context& ctx) {
    return std::format_to(ctx.out(), "{:#x}", a.value);
  }
};

/// Formats a bus range as a half-open hex interval ("{}" → "[0x3f8, 0x400)"; the end of a range that ends at
/// 2^64 prints as 0x10000000000000000).
template <>
struct std::formatter<vmm::device::bus_range> : std::formatter<std::uint64_t> {
  static auto format(const vmm::device::bus_range& r, std::format_context& ctx) {
    if (r.size != 0 && r.last().value == std::numeric_limits<std::uint64_t>::max()) {
      return std::format_to(ctx.out(), "[{:#x}, 0x10000000000000000)", r.base.value);
    }
    return std::format_to(ctx.out(), "[{:#x}, {:#x})", r.base.value, r.base.value + r.size);
  }
};
