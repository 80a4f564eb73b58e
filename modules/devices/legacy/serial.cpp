module;
#include <cerrno>
module vmm.devices.legacy;
import std;
import vmm.sys;
import vmm.device;

namespace vmm::devices::legacy {
namespace {

// IER bits.
constexpr std::uint8_t ier_received_data = 0x01;
constexpr std::uint8_t ier_thr_empty = 0x02;
constexpr std::uint8_t ier_line_status = 0x04;
constexpr std::uint8_t ier_modem_status = 0x08;
constexpr std::uint8_t ier_mask = 0x0f;  // bits 7:4 are reserved on a 16550A and read 0

// IIR values (bits 3:0) and the FIFO-enabled bits 7:6.
constexpr std::uint8_t iir_none = 0x01;
constexpr std::uint8_t iir_line_status = 0x06;
constexpr std::uint8_t iir_received_data = 0x04;
constexpr std::uint8_t iir_character_timeout = 0x0c;
constexpr std::uint8_t iir_thr_empty = 0x02;
constexpr std::uint8_t iir_modem_status = 0x00;
constexpr std::uint8_t iir_fifo_enabled = 0xc0;
constexpr std::uint8_t iir_id_mask = 0x0f;

// FCR bits.
constexpr std::uint8_t fcr_enable = 0x01;
constexpr std::uint8_t fcr_clear_receive = 0x02;
constexpr unsigned fcr_trigger_shift = 6;
constexpr std::array<std::uint8_t, 4> trigger_levels{1, 4, 8, 14};

// LCR, MCR, LSR, MSR bits.
constexpr std::uint8_t lcr_dlab = 0x80;
constexpr std::uint8_t lcr_default = 0x03;  // 8 data bits, no parity, one stop bit
constexpr std::uint8_t mcr_dtr = 0x01;
constexpr std::uint8_t mcr_rts = 0x02;
constexpr std::uint8_t mcr_out1 = 0x04;
constexpr std::uint8_t mcr_out2 = 0x08;
constexpr std::uint8_t mcr_loop = 0x10;
constexpr std::uint8_t mcr_mask = 0x1f;
constexpr std::uint8_t lsr_data_ready = 0x01;
constexpr std::uint8_t lsr_overrun = 0x02;
constexpr std::uint8_t lsr_thr_empty = 0x20;
constexpr std::uint8_t lsr_transmitter_empty = 0x40;
constexpr std::uint8_t msr_dcts = 0x01;
constexpr std::uint8_t msr_ddsr = 0x02;
constexpr std::uint8_t msr_teri = 0x04;
constexpr std::uint8_t msr_ddcd = 0x08;
constexpr std::uint8_t msr_deltas = 0x0f;
constexpr std::uint8_t msr_cts = 0x10;
constexpr std::uint8_t msr_dsr = 0x20;
constexpr std::uint8_t msr_ri = 0x40;
constexpr std::uint8_t msr_dcd = 0x80;
constexpr std::uint8_t msr_connected = msr_dcd | msr_dsr | msr_cts;  // a peer that is always there
constexpr std::uint8_t divisor_9600_baud = 12;                       // 115200 / 9600

// The modem status lines MCR drives in loopback mode: RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD.
constexpr auto looped_lines(std::uint8_t mcr) -> std::uint8_t {
  std::uint8_t lines = 0;
  lines |= (mcr & mcr_rts) != 0 ? msr_cts : 0;
  lines |= (mcr & mcr_dtr) != 0 ? msr_dsr : 0;
  lines |= (mcr & mcr_out1) != 0 ? msr_ri : 0;
  lines |= (mcr & mcr_out2) != 0 ? msr_dcd : 0;
  return lines;
}

// The MSR after the lines change to `lines`: new status bits, delta bits accumulated (RI's only on a trailing edge).
constexpr auto with_lines(std::uint8_t msr, std::uint8_t lines) -> std::uint8_t {
  const auto changed = static_cast<std::uint8_t>(msr ^ lines);
  auto deltas = static_cast<std::uint8_t>(msr & msr_deltas);
  deltas |= (changed & msr_cts) != 0 ? msr_dcts : 0;
  deltas |= (changed & msr_dsr) != 0 ? msr_ddsr : 0;
  deltas |= ((changed & msr_ri) != 0 && (lines & msr_ri) == 0) ? msr_teri : 0;
  deltas |= (changed & msr_dcd) != 0 ? msr_ddcd : 0;
  return static_cast<std::uint8_t>(lines | deltas);
}

}  // namespace

auto fd_output::write(std::span<const std::byte> bytes) -> vmm::result<void> {
  while (!bytes.empty()) {
    const auto written = vmm::sys::write(fd_, bytes);
    if (!written) {
      if (written.error() == std::error_code{EINTR, std::system_category()}) {
        continue;
      }
      return std::unexpected(written.error());
    }
    if (*written == 0) {
      return vmm::failure(errc::output_closed);
    }
    bytes = bytes.subspan(*written);
  }
  return {};
}

auto memory_output::write(std::span<const std::byte> bytes) -> vmm::result<void> {
  const std::scoped_lock lock{mutex_};
  const std::size_t room = limit_ - bytes_.size();
  const std::size_t taken = std::min(room, bytes.size());
  bytes_.insert(bytes_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(taken));
  if (taken < bytes.size()) {
    return vmm::failure(errc::output_limit_reached);
  }
  return {};
}

auto memory_output::contents() const -> std::vector<std::byte> {
  const std::scoped_lock lock{mutex_};
  return bytes_;
}

auto memory_output::text() const -> std::string {
  const std::scoped_lock lock{mutex_};
  std::string text(bytes_.size(), '\0');
  std::ranges::transform(bytes_, text.begin(), [](std::byte b) { return static_cast<char>(b); });
  return text;
}

void memory_output::clear() {
  const std::scoped_lock lock{mutex_};
  bytes_.clear();
}

serial::serial(serial_options options) : output_{std::move(options.output)}, interrupt_{std::move(options.interrupt)} {
  regs_.lcr = lcr_default;
  regs_.mcr = mcr_out2;
  regs_.msr = msr_connected;
  regs_.dll = divisor_9600_baud;
}

void serial::read(vmm::device::bus_address /*base*/, std::uint64_t offset, std::span<std::byte> data) {
  if (data.size() != 1 || offset >= serial_port_count) {
    std::ranges::fill(data, std::byte{0});
    invalid_accesses_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::scoped_lock lock{mutex_};
  data[0] = std::byte{read_register(offset)};
}

void serial::write(vmm::device::bus_address /*base*/, std::uint64_t offset, std::span<const std::byte> data) {
  if (data.size() != 1 || offset >= serial_port_count) {
    invalid_accesses_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  bool raise = false;
  {
    const std::scoped_lock lock{mutex_};
    raise = write_register(offset, std::to_integer<std::uint8_t>(data[0]));
  }
  if (raise) {
    raise_interrupt();
  }
}

auto serial::enqueue_input(std::span<const std::byte> bytes) -> vmm::result<std::size_t> {
  if (bytes.empty()) {
    return 0;
  }
  std::size_t accepted = 0;
  bool raise = false;
  {
    const std::scoped_lock lock{mutex_};
    accepted = std::min(serial_fifo_size - regs_.count, bytes.size());
    for (const std::byte b : bytes.first(accepted)) {
      static_cast<void>(push(std::to_integer<std::uint8_t>(b)));
    }
    raise = accepted > 0 && (regs_.ier & ier_received_data) != 0;
  }
  bytes_in_.fetch_add(accepted, std::memory_order_relaxed);
  dropped_input_.fetch_add(bytes.size() - accepted, std::memory_order_relaxed);
  if (accepted == 0) {
    return vmm::failure(errc::receive_fifo_full);
  }
  if (raise) {
    raise_interrupt();
  }
  return accepted;
}

auto serial::input_space() const -> std::size_t {
  const std::scoped_lock lock{mutex_};
  return serial_fifo_size - regs_.count;
}

auto serial::metrics() const noexcept -> serial_metrics {
  return {
      .bytes_out = bytes_out_.load(std::memory_order_relaxed),
      .output_errors = output_errors_.load(std::memory_order_relaxed),
      .bytes_in = bytes_in_.load(std::memory_order_relaxed),
      .dropped_input = dropped_input_.load(std::memory_order_relaxed),
      .overruns = overruns_.load(std::memory_order_relaxed),
      .interrupts = interrupts_.load(std::memory_order_relaxed),
      .missed_interrupts = missed_interrupts_.load(std::memory_order_relaxed),
      .invalid_accesses = invalid_accesses_.load(std::memory_order_relaxed),
  };
}

auto serial::read_register(std::uint64_t offset) -> std::uint8_t {
  const bool dlab = (regs_.lcr & lcr_dlab) != 0;
  switch (offset) {
    case serial_register::data:
      return dlab ? regs_.dll : pop();
    case serial_register::interrupt_enable:
      return dlab ? regs_.dlm : regs_.ier;
    case serial_register::interrupt_id: {
      const std::uint8_t iir = identify();
      if ((iir & iir_id_mask) == iir_thr_empty) {
        regs_.thre_pending = false;  // reading IIR acknowledges a THR-empty interrupt it reports
      }
      return iir;
    }
    case serial_register::line_control:
      return regs_.lcr;
    case serial_register::modem_control:
      return regs_.mcr;
    case serial_register::line_status: {
      std::uint8_t lsr = lsr_thr_empty | lsr_transmitter_empty;
      lsr |= regs_.count > 0 ? lsr_data_ready : 0;
      lsr |= regs_.overrun ? lsr_overrun : 0;
      regs_.overrun = false;  // reading LSR clears the error bits
      return lsr;
    }
    case serial_register::modem_status: {
      const std::uint8_t msr = regs_.msr;
      regs_.msr &= static_cast<std::uint8_t>(~msr_deltas);
      return msr;
    }
    default:
      return regs_.scr;
  }
}

auto serial::write_register(std::uint64_t offset, std::uint8_t value) -> bool {
  const bool dlab = (regs_.lcr & lcr_dlab) != 0;
  switch (offset) {
    case serial_register::data:
      if (dlab) {
        regs_.dll = value;
        return false;
      }
      return transmit(value);
    case serial_register::interrupt_enable:
      if (dlab) {
        regs_.dlm = value;
        return false;
      }
      return write_ier(value);
    case serial_register::interrupt_id:
      write_fcr(value);
      return false;
    case serial_register::line_control:
      regs_.lcr = value;
      return false;
    case serial_register::modem_control:
      return write_mcr(value);
    case serial_register::line_status:
    case serial_register::modem_status:
      return false;  // read-only (factory test registers on real parts)
    default:
      regs_.scr = value;
      return false;
  }
}

auto serial::transmit(std::uint8_t value) -> bool {
  bool raise = false;
  if ((regs_.mcr & mcr_loop) != 0) {
    if (push(value)) {
      raise = (regs_.ier & ier_received_data) != 0;
    } else {
      regs_.overrun = true;
      overruns_.fetch_add(1, std::memory_order_relaxed);
      raise = (regs_.ier & ier_line_status) != 0;
    }
  } else if (output_) {
    const std::array bytes{std::byte{value}};
    if (output_->write(bytes)) {
      bytes_out_.fetch_add(1, std::memory_order_relaxed);
    } else {
      output_errors_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // The byte left at once: THR is empty again, which is a new THR-empty interrupt.
  regs_.thre_pending = true;
  return raise || (regs_.ier & ier_thr_empty) != 0;
}

auto serial::write_ier(std::uint8_t value) -> bool {
  const auto enabled = static_cast<std::uint8_t>(value & ier_mask & ~regs_.ier);
  regs_.ier = value & ier_mask;
  bool raise = false;
  if ((enabled & ier_thr_empty) != 0) {
    regs_.thre_pending = true;  // a 16550 raises THR empty when the interrupt is enabled while THR is empty
    raise = true;
  }
  raise |= (enabled & ier_received_data) != 0 && regs_.count > 0;
  raise |= (enabled & ier_line_status) != 0 && regs_.overrun;
  raise |= (enabled & ier_modem_status) != 0 && (regs_.msr & msr_deltas) != 0;
  return raise;
}

void serial::write_fcr(std::uint8_t value) {
  const bool enable = (value & fcr_enable) != 0;
  if (enable != regs_.fifo_enabled) {
    regs_.fifo_enabled = enable;
    regs_.count = 0;  // switching FIFO mode resets the FIFOs
    regs_.head = 0;
  }
  if (!enable) {
    return;  // the other bits only take effect with bit 0 set
  }
  if ((value & fcr_clear_receive) != 0) {
    regs_.count = 0;
    regs_.head = 0;
  }
  // Bit 2 clears the transmit FIFO, which is always empty here; bit 3 (DMA mode) has no effect.
  regs_.trigger_level = trigger_levels.at(value >> fcr_trigger_shift);
}

auto serial::write_mcr(std::uint8_t value) -> bool {
  const std::uint8_t old_msr = regs_.msr;
  regs_.mcr = value & mcr_mask;
  const std::uint8_t lines = (regs_.mcr & mcr_loop) != 0 ? looped_lines(regs_.mcr) : msr_connected;
  regs_.msr = with_lines(regs_.msr, lines);
  const bool new_deltas = (regs_.msr & msr_deltas & ~old_msr) != 0;
  return new_deltas && (regs_.ier & ier_modem_status) != 0;
}

auto serial::identify() const -> std::uint8_t {
  const std::uint8_t fifo_bits = regs_.fifo_enabled ? iir_fifo_enabled : 0;
  std::uint8_t id = iir_none;
  if ((regs_.ier & ier_line_status) != 0 && regs_.overrun) {
    id = iir_line_status;
  } else if ((regs_.ier & ier_received_data) != 0 && regs_.count > 0) {
    const std::size_t level = regs_.fifo_enabled ? regs_.trigger_level : 1;
    id = regs_.count >= level ? iir_received_data : iir_character_timeout;
  } else if ((regs_.ier & ier_thr_empty) != 0 && regs_.thre_pending) {
    id = iir_thr_empty;
  } else if ((regs_.ier & ier_modem_status) != 0 && (regs_.msr & msr_deltas) != 0) {
    id = iir_modem_status;
  }
  return static_cast<std::uint8_t>(fifo_bits | id);
}

auto serial::push(std::uint8_t value) -> bool {
  if (regs_.count == serial_fifo_size) {
    return false;
  }
  regs_.fifo.at((regs_.head + regs_.count) % serial_fifo_size) = value;
  ++regs_.count;
  return true;
}

auto serial::pop() -> std::uint8_t {
  if (regs_.count == 0) {
    return 0;
  }
  const std::uint8_t value = regs_.fifo.at(regs_.head);
  regs_.head = (regs_.head + 1) % serial_fifo_size;
  --regs_.count;
  return value;
}

void serial::raise_interrupt() {
  if (!interrupt_) {
    return;
  }
  if (interrupt_->trigger()) {
    interrupts_.fetch_add(1, std::memory_order_relaxed);
  } else {
    missed_interrupts_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace vmm::devices::legacy
