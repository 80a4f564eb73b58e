// Fuzzes vmm.devices.legacy's three devices with guest register accesses from the input, interleaved with host
// input. Each operation is one input byte choosing what happens, followed by its operands:
//   serial read/write at any offset (0-9: the eight registers and two beyond), host enqueue of 0-79 bytes, a
//   wide (0-8 byte) access; i8042 read/write at ports 0x60-0x65, host keyboard bytes; RTC index/data/other
//   offsets. A small model of the serial receive FIFO (its count, DLAB, loopback, FIFO enable) tracks what the
//   guest did, and every outcome is checked:
//   - the receive FIFO never holds more than 64 bytes, input_space() equals 64 minus the model's count, and
//     enqueue_input accepts exactly min(room, n) bytes, failing with receive_fifo_full only when there is no room;
//   - LSR always has THRE and TEMT, DR exactly when the model holds bytes; IIR bits 7:6 say FIFOs enabled exactly
//     when FCR enabled them and bits 3:0 are one of the 16550's six codes; RBR returns bytes in FIFO order;
//   - every THR write outside loopback reaches the output or is counted as an output error; no trigger fails;
//   - the i8042 never reports IBF, and fires the reset trigger exactly once per counted reset request;
//   - the RTC's time registers are valid BCD in BCD mode, register A's UIP bit is clear, register D reads 0x80.
// A mismatch calls __builtin_trap().
#include <cstddef>
#include <cstdint>

import std;
import vmm.sys;
import vmm.device;
import vmm.devices.legacy;

namespace {

namespace legacy = vmm::devices::legacy;

constexpr int max_operations = 256;
constexpr std::size_t fifo = legacy::serial_fifo_size;

[[noreturn]] void mismatch(std::string_view what) {
  std::println(std::cerr, "serial_fuzz: {}", what);
  __builtin_trap();
}

void check(bool ok, std::string_view what) {
  if (!ok) [[unlikely]] {
    mismatch(what);
  }
}

class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : bytes_{data, size} {}
  [[nodiscard]] auto empty() const -> bool { return bytes_.empty(); }
  auto u8() -> std::uint8_t {
    if (bytes_.empty()) {
      return 0;
    }
    const std::uint8_t b = bytes_.front();
    bytes_ = bytes_.subspan(1);
    return b;
  }

 private:
  std::span<const std::uint8_t> bytes_;
};

class counting_trigger final : public vmm::device::interrupt_trigger {
 public:
  [[nodiscard]] auto trigger() -> vmm::result<void> override {
    ++calls;
    return {};
  }
  std::uint64_t calls = 0;
};

auto in(vmm::device::bus_device& d, std::uint64_t base, std::uint64_t offset) -> std::uint8_t {
  std::array<std::byte, 1> data{std::byte{0xee}};
  d.read(vmm::device::bus_address{base}, offset, data);
  return std::to_integer<std::uint8_t>(data[0]);
}

void out(vmm::device::bus_device& d, std::uint64_t base, std::uint64_t offset, std::uint8_t value) {
  const std::array data{std::byte{value}};
  d.write(vmm::device::bus_address{base}, offset, data);
}

auto is_bcd(std::uint8_t v) -> bool {
  return (v & 0x0fU) <= 9 && (v >> 4U) <= 9;
}

struct rig {
  std::shared_ptr<legacy::memory_output> output = std::make_shared<legacy::memory_output>(512);
  std::shared_ptr<counting_trigger> irq = std::make_shared<counting_trigger>();
  std::shared_ptr<counting_trigger> reset = std::make_shared<counting_trigger>();
  std::shared_ptr<counting_trigger> kbd = std::make_shared<counting_trigger>();
  std::shared_ptr<legacy::fixed_time_source> clock =
      std::make_shared<legacy::fixed_time_source>(std::chrono::system_clock::time_point{});
  legacy::serial uart{{.output = output, .interrupt = irq}};
  legacy::i8042 kbc{{.reset = reset, .keyboard_interrupt = kbd}};
  legacy::rtc cmos{{.clock = clock}};
  // The model of the serial receive side.
  std::deque<std::uint8_t> model_fifo;
  std::uint8_t lcr = 0x03;
  std::uint8_t mcr = 0x08;
  bool fifo_enabled = false;
  std::uint64_t transmitted = 0;
  std::uint8_t next_input = 0;
};

