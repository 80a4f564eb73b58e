// vmm.devices.legacy:rtc — the PC's MC146818 CMOS real-time clock at ports 0x70 (index) and 0x71 (data): the
// time of a time_source in BCD or binary, 24- or 12-hour, and 128 bytes of CMOS RAM. (rust-vmm's vm-superio has an
// ARM PL031 instead; an x86 guest looks for this one.)
export module vmm.devices.legacy:rtc;
import std;
import vmm.device;

export namespace vmm::devices::legacy {

/// The first of the RTC's two ports: offset 0 is the index register, offset 1 the data register.
inline constexpr std::uint16_t rtc_port = 0x70;
/// How many ports the RTC decodes (register it on a range of this size).
inline constexpr std::uint64_t rtc_port_count = 2;
/// The size of CMOS RAM, clock registers included.
inline constexpr std::size_t cmos_size = 128;

/// CMOS register indexes (written to the index port; bit 7 of that write is the NMI-disable bit, masked off).
namespace rtc_register {
inline constexpr std::uint8_t seconds = 0x00;        ///< 0-59
inline constexpr std::uint8_t seconds_alarm = 0x01;  ///< storage (no alarm interrupt)
inline constexpr std::uint8_t minutes = 0x02;        ///< 0-59
inline constexpr std::uint8_t minutes_alarm = 0x03;  ///< storage
inline constexpr std::uint8_t hours = 0x04;          ///< 0-23, or 1-12 with bit 7 = PM in 12-hour mode
inline constexpr std::uint8_t hours_alarm = 0x05;    ///< storage
inline constexpr std::uint8_t day_of_week = 0x06;    ///< 1 (Sunday) - 7
inline constexpr std::uint8_t day_of_month = 0x07;   ///< 1-31
inline constexpr std::uint8_t month = 0x08;          ///< 1-12
inline constexpr std::uint8_t year = 0x09;           ///< 0-99, the year within the century
inline constexpr std::uint8_t status_a = 0x0a;       ///< bit 7 update in progress (reads 0); bits 6:0 storage
inline constexpr std::uint8_t status_b = 0x0b;       ///< bit 2 binary (DM), bit 1 24-hour; the rest storage
inline constexpr std::uint8_t status_c = 0x0c;       ///< interrupt flags: reads 0 (no RTC interrupts)
inline constexpr std::uint8_t status_d = 0x0d;       ///< bit 7 valid RAM and time: reads 0x80
inline constexpr std::uint8_t century = 0x32;        ///< 19, 20, ... (the PC/ACPI century register)
}  // namespace rtc_register

/// Where the RTC gets the time. now() may be called from any vCPU thread, with the RTC's lock held.
class time_source {
 public:
  time_source() = default;
  time_source(const time_source&) = delete;
  auto operator=(const time_source&) -> time_source& = delete;
  time_source(time_source&&) = delete;
  auto operator=(time_source&&) -> time_source& = delete;
  virtual ~time_source() = default;

  /// The current time (UTC: an x86 Linux guest expects the RTC in UTC unless told otherwise).
  [[nodiscard]] virtual auto now() const -> std::chrono::system_clock::time_point = 0;
};

/// The host's clock (std::chrono::system_clock).
class system_time_source final : public time_source {
 public:
  /// system_clock::now().
  [[nodiscard]] auto now() const -> std::chrono::system_clock::time_point override;
};

/// A clock that says what it was set to (tests). Thread-safe.
class fixed_time_source final : public time_source {
 public:
  /// Reports `time` until set() changes it.
  explicit fixed_time_source(std::chrono::system_clock::time_point time) noexcept
      : rep_{time.time_since_epoch().count()} {}

  /// The time last set.
  [[nodiscard]] auto now() const -> std::chrono::system_clock::time_point override;
  /// Reports `time` from now on.
  void set(std::chrono::system_clock::time_point time) noexcept;

 private:
  std::atomic<std::chrono::system_clock::rep> rep_;
};

/// What the RTC reads; null means the host's clock.
struct rtc_options {
  // {} keeps designated initializers that omit this member free of -Wmissing-designated-field-initializers.
  // NOLINTNEXTLINE(readability-redundant-member-init)
  std::shared_ptr<time_source> clock{};  ///< the time the clock registers show
};

/// A snapshot of the RTC's counters.
struct rtc_metrics {
  std::uint64_t ignored_writes = 0;    ///< writes to the clock registers or read-only registers (ignored)
  std::uint64_t invalid_accesses = 0;  ///< accesses not one byte wide or beyond offset 1 (ignored, read as 0)
};

/// An MC146818 CMOS RTC. Offsets 0 (index) and 1 (data) of its range. The clock registers (0x00, 0x02, 0x04,
/// 0x06-0x09, century 0x32) are computed from the time source on every read, in BCD unless register B's DM bit
/// (bit 2) is set, in 24-hour form when register B bit 1 is set (the power-on default) else 12-hour with bit 7 =
/// PM. Register A's update-in-progress bit reads 0 (the time is read whole from the source, so no update is ever
/// half done), register C reads 0, register D reads 0x80 (valid). Writes to the clock registers are ignored (a
/// guest cannot set the host's clock) and counted; alarm registers and the other CMOS bytes are plain storage.
/// No alarm, periodic or update interrupt is generated.
///
/// Thread safety: every member function may be called from any thread at once; the device locks its state.
class rtc final : public vmm::device::bus_device {
 public:
  /// An RTC in 24-hour BCD mode, register A 0x26 (32.768 kHz, 1024 Hz rate), CMOS RAM zeroed.
  explicit rtc(rtc_options options = {});

  /// The guest reads the index (offset 0, the last index written) or the indexed register (offset 1).
  void read(vmm::device::bus_address base, std::uint64_t offset, std::span<std::byte> data) override;
  /// The guest selects a register (offset 0) or writes it (offset 1).
  void write(vmm::device::bus_address base, std::uint64_t offset, std::span<const std::byte> data) override;

  /// Whether the guest's last index write set bit 7 (NMI disabled; the VMM may ignore it, there is no NMI source).
  [[nodiscard]] auto nmi_disabled() const -> bool;

  /// The counters so far.
  [[nodiscard]] auto metrics() const noexcept -> rtc_metrics;

 private:
  [[nodiscard]] auto read_register(std::uint8_t index) const -> std::uint8_t;
  void write_register(std::uint8_t index, std::uint8_t value);
  [[nodiscard]] auto encode(unsigned value) const -> std::uint8_t;

  std::shared_ptr<time_source> clock_;
  mutable std::mutex mutex_;
  std::array<std::uint8_t, cmos_size> cmos_{};
  std::uint8_t index_ = 0;
  bool nmi_disabled_ = false;
  std::atomic<std::uint64_t> ignored_writes_{0};
  std::atomic<std::uint64_t> invalid_accesses_{0};
};

}  // namespace vmm::devices::legacy
