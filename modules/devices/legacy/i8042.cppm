// vmm.devices.legacy:i8042 — the PC keyboard controller, as far as Linux's i8042 driver and reboot need it: the
// status and data ports, the controller commands of a probe, a keyboard that acknowledges, and CPU reset.
export module vmm.devices.legacy:i8042;
import std;
import vmm.sys;
import vmm.device;

export namespace vmm::devices::legacy {

/// The i8042's data port (output buffer on read, data or command parameter on write).
inline constexpr std::uint16_t i8042_data_port = 0x60;
/// The i8042's status (read) and command (write) port.
inline constexpr std::uint16_t i8042_command_port = 0x64;
/// The keyboard's ISA interrupt line.
inline constexpr std::uint32_t i8042_keyboard_irq = 1;
/// How many bytes the controller's output queue holds (responses and keyboard bytes waiting for the guest).
inline constexpr std::size_t i8042_output_queue_size = 16;

/// The controller commands the device implements (written to the command port).
namespace i8042_command {
inline constexpr std::uint8_t read_command_byte = 0x20;        ///< the command byte goes to the output buffer
inline constexpr std::uint8_t write_command_byte = 0x60;       ///< the next data byte becomes the command byte
inline constexpr std::uint8_t disable_aux = 0xa7;              ///< sets command byte bit 5
inline constexpr std::uint8_t enable_aux = 0xa8;               ///< clears command byte bit 5
inline constexpr std::uint8_t aux_interface_test = 0xa9;       ///< answers 0x01: there is no auxiliary (mouse) port
inline constexpr std::uint8_t self_test = 0xaa;                ///< answers 0x55 and sets the system flag
inline constexpr std::uint8_t keyboard_interface_test = 0xab;  ///< answers 0x00 (no error)
inline constexpr std::uint8_t disable_keyboard = 0xad;         ///< sets command byte bit 4
inline constexpr std::uint8_t enable_keyboard = 0xae;          ///< clears command byte bit 4
inline constexpr std::uint8_t read_output_port = 0xd0;         ///< the output port goes to the output buffer
inline constexpr std::uint8_t write_output_port =
    0xd1;  ///< the next data byte becomes the output port (bit 0 clear: reset)
inline constexpr std::uint8_t write_keyboard_output = 0xd2;  ///< the next data byte comes back as keyboard data
inline constexpr std::uint8_t write_aux_output = 0xd3;       ///< the next data byte is swallowed (no aux port)
inline constexpr std::uint8_t write_aux = 0xd4;              ///< the next data byte is swallowed (no aux port)
inline constexpr std::uint8_t cpu_reset = 0xfe;              ///< pulses the reset line: fires the reset trigger once
}  // namespace i8042_command

/// What the controller is connected to; either trigger may be null.
struct i8042_options {
  /// Fired once per CPU-reset request (command 0xfe, any pulse command 0xf0-0xfe with bit 0 clear, or an output
  /// port write with bit 0 clear). A VMM passes a vmm::device::event_fd_trigger and stops the VM when its eventfd
  /// becomes readable.
  // {} keeps designated initializers that omit this member free of -Wmissing-designated-field-initializers.
  // NOLINTNEXTLINE(readability-redundant-member-init)
  std::shared_ptr<vmm::device::interrupt_trigger> reset{};
  /// IRQ 1: raised when a byte reaches the output buffer while command byte bit 0 enables keyboard interrupts.
  // {} keeps designated initializers that omit this member free of -Wmissing-designated-field-initializers.
  // NOLINTNEXTLINE(readability-redundant-member-init)
  std::shared_ptr<vmm::device::interrupt_trigger> keyboard_interrupt{};
  /// The absolute port numbers the device answers on (it decodes base + offset, see i8042).
  std::uint16_t data_port = i8042_data_port;
  std::uint16_t command_port = i8042_command_port;  ///< see data_port
};

/// A snapshot of the controller's counters.
struct i8042_metrics {
  std::uint64_t reset_requests = 0;     ///< CPU-reset requests (each fired the reset trigger once)
  std::uint64_t missed_resets = 0;      ///< reset requests whose trigger() failed
  std::uint64_t unknown_commands = 0;   ///< controller commands the device does not implement (ignored)
  std::uint64_t interrupts = 0;         ///< keyboard interrupts raised
  std::uint64_t missed_interrupts = 0;  ///< keyboard interrupts whose trigger() failed
  std::uint64_t dropped_output = 0;     ///< bytes lost or refused because the output queue was full
  std::uint64_t invalid_accesses = 0;   ///< accesses not one byte wide or to another port (ignored, read as 0)
};

/// An i8042 keyboard controller. It decodes the absolute port `base + offset`, so a VMM may register it either on
/// one range [0x60, 0x65) or on two one-port ranges at 0x60 and 0x64; the two-range form is recommended, because
/// it leaves port 0x61 (system control port B, the PIT speaker gate Linux reads) to another device. Writes to the
/// data port that follow no parameterised command go to the keyboard, which answers 0xfa (ACK), 0xfa 0xaa for
/// reset (0xff), 0xfa 0xab 0x83 for identify (0xf2) and 0xee for echo (0xee). There is no mouse: boot Linux with
/// `i8042.noaux` to skip probing for one.
///
/// Thread safety: every member function may be called from any thread at once; triggers fire outside the lock.
class i8042 final : public vmm::device::bus_device {
 public:
  /// A controller after power-on: command byte 0x45 (keyboard interrupt, system flag, scancode translation).
  explicit i8042(i8042_options options = {});

