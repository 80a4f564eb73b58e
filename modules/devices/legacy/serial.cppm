// vmm.devices.legacy:serial — a 16550A UART on eight I/O ports (COM1 at 0x3f8, IRQ 4), with the FIFO control
// register and a bounded 64-byte receive FIFO; output goes to a serial_output sink.
export module vmm.devices.legacy:serial;
import std;
import vmm.sys;
import vmm.device;

export namespace vmm::devices::legacy {

/// Register offsets inside the UART's eight-port range (the bus passes them as `offset`).
namespace serial_register {
/// RBR (read) / THR (write); DLL, the divisor latch's low byte, while LCR.DLAB is set.
inline constexpr std::uint64_t data = 0;
/// IER; DLM, the divisor latch's high byte, while LCR.DLAB is set.
inline constexpr std::uint64_t interrupt_enable = 1;
/// IIR (read) / FCR (write).
inline constexpr std::uint64_t interrupt_id = 2;
/// LCR (bit 7 is DLAB).
inline constexpr std::uint64_t line_control = 3;
/// MCR (bit 4 is loopback).
inline constexpr std::uint64_t modem_control = 4;
/// LSR (read only; writes are ignored).
inline constexpr std::uint64_t line_status = 5;
/// MSR (read only; reading clears the delta bits).
inline constexpr std::uint64_t modem_status = 6;
/// SCR, one byte of scratch storage.
inline constexpr std::uint64_t scratch = 7;
}  // namespace serial_register

/// How many ports the UART decodes (register it on a range of this size).
inline constexpr std::uint64_t serial_port_count = 8;
/// The first port of COM1, where Linux's 8250 driver and early console look first.
inline constexpr std::uint16_t com1_port = 0x3f8;
/// COM1's ISA interrupt line.
inline constexpr std::uint32_t com1_irq = 4;
/// The depth of the receive FIFO (bytes the host can queue before the guest reads).
inline constexpr std::size_t serial_fifo_size = 64;

/// Where the bytes the guest transmits go. write() is called with the device's lock held, from a vCPU thread: it
/// must not call back into the serial device and should not block (a blocked write stalls that vCPU).
class serial_output {
 public:
  serial_output() = default;
  serial_output(const serial_output&) = delete;
  auto operator=(const serial_output&) -> serial_output& = delete;
  serial_output(serial_output&&) = delete;
  auto operator=(serial_output&&) -> serial_output& = delete;
  virtual ~serial_output() = default;

  /// Takes `bytes`, all of them, or fails. The device counts a failure (serial_metrics::output_errors) and drops
  /// the bytes; it never retries.
  [[nodiscard]] virtual auto write(std::span<const std::byte> bytes) -> vmm::result<void> = 0;
};

/// A serial_output that writes to a file descriptor (a pipe, a pty, stdout, /dev/null). Give it a non-blocking fd
/// so a reader that stops reading cannot stall a vCPU: EAGAIN then drops the bytes and is counted.
class fd_output final : public serial_output {
 public:
  /// Writes to `fd`, which the caller keeps open for the sink's lifetime.
  explicit fd_output(vmm::sys::borrowed_fd fd) noexcept : fd_{fd} {}
  /// Writes to `fd` and closes it when the sink is destroyed.
  explicit fd_output(vmm::sys::unique_fd fd) noexcept : owned_{std::move(fd)}, fd_{owned_.borrow()} {}

  /// write(2) until every byte is taken, retrying EINTR and short writes. Errors: the write's errno (EAGAIN,
  /// EPIPE, EBADF, ...); errc::output_closed when write(2) returns 0.
  [[nodiscard]] auto write(std::span<const std::byte> bytes) -> vmm::result<void> override;

 private:
  vmm::sys::unique_fd owned_;
  vmm::sys::borrowed_fd fd_;
};

/// A serial_output that keeps the bytes in memory, up to a limit (for tests and for VMMs that log the console).
/// Thread-safe.
class memory_output final : public serial_output {
 public:
  /// The default limit: 1 MiB.
  static constexpr std::size_t default_limit = std::size_t{1} << 20U;

  /// Keeps at most `limit` bytes.
  explicit memory_output(std::size_t limit = default_limit) noexcept : limit_{limit} {}

  /// Appends what fits under the limit. Errors: errc::output_limit_reached when not all of `bytes` fit (the bytes
  /// that fit are kept).
  [[nodiscard]] auto write(std::span<const std::byte> bytes) -> vmm::result<void> override;

  /// A copy of the bytes written so far.
  [[nodiscard]] auto contents() const -> std::vector<std::byte>;
  /// The bytes written so far, as text.
  [[nodiscard]] auto text() const -> std::string;
  /// Forgets the bytes written so far.
  void clear();

