// vmm.kvm:exit — why KVM_RUN returned, decoded from kvm_run into small structs.
//
// Every span in an exit points into the vCPU's kvm_run mapping and is valid until the next run() of that vCPU (or
// its destruction). decode_exit checks every guest-influenced field before it makes a span: I/O data must lie inside
// the mapping, MMIO lengths are 1 to 8 bytes, event data counts at most 16 words. An impossible value is
// errc::bad_exit_data, never an out-of-bounds span.
export module vmm.kvm:exit;
import std;
import vmm.sys;
import :error;

export namespace vmm::kvm {

/// The guest executed IN/INS: fill `data` (size * count bytes, count items of `size` bytes each, little-endian);
/// the next run() hands it to the guest.
struct io_in {
  std::uint16_t port = 0;
  std::uint8_t size = 0;    ///< bytes per item: 1, 2 or 4
  std::uint32_t count = 0;  ///< items (more than 1 for a REP INS)
  std::span<std::byte> data;
};

/// The guest executed OUT/OUTS of `data` (size * count bytes).
struct io_out {
  std::uint16_t port = 0;
  std::uint8_t size = 0;    ///< bytes per item: 1, 2 or 4
  std::uint32_t count = 0;  ///< items (more than 1 for a REP OUTS)
  std::span<const std::byte> data;
};

/// The guest read `data.size()` bytes (1 to 8) at a guest physical address with no memory slot: fill `data`; the
/// next run() completes the load with it.
struct mmio_read {
  std::uint64_t address = 0;
  std::span<std::byte> data;
};

/// The guest wrote `data` (1 to 8 bytes) to a guest physical address with no writable memory slot.
struct mmio_write {
  std::uint64_t address = 0;
  std::span<const std::byte> data;
};

/// The guest executed HLT (with no in-kernel LAPIC to wait in).
struct halt {};

/// The guest triple-faulted (or KVM otherwise shut it down): the vCPU cannot continue without a reset.
struct shutdown {};

/// The most words of data a system_event or internal_error carries.
inline constexpr std::size_t max_exit_words = 16;

/// A system event (system_event_type::shutdown, reset, crash, ...) with up to 16 words of data (a copy).
struct system_event {
  std::uint32_t type = 0;
  std::uint32_t ndata = 0;  ///< how many words of `data` are meaningful (at most max_exit_words)
  std::array<std::uint64_t, max_exit_words> data{};
  /// The meaningful words.
  [[nodiscard]] inline auto words() const noexcept -> std::span<const std::uint64_t> {
    return std::span{data}.first(ndata);
  }
};

/// KVM could not handle an exit (suberror 1: instruction emulation failed), with up to 16 words of detail (a copy).
struct internal_error {
  std::uint32_t suberror = 0;
  std::uint32_t ndata = 0;  ///< how many words of `data` are meaningful (at most max_exit_words)
  std::array<std::uint64_t, max_exit_words> data{};
  /// The meaningful words.
  [[nodiscard]] inline auto words() const noexcept -> std::span<const std::uint64_t> {
    return std::span{data}.first(ndata);
  }
};

/// VM entry failed: the vCPU's state is invalid for the hardware (`hardware_reason` is the VMX/SVM reason).
struct fail_entry {
  std::uint64_t hardware_reason = 0;
  std::uint32_t cpu = 0;
};

/// KVM_RUN returned EINTR: a signal arrived, or a stop was requested through a vcpu_stopper.
struct interrupted {
  /// Whether kvm_run->immediate_exit was set, i.e. a vcpu_stopper asked for the stop (run() has cleared it again).
  bool stop_requested = false;
};

/// An exit reason this module does not decode (the raw KVM_EXIT_* number).
struct unknown {
  std::uint32_t reason = 0;
};

/// Why run() returned. Hold it only until the next run(): its spans point into kvm_run.
using vcpu_exit = std::variant<io_in, io_out, mmio_read, mmio_write, halt, shutdown, system_event, internal_error,
                               fail_entry, interrupted, unknown>;

/// Decodes the exit described by a kvm_run mapping (what run() does after KVM_RUN returns). Public so the checks can
/// be tested (and fuzzed) with any bytes. Precondition: `run_mapping` is aligned to 8 bytes. Errors:
/// errc::bad_exit_data when the mapping is smaller than struct kvm_run, or a field is out of range (I/O data outside
/// the mapping, an I/O size other than 1, 2 or 4, a direction other than in or out, an MMIO length of 0 or more than
/// 8, more than 16 words of event data).
[[nodiscard]] auto decode_exit(std::span<std::byte> run_mapping) -> result<vcpu_exit>;

/// The size of struct kvm_run, the least a vCPU mapping must hold.
[[nodiscard]] auto kvm_run_size() noexcept -> std::size_t;

}  // namespace vmm::kvm