  /// The guest reads the status register (command port) or the output buffer (data port).
  void read(vmm::device::bus_address base, std::uint64_t offset, std::span<std::byte> data) override;
  /// The guest writes a command (command port) or data (data port).
  void write(vmm::device::bus_address base, std::uint64_t offset, std::span<const std::byte> data) override;

  /// Host input: queues keyboard bytes (scancodes) as many as fit, raising IRQ 1 when the command byte enables it.
  /// Returns how many were queued. Errors: errc::keyboard_buffer_full when `bytes` is not empty and none fit.
  [[nodiscard]] auto enqueue_keyboard(std::span<const std::byte> bytes) -> vmm::result<std::size_t>;

  /// The counters so far.
  [[nodiscard]] auto metrics() const noexcept -> i8042_metrics;

 private:
  struct actions {
    bool interrupt = false;
    bool reset = false;
  };

  [[nodiscard]] auto status() const -> std::uint8_t;
  [[nodiscard]] auto run_command(std::uint8_t command) -> actions;
  [[nodiscard]] auto write_data(std::uint8_t value) -> actions;
  [[nodiscard]] auto keyboard_command(std::uint8_t value) -> actions;
  [[nodiscard]] auto output(std::uint8_t value) -> actions;
  [[nodiscard]] auto pop() -> std::uint8_t;
  void perform(actions what);

  std::shared_ptr<vmm::device::interrupt_trigger> reset_;
  std::shared_ptr<vmm::device::interrupt_trigger> keyboard_interrupt_;
  std::uint16_t data_port_;
  std::uint16_t command_port_;
  mutable std::mutex mutex_;
  std::uint8_t command_byte_;
  std::uint8_t output_port_;
  std::uint8_t pending_command_ = 0;  // a command waiting for its data byte, 0 when none
  bool last_write_was_command_ = false;
  std::array<std::uint8_t, i8042_output_queue_size> queue_{};
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::atomic<std::uint64_t> reset_requests_{0};
  std::atomic<std::uint64_t> missed_resets_{0};
  std::atomic<std::uint64_t> unknown_commands_{0};
  std::atomic<std::uint64_t> interrupts_{0};
  std::atomic<std::uint64_t> missed_interrupts_{0};
  std::atomic<std::uint64_t> dropped_output_{0};
  std::atomic<std::uint64_t> invalid_accesses_{0};
};

}  // namespace vmm::devices::legacy