 private:
  mutable std::mutex mutex_;
  std::vector<std::byte> bytes_;
  std::size_t limit_;
};

/// What the UART is connected to. Either may be null: no output (transmitted bytes are counted and dropped), no
/// interrupt line (a polling guest still works).
struct serial_options {
  // {} keeps designated initializers that omit this member free of -Wmissing-designated-field-initializers.
  // NOLINTNEXTLINE(readability-redundant-member-init)
  std::shared_ptr<serial_output> output{};  ///< where THR writes go
  // {} keeps designated initializers that omit this member free of -Wmissing-designated-field-initializers.
  // NOLINTNEXTLINE(readability-redundant-member-init)
  std::shared_ptr<vmm::device::interrupt_trigger> interrupt{};  ///< the UART's interrupt line (COM1: IRQ 4)
};

/// A snapshot of the UART's counters.
struct serial_metrics {
  std::uint64_t bytes_out = 0;          ///< transmitted bytes the output accepted
  std::uint64_t output_errors = 0;      ///< transmitted bytes dropped because the output failed
  std::uint64_t bytes_in = 0;           ///< host bytes accepted into the receive FIFO (enqueue_input)
  std::uint64_t dropped_input = 0;      ///< host bytes refused because the receive FIFO was full
  std::uint64_t overruns = 0;           ///< loopback bytes lost because the receive FIFO was full (LSR.OE)
  std::uint64_t interrupts = 0;         ///< interrupts raised (trigger() succeeded)
  std::uint64_t missed_interrupts = 0;  ///< interrupts lost because trigger() failed
  std::uint64_t invalid_accesses = 0;   ///< accesses not one byte wide or beyond offset 7 (ignored, read as 0)
};

/// A 16550A UART. Registers at offsets 0-7 of its range (serial_register); accesses must be one byte wide, others
/// read as zero and are ignored (and counted). Transmission is immediate: every THR write goes to the output at
/// once, so LSR.THRE and LSR.TEMT always read 1 and a THR-empty interrupt follows every THR write while IER
/// enables it. The receive FIFO holds serial_fifo_size bytes whether or not FCR enables FIFOs (a 16450 holds one;
/// keeping 64 never loses host input); FCR controls the IIR FIFO bits, the trigger level, and clears the FIFO.
///
/// Interrupt identification follows the 16550's priorities: receiver line status (overrun, IIR 0x06) > received
/// data (IIR 0x04 at or above the trigger level, else the character-timeout code 0x0C: no time passes in the
/// model, so bytes below the trigger level are reported as timed out at once) > THR empty (IIR 0x02, cleared by
/// reading IIR while it is the reported source, or by writing THR) > modem status (IIR 0x00). With FIFOs enabled
/// IIR bits 7:6 read 0b11.
///
/// Thread safety: every member function may be called from any thread at once; the device locks its state. The
/// output is written under that lock, the interrupt is triggered after it is released.
class serial final : public vmm::device::bus_device {
 public:
  /// A UART in its reset state (8N1, divisor 12 = 9600 baud, MCR.OUT2 set, MSR with CTS, DSR and DCD asserted).
  explicit serial(serial_options options = {});

  /// The guest reads register `offset`.
  void read(vmm::device::bus_address base, std::uint64_t offset, std::span<std::byte> data) override;
  /// The guest writes register `offset`.
  void write(vmm::device::bus_address base, std::uint64_t offset, std::span<const std::byte> data) override;

  /// Host input: queues as many of `bytes` as the receive FIFO has room for and returns how many that was (all of
  /// them, or fewer when the FIFO filled up: the rest are the caller's to retry after the guest reads). Raises the
  /// interrupt when bytes were queued and IER enables received-data interrupts. Errors: errc::receive_fifo_full
  /// when `bytes` is not empty and not one byte fits (the refused bytes count as serial_metrics::dropped_input).
  [[nodiscard]] auto enqueue_input(std::span<const std::byte> bytes) -> vmm::result<std::size_t>;

  /// How many bytes enqueue_input would accept now.
  [[nodiscard]] auto input_space() const -> std::size_t;

  /// The counters so far.
  [[nodiscard]] auto metrics() const noexcept -> serial_metrics;

 private:
  struct registers {
    std::uint8_t ier = 0;
    std::uint8_t lcr = 0;
    std::uint8_t mcr = 0;
    std::uint8_t msr = 0;
    std::uint8_t scr = 0;
    std::uint8_t dll = 0;
    std::uint8_t dlm = 0;
    std::uint8_t trigger_level = 1;
    bool fifo_enabled = false;
    bool overrun = false;
    bool thre_pending = false;
    std::array<std::uint8_t, serial_fifo_size> fifo{};
    std::size_t head = 0;
    std::size_t count = 0;
  };

  [[nodiscard]] auto read_register(std::uint64_t offset) -> std::uint8_t;
  [[nodiscard]] auto write_register(std::uint64_t offset, std::uint8_t value) -> bool;
  [[nodiscard]] auto transmit(std::uint8_t value) -> bool;
  [[nodiscard]] auto write_ier(std::uint8_t value) -> bool;
  void write_fcr(std::uint8_t value);
  [[nodiscard]] auto write_mcr(std::uint8_t value) -> bool;
  [[nodiscard]] auto identify() const -> std::uint8_t;
  [[nodiscard]] auto push(std::uint8_t value) -> bool;
  [[nodiscard]] auto pop() -> std::uint8_t;
  void raise_interrupt();

  std::shared_ptr<serial_output> output_;
  std::shared_ptr<vmm::device::interrupt_trigger> interrupt_;
  mutable std::mutex mutex_;
  registers regs_;
  std::atomic<std::uint64_t> bytes_out_{0};
  std::atomic<std::uint64_t> output_errors_{0};
  std::atomic<std::uint64_t> bytes_in_{0};
  std::atomic<std::uint64_t> dropped_input_{0};
  std::atomic<std::uint64_t> overruns_{0};
  std::atomic<std::uint64_t> interrupts_{0};
  std::atomic<std::uint64_t> missed_interrupts_{0};
  std::atomic<std::uint64_t> invalid_accesses_{0};
};

}  // namespace vmm::devices::legacy
