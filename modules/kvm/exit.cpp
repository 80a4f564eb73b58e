module;
#include <linux/kvm.h>
module vmm.kvm;
import std;
import vmm.sys;

namespace vmm::kvm {
namespace {

constexpr std::size_t max_event_words = max_exit_words;

// Copies `count` (already checked against max_exit_words) words of a kernel __u64 array.
template <class Word>
auto copy_words(const Word (&from)[max_exit_words], std::uint32_t count)  // NOLINT(*-avoid-c-arrays)
    -> std::array<std::uint64_t, max_exit_words> {
  std::array<std::uint64_t, max_exit_words> words{};
  std::copy_n(std::begin(from), count, words.begin());
  return words;
}
constexpr std::size_t max_mmio_bytes = 8;

// NOLINTBEGIN(cppcoreguidelines-pro-type-union-access): kvm_run's exit payload is a C union in the kernel ABI, and
// exit_reason says which member the kernel filled.
auto decode_io(const ::kvm_run& run, std::span<std::byte> mapping) -> result<vcpu_exit> {
  const auto& io = run.io;
  if (io.size != 1 && io.size != 2 && io.size != 4) {
    return failure(errc::bad_exit_data);
  }
  // size <= 4 and count < 2^32, so the product fits in 64 bits; compare, never add, against the mapping's size.
  const std::uint64_t length = std::uint64_t{io.size} * io.count;
  if (io.data_offset > mapping.size() || length > mapping.size() - io.data_offset) {
    return failure(errc::bad_exit_data);
  }
  const auto data = mapping.subspan(static_cast<std::size_t>(io.data_offset), static_cast<std::size_t>(length));
  if (io.direction == KVM_EXIT_IO_IN) {
    return io_in{.port = io.port, .size = io.size, .count = io.count, .data = data};
  }
  if (io.direction == KVM_EXIT_IO_OUT) {
    return io_out{.port = io.port, .size = io.size, .count = io.count, .data = data};
  }
  return failure(errc::bad_exit_data);
}

auto decode_mmio(::kvm_run& run) -> result<vcpu_exit> {
  auto& mmio = run.mmio;
  if (mmio.len == 0 || mmio.len > max_mmio_bytes) {
    return failure(errc::bad_exit_data);
  }
  const auto data = std::as_writable_bytes(std::span{mmio.data}).first(mmio.len);
  if (mmio.is_write != 0) {
    return mmio_write{.address = mmio.phys_addr, .data = data};
  }
  return mmio_read{.address = mmio.phys_addr, .data = data};
}

}  // namespace

auto kvm_run_size() noexcept -> std::size_t {
  return sizeof(::kvm_run);
}

auto decode_exit(std::span<std::byte> run_mapping) -> result<vcpu_exit> {
  contract_check(std::bit_cast<std::uintptr_t>(run_mapping.data()) % alignof(::kvm_run) == 0,
                 "decode_exit: the kvm_run mapping must be 8-byte aligned");
  if (run_mapping.size() < sizeof(::kvm_run)) {
    return failure(errc::bad_exit_data);
  }
  // The mapping is at least a kvm_run and suitably aligned (checked above); the kernel wrote it as one.
  auto& run = *reinterpret_cast<::kvm_run*>(run_mapping.data());  // NOLINT(*-reinterpret-cast)
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      return decode_io(run, run_mapping);
    case KVM_EXIT_MMIO:
      return decode_mmio(run);
    case KVM_EXIT_HLT:
      return halt{};
    case KVM_EXIT_SHUTDOWN:
      return shutdown{};
    case KVM_EXIT_SYSTEM_EVENT:
      if (run.system_event.ndata > max_event_words) {
        return failure(errc::bad_exit_data);
      }
      return system_event{.type = run.system_event.type,
                          .ndata = run.system_event.ndata,
                          .data = copy_words(run.system_event.data, run.system_event.ndata)};
    case KVM_EXIT_INTERNAL_ERROR:
      if (run.internal.ndata > max_event_words) {
        return failure(errc::bad_exit_data);
      }
      return internal_error{.suberror = run.internal.suberror,
                            .ndata = run.internal.ndata,
                            .data = copy_words(run.internal.data, run.internal.ndata)};
    case KVM_EXIT_FAIL_ENTRY:
      return fail_entry{.hardware_reason = run.fail_entry.hardware_entry_failure_reason, .cpu = run.fail_entry.cpu};
    case KVM_EXIT_INTR:
      return interrupted{.stop_requested = false};
    default:
      return unknown{.reason = run.exit_reason};
  }
}

// NOLINTEND(cppcoreguidelines-pro-type-union-access)

}  // namespace vmm::kvm
