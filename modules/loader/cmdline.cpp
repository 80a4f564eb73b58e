module vmm.loader;
import std;
import vmm.sys;
import vmm.memory;

namespace vmm::loader {
namespace {

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = kib * kib;
constexpr std::string_view init_separator = " -- ";

[[nodiscard]] auto is_control(char c) -> bool {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

[[nodiscard]] auto first_control(std::string_view text) -> std::optional<std::size_t> {
  const auto* it = std::ranges::find_if(text, is_control);
  if (it == text.end()) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(it - text.begin());
}

[[nodiscard]] auto size_text(std::uint64_t size) -> std::string {
  if (size % mib == 0) {
    return std::format("{}M", size / mib);
  }
  if (size % kib == 0) {
    return std::format("{}K", size / kib);
  }
  return std::format("{}", size);
}

}  // namespace

auto cmdline::fail(errc e, std::string detail) -> std::unexpected<std::error_code> {
  detail_ = std::move(detail);
  return failure(e);
}

auto cmdline::size() const noexcept -> std::size_t {
  if (init_args_.empty()) {
    return parameters_.size();
  }
  return parameters_.size() + init_separator.size() + init_args_.size();
}

auto cmdline::str() const -> std::string {
  if (init_args_.empty()) {
    return parameters_;
  }
  return std::format("{}{}{}", parameters_, init_separator, init_args_);
}

auto cmdline::bytes_with_nul() const -> std::vector<std::byte> {
  const std::string text = str();
  std::vector<std::byte> bytes(text.size() + 1);
  std::memcpy(bytes.data(), text.data(), text.size());
  return bytes;
}

auto cmdline::append_parameter(std::string text) -> result<void> {
  // With init arguments present the line reads "<parameters> -- <init>"; without, a space separates parameters.
  const std::size_t added = text.size() + (parameters_.empty() ? 0 : 1);
  if (added > capacity_ - std::min(capacity_, size())) {
    return fail(errc::cmdline_too_long,
                std::format("adding {:?} makes {} characters, the capacity is {}", text, size() + added, capacity_));
  }
  if (!parameters_.empty()) {
    parameters_ += ' ';
  }
  parameters_ += text;
  detail_.clear();
  return {};
}

auto cmdline::check_key(std::string_view key) -> result<void> {
  if (key.empty()) {
    return fail(errc::cmdline_bad_key, "the key is empty");
  }
  if (const auto at = first_control(key)) {
    return fail(errc::cmdline_invalid_character,
                std::format("key {:?} has control character {:#04x} at {}", key, key[*at], *at));
  }
  if (key.find_first_of(" =\"") != std::string_view::npos) {
    return fail(errc::cmdline_bad_key, std::format("key {:?} holds a space, '=' or '\"'", key));
  }
  return {};
}

auto cmdline::insert_flag(std::string_view flag) -> result<void> {
  if (auto checked = check_key(flag); !checked) {
    return checked;
  }
  return append_parameter(std::string{flag});
}

auto cmdline::insert(std::string_view key, std::string_view value) -> result<void> {
  if (auto checked = check_key(key); !checked) {
    return checked;
  }
  if (const auto at = first_control(value)) {
    return fail(errc::cmdline_invalid_character,
                std::format("value {:?} has control character {:#04x} at {}", value, value[*at], *at));
  }
  if (value.find('"') != std::string_view::npos) {
    return fail(errc::cmdline_quote_in_value, std::format("value {:?} of {:?} holds a double quote", value, key));
  }
  if (value.find(' ') != std::string_view::npos) {
    return append_parameter(std::format("{}=\"{}\"", key, value));
  }
  return append_parameter(std::format("{}={}", key, value));
}

auto cmdline::insert(std::string_view key, std::uint64_t value) -> result<void> {
  return insert(key, std::to_string(value));
}

auto cmdline::insert_init_args(std::string_view args) -> result<void> {
  if (const auto at = first_control(args)) {
    return fail(errc::cmdline_invalid_character,
                std::format("init arguments {:?} have control character {:#04x} at {}", args, args[*at], *at));
  }
  if (args.empty()) {
    detail_.clear();
    return {};
  }
  const std::size_t added = args.size() + (init_args_.empty() ? init_separator.size() : 1);
  if (added > capacity_ - std::min(capacity_, size())) {
    return fail(errc::cmdline_too_long,
                std::format("adding init arguments {:?} makes {} characters, the capacity is {}", args, size() + added,
                            capacity_));
  }
  if (!init_args_.empty()) {
    init_args_ += ' ';
  }
  init_args_ += args;
  detail_.clear();
  return {};
}

auto cmdline::add_virtio_mmio_device(std::uint64_t size, memory::guest_address base, std::uint32_t irq,
                                     std::optional<std::uint32_t> id) -> result<void> {
  if (size == 0 || !base.checked_add(size)) {
    return fail(errc::cmdline_bad_device, std::format("device of {} bytes at {}", size, base));
  }
  std::string value = std::format("{}@{:#x}:{}", size_text(size), base.raw(), irq);
  if (id) {
    value += std::format(":{}", *id);
  }
  return insert("virtio_mmio.device", value);
}

auto cmdline::write_to(const memory::guest_memory& memory, memory::guest_address address) const -> result<void> {
  if (auto written = memory.write_all(address, bytes_with_nul()); !written) {
    return failure(errc::boot_structure_outside_memory);
  }
  return {};
}

}  // namespace vmm::loader
