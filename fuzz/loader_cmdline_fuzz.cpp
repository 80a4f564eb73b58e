// Fuzzes vmm.loader's command line builder. The input's first byte picks the capacity (0-255); then each operation
// is an opcode byte and one or two strings, each a length byte and that many bytes: insert(key, value),
// insert_flag(flag), insert_init_args(args), add_virtio_mmio_device(size, base, irq from the next bytes). A model
// keeps what the line must be. Checked, trapping on a mismatch:
//   - a failed operation changes nothing (str() equals the model), and a successful one appends exactly the expected
//     text (quoted when the value has a space), with init arguments always after " -- " at the end;
//   - size() never exceeds capacity() and equals str().size(); bytes_with_nul() is str() plus one NUL;
//   - the line has no control characters, and splitting its parameter part the kernel's way (spaces outside double
//     quotes) gives back exactly the parameters inserted.
#include <cstddef>
#include <cstdint>

import std;
import vmm.sys;
import vmm.memory;
import vmm.loader;

namespace {

namespace ld = vmm::loader;

[[noreturn]] void mismatch() {
  __builtin_trap();
}

struct reader {
  std::span<const std::uint8_t> in;

  auto byte() -> std::optional<std::uint8_t> {
    if (in.empty()) {
      return std::nullopt;
    }
    const std::uint8_t b = in.front();
    in = in.subspan(1);
    return b;
  }
  auto text() -> std::optional<std::string> {
    const auto n = byte();
    if (!n) {
      return std::nullopt;
    }
    const std::size_t len = std::min<std::size_t>(*n, in.size());
    std::string s(reinterpret_cast<const char*>(in.data()), len);
    in = in.subspan(len);
    return s;
  }
};

// The parameters of `line` split as the kernel's next_arg does (spaces outside double quotes), quotes removed.
auto kernel_split(std::string_view line) -> std::vector<std::string> {
  std::vector<std::string> out;
  std::string current;
  bool quoted = false;
  bool any = false;
  for (const char c : line) {
    if (c == '"') {
      quoted = !quoted;
      any = true;
      continue;
    }
    if (c == ' ' && !quoted) {
      if (any) {
        out.push_back(current);
      }
      current.clear();
      any = false;
      continue;
    }
    current += c;
    any = true;
  }
  if (any) {
    out.push_back(current);
  }
  return out;
}

}  // namespace

extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) -> int {
  reader r{{data, size}};
  const auto capacity = r.byte();
  if (!capacity) {
    return 0;
  }
  ld::cmdline line{*capacity};
  std::vector<std::string> parameters;  // as the kernel will see them (unquoted)
  std::string model_parameters;
  std::string model_init;
  for (int step = 0; step < 32; ++step) {
    const auto op = r.byte();
    if (!op) {
      break;
    }
    std::string added;
    std::string unquoted;
    bool init = false;
    vmm::result<void> result;
    switch (*op % 4) {
      case 0: {
        const auto key = r.text().value_or("");
        const auto value = r.text().value_or("");
        result = line.insert(key, value);
        added = value.find(' ') != std::string::npos ? key + "=\"" + value + "\"" : key + "=" + value;
        unquoted = key + "=" + value;
        break;
      }
      case 1: {
        added = r.text().value_or("");
        unquoted = added;
        result = line.insert_flag(added);
        break;
      }
      case 2: {
        added = r.text().value_or("");
        init = true;
        result = line.insert_init_args(added);
        break;
      }
      default: {
        const std::uint64_t dev_size = std::uint64_t{r.byte().value_or(0)} << (r.byte().value_or(0) % 40U);
        const std::uint64_t base = std::uint64_t{r.byte().value_or(0)} << (r.byte().value_or(0) % 64U);
        const std::uint32_t irq = r.byte().value_or(0);
        result = line.add_virtio_mmio_device(dev_size, vmm::memory::guest_address{base}, irq);
        if (result) {
          // The device text is the builder's: take it from the line (checked below through the split).
          const auto text = line.str();
          const std::size_t start = model_parameters.empty() ? 0 : model_parameters.size() + 1;
          added = text.substr(start,
                              text.find(" -- ") == std::string::npos ? std::string::npos : text.find(" -- ") - start);
          unquoted = added;
          if (!added.starts_with("virtio_mmio.device=")) {
            mismatch();
          }
        }
        break;
      }
    }
    if (result) {
      if (init) {
        if (!added.empty()) {
          model_init += (model_init.empty() ? "" : " ") + added;
        }
      } else {
        model_parameters += (model_parameters.empty() ? "" : " ") + added;
        parameters.push_back(unquoted);
      }
    }
    const std::string expected = model_init.empty() ? model_parameters : model_parameters + " -- " + model_init;
    const std::string got = line.str();
    if (got != expected || line.size() != got.size() || line.size() > line.capacity()) {
      mismatch();
    }
    if (std::ranges::any_of(got, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      mismatch();
    }
    if (kernel_split(model_parameters) != parameters) {
      mismatch();
    }
    const auto bytes = line.bytes_with_nul();
    if (bytes.size() != got.size() + 1 || bytes.back() != std::byte{0} ||
        std::memcmp(bytes.data(), got.data(), got.size()) != 0) {
      mismatch();
    }
  }
  return 0;
}