void serial_read(input& in_, rig& r) {
  const std::uint64_t offset = in_.u8() % 10U;
  const std::uint8_t value = in(r.uart, legacy::com1_port, offset);
  const bool dlab = (r.lcr & 0x80U) != 0;
  if (offset == 0 && !dlab) {
    if (r.model_fifo.empty()) {
      check(value == 0, "RBR of an empty FIFO is not 0");
    } else {
      check(value == r.model_fifo.front(), "RBR out of FIFO order");
      r.model_fifo.pop_front();
    }
  } else if (offset == 2) {
    check((value & 0xc0U) == (r.fifo_enabled ? 0xc0U : 0U), "IIR FIFO bits disagree with FCR");
    const std::uint8_t id = value & 0x0fU;
    check(id == 0x01 || id == 0x06 || id == 0x04 || id == 0x0c || id == 0x02 || id == 0x00, "IIR code");
    check((value & 0x30U) == 0, "IIR reserved bits set");
  } else if (offset == 5) {
    check((value & 0x60U) == 0x60U, "LSR lost THRE/TEMT");
    check(((value & 0x01U) != 0) == !r.model_fifo.empty(), "LSR.DR disagrees with the FIFO");
  } else if (offset >= legacy::serial_port_count) {
    check(value == 0, "read beyond the registers is not 0");
  }
}

void serial_write(input& in_, rig& r) {
  const std::uint64_t offset = in_.u8() % 10U;
  const std::uint8_t value = in_.u8();
  out(r.uart, legacy::com1_port, offset, value);
  const bool dlab = (r.lcr & 0x80U) != 0;
  switch (offset) {
    case 0:
      if (dlab) {
        break;
      }
      if ((r.mcr & 0x10U) != 0) {
        if (r.model_fifo.size() < fifo) {
          r.model_fifo.push_back(value);
        }
      } else {
        ++r.transmitted;
      }
      break;
    case 2: {
      const bool enable = (value & 0x01U) != 0;
      if (enable != r.fifo_enabled || (enable && (value & 0x02U) != 0)) {
        r.model_fifo.clear();
      }
      r.fifo_enabled = enable;
      break;
    }
    case 3:
      r.lcr = value;
      break;
    case 4:
      r.mcr = value & 0x1fU;
      break;
    default:
      break;
  }
}

void serial_enqueue(input& in_, rig& r) {
  const std::size_t n = in_.u8() % 80U;
  std::vector<std::byte> bytes(n);
  for (auto& b : bytes) {
    b = std::byte{r.next_input++};
  }
  const std::size_t room = fifo - r.model_fifo.size();
  const auto accepted = r.uart.enqueue_input(bytes);
  if (n > 0 && room == 0) {
    check(accepted.error_or({}) == make_error_code(legacy::errc::receive_fifo_full), "full FIFO not refused");
    return;
  }
  check(accepted.has_value() && *accepted == std::min(room, n), "enqueue accepted the wrong count");
  for (std::size_t i = 0; i < *accepted; ++i) {
    r.model_fifo.push_back(std::to_integer<std::uint8_t>(bytes[i]));
  }
}

void wide_access(input& in_, rig& r) {
  const std::size_t size = in_.u8() % 9U;
  const std::uint64_t offset = in_.u8() % 8U;
  std::vector<std::byte> data(size, std::byte{0xee});
  std::array<vmm::device::bus_device*, 3> devices{&r.uart, &r.kbc, &r.cmos};
  auto& device = *devices.at(in_.u8() % 3U);
  const std::uint64_t base = &device == &r.kbc ? legacy::i8042_data_port : 0;
  if (size == 1) {
    return;  // a plain access: the other operations cover it with a model
  }
  device.read(vmm::device::bus_address{base}, offset, data);
  check(std::ranges::all_of(data, [](std::byte b) { return b == std::byte{0}; }), "wide read not zero");
  device.write(vmm::device::bus_address{base}, offset, data);
}

