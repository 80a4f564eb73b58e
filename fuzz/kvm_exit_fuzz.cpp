// Fuzzes vmm.kvm's exit decoding (decode_exit), the one place where data a guest influences (kvm_run as KVM wrote
// it) becomes spans the VMM reads and writes. The input is the bytes of a fake vCPU mapping: byte 0 picks the exit
// reason from the ones decode_exit handles (or passes a raw value through), bytes 1-2 how much of the buffer the
// mapping covers (from sizeof(kvm_run) to 3 pages), and the rest fills kvm_run and the data pages.
//
// For every decoded exit, each span must lie inside the mapping (else __builtin_trap()), and every byte of it is read
// and written (so ASan reports any out-of-bounds span too); I/O sizes must be 1, 2 or 4 and MMIO lengths 1 to 8.
#include <cstddef>
#include <cstdint>
#include <linux/kvm.h>

import std;
import vmm.kvm;

namespace {

namespace kvm = vmm::kvm;

constexpr std::size_t buffer_size = 3 * 4096;
constexpr std::array<std::uint32_t, 9> reasons{KVM_EXIT_IO,         KVM_EXIT_MMIO,         KVM_EXIT_HLT,
                                               KVM_EXIT_SHUTDOWN,   KVM_EXIT_SYSTEM_EVENT, KVM_EXIT_INTERNAL_ERROR,
                                               KVM_EXIT_FAIL_ENTRY, KVM_EXIT_INTR,         KVM_EXIT_DEBUG};

void check_inside(std::span<const std::byte> mapping, std::span<const std::byte> data) {
  const auto* first = mapping.data();
  const auto* last = mapping.data() + mapping.size();
  if (data.data() < first || data.data() > last || data.size() > static_cast<std::size_t>(last - data.data())) {
    __builtin_trap();
  }
}

void touch(std::span<std::byte> data) {
  for (auto& b : data) {
    b = static_cast<std::byte>(std::to_integer<unsigned>(b) ^ 0xffU);
  }
}

void touch(std::span<const std::byte> data) {
  unsigned sum = 0;
  for (const auto b : data) {
    sum += std::to_integer<unsigned>(b);
  }
  static_cast<void>(sum);
}

}  // namespace

extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) -> int {
  if (size < 3) {
    return 0;
  }
  const auto input = std::span{data, size};
  alignas(8) static std::array<std::byte, buffer_size> buffer{};
  buffer.fill(std::byte{0});
  const auto body = input.subspan(3);
  std::ranges::copy(std::as_bytes(body.first(std::min(body.size(), buffer.size()))), buffer.begin());
  const std::uint32_t reason = input[0] < reasons.size() ? reasons.at(input[0]) : input[0];
  std::memcpy(buffer.data() + offsetof(::kvm_run, exit_reason), &reason, sizeof reason);
  const std::size_t slack = (std::size_t{input[1]} | (std::size_t{input[2]} << 8U)) % (buffer_size - sizeof(::kvm_run));
  const auto mapping = std::span{buffer}.first(sizeof(::kvm_run) + slack);

  const auto exit = kvm::decode_exit(mapping);
  if (!exit) {
    return 0;
  }
  std::visit(
      [&]<class T>(const T& e) {
        if constexpr (std::is_same_v<T, kvm::io_in> || std::is_same_v<T, kvm::io_out>) {
          if ((e.size != 1 && e.size != 2 && e.size != 4) || e.data.size() != std::size_t{e.size} * e.count) {
            __builtin_trap();
          }
          check_inside(mapping, e.data);
          touch(e.data);
        } else if constexpr (std::is_same_v<T, kvm::mmio_read> || std::is_same_v<T, kvm::mmio_write>) {
          if (e.data.empty() || e.data.size() > 8) {
            __builtin_trap();
          }
          check_inside(mapping, e.data);
          touch(e.data);
        } else if constexpr (std::is_same_v<T, kvm::system_event> || std::is_same_v<T, kvm::internal_error>) {
          if (e.words().size() > kvm::max_exit_words) {
            __builtin_trap();
          }
        }
      },
      *exit);
  return 0;
}
