// Guest serial output through vmm::devices::legacy::serial, against writing the same bytes to the same sink
// directly. One iteration writes 4096 bytes, one byte per call (a guest writes THR one byte per OUT instruction);
// bytes_per_second is the throughput, so the ratio of a case to its baseline is the device's own cost (register
// decode, the lock, the THR-empty bookkeeping, a virtual call into the sink, the counters).
//
// Cases (all quick: in the PR profile):
//   BM_devices_legacy_serial_output/devnull           bus_device::write(THR) into an fd_output on /dev/null.
//   BM_devices_legacy_baseline_serial_output/devnull  fd_output::write of the same bytes, one per call.
//   BM_devices_legacy_serial_output/memory            bus_device::write(THR) into a sink that only counts.
//   BM_devices_legacy_baseline_serial_output/memory   that sink's write, called directly, one byte per call.
// The THR-empty interrupt is enabled and goes to a trigger that counts, as a guest driver's would.
#include <benchmark/benchmark.h>

#include <fcntl.h>

import std;
import vmm.sys;
import vmm.device;
import vmm.devices.legacy;

namespace {

namespace legacy = vmm::devices::legacy;

constexpr std::size_t bytes_per_iteration = 4096;

enum class sink_kind : std::uint8_t { devnull, memory };

// A sink that keeps nothing: the cheapest possible output, so the device's own cost shows.
class counting_output final : public legacy::serial_output {
 public:
  [[nodiscard]] auto write(std::span<const std::byte> bytes) -> vmm::result<void> override {
    count_ += bytes.size();
    benchmark::DoNotOptimize(count_);
    return {};
  }

 private:
  std::size_t count_ = 0;
};

class counting_trigger final : public vmm::device::interrupt_trigger {
 public:
  [[nodiscard]] auto trigger() -> vmm::result<void> override {
    ++count_;
    benchmark::DoNotOptimize(count_);
    return {};
  }

 private:
  std::uint64_t count_ = 0;
};

auto make_sink(sink_kind kind) -> std::shared_ptr<legacy::serial_output> {
  if (kind == sink_kind::memory) {
    return std::make_shared<counting_output>();
  }
  vmm::sys::unique_fd null{::open("/dev/null", O_WRONLY | O_CLOEXEC)};  // NOLINT(cppcoreguidelines-pro-type-vararg)
  if (!null.valid()) {
    throw std::runtime_error{"cannot open /dev/null"};
  }
  return std::make_shared<legacy::fd_output>(std::move(null));
}

auto message() -> std::vector<std::byte> {
  std::vector<std::byte> bytes(bytes_per_iteration);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::byte>('a' + (i % 26));
  }
  return bytes;
}

void BM_devices_legacy_serial_output(benchmark::State& state, sink_kind kind) {
  legacy::serial uart{{.output = make_sink(kind), .interrupt = std::make_shared<counting_trigger>()}};
  const std::array ier{std::byte{0x02}};
  uart.write(vmm::device::bus_address{legacy::com1_port}, legacy::serial_register::interrupt_enable, ier);
  const auto bytes = message();
  for (auto _ : state) {
    for (const std::byte& b : bytes) {
      uart.write(vmm::device::bus_address{legacy::com1_port}, legacy::serial_register::data, std::span{&b, 1});
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
  if (uart.metrics().output_errors != 0) {
    state.SkipWithError("the sink failed");
  }
}

void BM_devices_legacy_baseline_serial_output(benchmark::State& state, sink_kind kind) {
  const auto sink = make_sink(kind);
  const auto bytes = message();
  bool failed = false;
  for (auto _ : state) {
    for (const std::byte& b : bytes) {
      failed |= !sink->write(std::span{&b, 1});
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
  if (failed) {
    state.SkipWithError("the sink failed");
  }
}

}  // namespace

BENCHMARK_CAPTURE(BM_devices_legacy_serial_output, devnull, sink_kind::devnull);
BENCHMARK_CAPTURE(BM_devices_legacy_baseline_serial_output, devnull, sink_kind::devnull);
BENCHMARK_CAPTURE(BM_devices_legacy_serial_output, memory, sink_kind::memory);
BENCHMARK_CAPTURE(BM_devices_legacy_baseline_serial_output, memory, sink_kind::memory);
