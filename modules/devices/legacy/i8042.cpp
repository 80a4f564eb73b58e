module vmm.devices.legacy;
import std;
import vmm.sys;
import vmm.device;

namespace vmm::devices::legacy {
namespace {

// Status register bits.
constexpr std::uint8_t status_output_full = 0x01;
constexpr std::uint8_t status_system_flag = 0x04;
constexpr std::uint8_t status_last_was_command = 0x08;
constexpr std::uint8_t status_not_inhibited = 0x10;

// Command byte bits.
constexpr std::uint8_t command_byte_keyboard_interrupt = 0x01;
constexpr std::uint8_t command_byte_system_flag = 0x04;
constexpr std::uint8_t command_byte_keyboard_disabled = 0x10;
constexpr std::uint8_t command_byte_aux_disabled = 0x20;
constexpr std::uint8_t command_byte_translate = 0x40;

constexpr std::uint8_t output_port_reset_inactive = 0x01;  // bit 0 low holds the CPU in reset
constexpr std::uint8_t output_port_a20 = 0x02;

constexpr std::uint8_t self_test_passed = 0x55;
constexpr std::uint8_t interface_ok = 0x00;
constexpr std::uint8_t aux_clock_stuck_low = 0x01;
constexpr std::uint8_t pulse_commands = 0xf0;  // 0xf0-0xff pulse output port bits 3:0 that are 0 in the command

// Keyboard commands and answers.
constexpr std::uint8_t keyboard_ack = 0xfa;
constexpr std::uint8_t keyboard_reset = 0xff;
constexpr std::uint8_t keyboard_self_test_passed = 0xaa;
constexpr std::uint8_t keyboard_identify = 0xf2;
constexpr std::array<std::uint8_t, 2> keyboard_id{0xab, 0x83};  // an MF2 keyboard
constexpr std::uint8_t keyboard_echo = 0xee;

}  // namespace

i8042::i8042(i8042_options options)
    : reset_{std::move(options.reset)},
      keyboard_interrupt_{std::move(options.keyboard_interrupt)},
      data_port_{options.data_port},
      command_port_{options.command_port},
      command_byte_{command_byte_keyboard_interrupt | command_byte_system_flag | command_byte_translate},
      output_port_{output_port_reset_inactive | output_port_a20} {
}

void i8042::read(vmm::device::bus_address base, std::uint64_t offset, std::span<std::byte> data) {
  const std::uint64_t port = base.value + offset;
  if (data.size() != 1 || (port != data_port_ && port != command_port_)) {
    std::ranges::fill(data, std::byte{0});
    invalid_accesses_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  actions what;
  {
    const std::scoped_lock lock{mutex_};
    if (port == command_port_) {
      data[0] = std::byte{status()};
      return;
    }
    data[0] = std::byte{pop()};
    // The next queued byte moves into the output buffer: a new keyboard interrupt.
    what.interrupt = count_ > 0 && (command_byte_ & command_byte_keyboard_interrupt) != 0;
  }
  perform(what);
}

void i8042::write(vmm::device::bus_address base, std::uint64_t offset, std::span<const std::byte> data) {
  const std::uint64_t port = base.value + offset;
  if (data.size() != 1 || (port != data_port_ && port != command_port_)) {
    invalid_accesses_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto value = std::to_integer<std::uint8_t>(data[0]);
  actions what;
  {
    const std::scoped_lock lock{mutex_};
    last_write_was_command_ = port == command_port_;
    what = last_write_was_command_ ? run_command(value) : write_data(value);
  }
  perform(what);
}

auto i8042::enqueue_keyboard(std::span<const std::byte> bytes) -> vmm::result<std::size_t> {
  if (bytes.empty()) {
    return 0;
  }
  std::size_t accepted = 0;
  actions what;
  {
    const std::scoped_lock lock{mutex_};
    accepted = std::min(i8042_output_queue_size - count_, bytes.size());
    for (const std::byte b : bytes.first(accepted)) {
      what.interrupt |= output(std::to_integer<std::uint8_t>(b)).interrupt;
    }
  }
  dropped_output_.fetch_add(bytes.size() - accepted, std::memory_order_relaxed);
  if (accepted == 0) {
    return vmm::failure(errc::keyboard_buffer_full);
  }
  perform(what);
  return accepted;
}

auto i8042::metrics() const noexcept -> i8042_metrics {
  return {
      .reset_requests = reset_requests_.load(std::memory_order_relaxed),
      .missed_resets = missed_resets_.load(std::memory_order_relaxed),
      .unknown_commands = unknown_commands_.load(std::memory_order_relaxed),
      .interrupts = interrupts_.load(std::memory_order_relaxed),
      .missed_interrupts = missed_interrupts_.load(std::memory_order_relaxed),
      .dropped_output = dropped_output_.load(std::memory_order_relaxed),
      .invalid_accesses = invalid_accesses_.load(std::memory_order_relaxed),
  };
}

auto i8042::status() const -> std::uint8_t {
  std::uint8_t value = status_not_inhibited;
  value |= count_ > 0 ? status_output_full : 0;
  value |= (command_byte_ & command_byte_system_flag) != 0 ? status_system_flag : 0;
  value |= last_write_was_command_ ? status_last_was_command : 0;
  return value;
}

auto i8042::run_command(std::uint8_t command) -> actions {
  namespace cmd = i8042_command;
  pending_command_ = 0;  // a new command abandons one still waiting for its data byte
  switch (command) {
    case cmd::read_command_byte:
      return output(command_byte_);
    case cmd::disable_aux:
      command_byte_ |= command_byte_aux_disabled;
      return {};
    case cmd::enable_aux:
      command_byte_ &= static_cast<std::uint8_t>(~command_byte_aux_disabled);
      return {};
    case cmd::aux_interface_test:
      return output(aux_clock_stuck_low);
    case cmd::self_test:
      command_byte_ |= command_byte_system_flag;
      return output(self_test_passed);
    case cmd::keyboard_interface_test:
      return output(interface_ok);
    case cmd::disable_keyboard:
      command_byte_ |= command_byte_keyboard_disabled;
      return {};
    case cmd::enable_keyboard:
      command_byte_ &= static_cast<std::uint8_t>(~command_byte_keyboard_disabled);
      return {};
    case cmd::read_output_port:
      return output(output_port_);
    case cmd::write_command_byte:
    case cmd::write_output_port:
    case cmd::write_keyboard_output:
    case cmd::write_aux_output:
    case cmd::write_aux:
      pending_command_ = command;
      return {};
    default:
      break;
  }
  if ((command & pulse_commands) == pulse_commands) {
    return {.reset = (command & output_port_reset_inactive) == 0};
  }
  unknown_commands_.fetch_add(1, std::memory_order_relaxed);
  return {};
}

auto i8042::write_data(std::uint8_t value) -> actions {
  namespace cmd = i8042_command;
  const std::uint8_t command = std::exchange(pending_command_, 0);
  switch (command) {
    case cmd::write_command_byte:
      command_byte_ = value;
      return {};
    case cmd::write_output_port:
      output_port_ = value;
      return {.reset = (value & output_port_reset_inactive) == 0};
    case cmd::write_keyboard_output:
      return output(value);
    case cmd::write_aux_output:
    case cmd::write_aux:
      return {};  // no auxiliary device to receive it
    default:
      return keyboard_command(value);
  }
}

auto i8042::keyboard_command(std::uint8_t value) -> actions {
  if (value == keyboard_echo) {
    return output(keyboard_echo);
  }
  actions what = output(keyboard_ack);
  if (value == keyboard_reset) {
    what.interrupt |= output(keyboard_self_test_passed).interrupt;
  } else if (value == keyboard_identify) {
    for (const std::uint8_t id : keyboard_id) {
      what.interrupt |= output(id).interrupt;
    }
  }
  return what;
}

auto i8042::output(std::uint8_t value) -> actions {
  if (count_ == i8042_output_queue_size) {
    dropped_output_.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  queue_.at((head_ + count_) % i8042_output_queue_size) = value;
  ++count_;
  return {.interrupt = (command_byte_ & command_byte_keyboard_interrupt) != 0};
}

auto i8042::pop() -> std::uint8_t {
  if (count_ == 0) {
    return 0;
  }
  const std::uint8_t value = queue_.at(head_);
  head_ = (head_ + 1) % i8042_output_queue_size;
  --count_;
  return value;
}

void i8042::perform(actions what) {
  if (what.reset) {
    reset_requests_.fetch_add(1, std::memory_order_relaxed);
    if (reset_ && !reset_->trigger()) {
      missed_resets_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (what.interrupt && keyboard_interrupt_) {
    if (keyboard_interrupt_->trigger()) {
      interrupts_.fetch_add(1, std::memory_order_relaxed);
    } else {
      missed_interrupts_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace vmm::devices::legacy