void i8042_op(input& in_, rig& r, bool write) {
  const std::uint64_t port = legacy::i8042_data_port + (in_.u8() % 6U);
  if (write) {
    out(r.kbc, port, 0, in_.u8());
    return;
  }
  const std::uint8_t value = in(r.kbc, port, 0);
  if (port == legacy::i8042_command_port) {
    check((value & 0x02U) == 0, "i8042 reports its input buffer full");
  }
}

void i8042_keys(input& in_, rig& r) {
  const std::size_t n = in_.u8() % 24U;
  const std::vector<std::byte> keys(n, std::byte{0x1e});
  static_cast<void>(r.kbc.enqueue_keyboard(keys));
}

void rtc_op(input& in_, rig& r, bool write) {
  const std::uint64_t offset = in_.u8() % 3U;
  if (write) {
    out(r.cmos, 0, offset, in_.u8());
    return;
  }
  if (offset != 1) {
    static_cast<void>(in(r.cmos, 0, offset));
    return;
  }
  out(r.cmos, 0, 0, legacy::rtc_register::status_b);
  const bool binary = (in(r.cmos, 0, 1) & 0x04U) != 0;
  const bool twelve_hour = (in(r.cmos, 0, 1) & 0x02U) == 0;
  const std::uint8_t index = in_.u8() & 0x7fU;
  out(r.cmos, 0, 0, index);
  std::uint8_t value = in(r.cmos, 0, 1);
  if (index == legacy::rtc_register::hours && twelve_hour) {
    value &= 0x7fU;
  }
  const bool time_register = index == 0 || index == 2 || index == 4 || (index >= 6 && index <= 9) || index == 0x32;
  if (time_register && !binary) {
    check(is_bcd(value), "RTC time register is not BCD");
  }
  check(index != legacy::rtc_register::status_a || (value & 0x80U) == 0, "RTC update in progress");
  check(index != legacy::rtc_register::status_d || value == 0x80U, "RTC register D");
}

void check_invariants(rig& r) {
  check(r.uart.input_space() <= fifo, "input space beyond the FIFO");
  check(r.uart.input_space() == fifo - r.model_fifo.size(), "FIFO count disagrees with the model");
  const auto m = r.uart.metrics();
  check(m.bytes_out + m.output_errors == r.transmitted, "a transmitted byte vanished");
  check(m.missed_interrupts == 0 && m.interrupts == r.irq->calls, "serial interrupts miscounted");
  const auto k = r.kbc.metrics();
  check(k.reset_requests == r.reset->calls && k.missed_resets == 0, "reset trigger count");
}

}  // namespace

extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) -> int {
  input in_{data, size};
  rig r;
  r.clock->set(std::chrono::system_clock::time_point{std::chrono::seconds{static_cast<std::int64_t>(in_.u8()) << 24U}});
  for (int i = 0; i < max_operations && !in_.empty(); ++i) {
    switch (in_.u8() % 10U) {
      case 0:
        serial_read(in_, r);
        break;
      case 1:
        serial_write(in_, r);
        break;
      case 2:
        serial_enqueue(in_, r);
        break;
      case 3:
        wide_access(in_, r);
        break;
      case 4:
        i8042_op(in_, r, false);
        break;
      case 5:
        i8042_op(in_, r, true);
        break;
      case 6:
        i8042_keys(in_, r);
        break;
      case 7:
        rtc_op(in_, r, false);
        break;
      case 8:
        rtc_op(in_, r, true);
        break;
      default:
        r.clock->set(r.clock->now() + std::chrono::hours{in_.u8()});
        break;
    }
    check_invariants(r);
  }
  return 0;
}
