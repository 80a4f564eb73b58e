// vmm.kvm:vcpu — one virtual CPU: its register state, its kvm_run mapping, run(), and the stop handle.
//
// Stop protocol (docs/kvm.md has the reasoning): vcpu_stopper::stop() first sets kvm_run->immediate_exit (an
// atomic store through std::atomic_ref), then, if a thread is inside run() right now, sends it the kick signal.
// KVM reads immediate_exit when KVM_RUN starts and returns EINTR if it is set; a thread already past that check is
// in the kernel, where the pending kick makes KVM_RUN return EINTR before (or by leaving) guest mode. So a stop
// requested at any moment before or during run() ends that run(), or the next one, with interrupted{true}: no
// wake-up is lost. run() clears immediate_exit itself when it returns interrupted, so the caller never has to.
export module vmm.kvm:vcpu;
import std;
import vmm.sys;
import :error;
import :types;
import :exit;

namespace vmm::kvm {
/// What a vcpu shares with its stoppers: the kvm_run mapping and the thread inside run() (defined in vcpu.cpp).
struct run_state;
}  // namespace vmm::kvm

export namespace vmm::kvm {

/// A thread-safe handle that stops a vCPU's run(), from any thread. Copyable; keeps the vCPU's kvm_run mapping
/// alive, so it may outlive the vcpu (a stop then does nothing).
class vcpu_stopper {
 public:
  /// Requests a stop: the current run() (or, if none is in progress, the next one) returns interrupted with
  /// stop_requested set. Thread- and signal-race-free (see the module comment). Errors: the kick's pthread_kill
  /// error (not expected: the running thread cannot leave run() while it is being kicked).
  [[nodiscard]] auto stop() const -> result<void>;

 private:
  friend class vcpu;
  vcpu_stopper(std::shared_ptr<run_state> state, int signal) noexcept : state_{std::move(state)}, signal_{signal} {}
  std::shared_ptr<run_state> state_;
  int signal_;
};

/// One entry harvested from a vCPU's dirty ring: a page of memory slot `slot` at page offset `offset` was written.
struct dirty_page {
  std::uint32_t slot = 0;    ///< the memory slot (its address space in bits 16-31 is 0 on x86 without SMM)
  std::uint64_t offset = 0;  ///< the page's index within the slot
};

/// A vCPU file descriptor with its kvm_run mapping (and its dirty ring, when the VM has one). Move-only; made by
/// vm::create_vcpu. Every call but vcpu_stopper::stop() belongs to the one thread that runs this vCPU.
class vcpu {
 public:
  /// Takes a vCPU fd and maps its kvm_run area (`mmap_size` bytes, from kvm::vcpu_mmap_size) and, when
  /// `dirty_ring_bytes` is not 0, its dirty ring. Errors: errc::mmap_size_too_small; mmap's errno.
  [[nodiscard]] static auto from_fd(sys::unique_fd fd, std::size_t mmap_size, std::size_t dirty_ring_bytes = 0)
      -> result<vcpu>;

  /// Enters the guest until the next exit, and returns it decoded. An io_in or mmio_read reply written into the
  /// exit's span reaches the guest when run() is called again. Errors: KVM_RUN's errno (EINTR is not an error: it
  /// is interrupted); errc::bad_exit_data when kvm_run holds impossible values.
  [[nodiscard]] auto run() -> result<vcpu_exit>;

  /// A handle that stops run() from another thread, kicking it with real-time signal `signal` (whose do-nothing
  /// handler this installs; the running thread must not block it). Errors: vmm::sys::errc::invalid_signal.
  [[nodiscard]] auto stopper(int signal = sys::default_kick_signal()) -> result<vcpu_stopper>;

  [[nodiscard]] auto get_regs() const -> result<regs>;
  [[nodiscard]] auto set_regs(const regs& value) const -> result<void>;
  [[nodiscard]] auto get_sregs() const -> result<sregs>;
  [[nodiscard]] auto set_sregs(const sregs& value) const -> result<void>;
  [[nodiscard]] auto get_fpu() const -> result<fpu>;
  [[nodiscard]] auto set_fpu(const fpu& value) const -> result<void>;
  /// The local APIC registers. Errors: EINVAL without an in-kernel irqchip (vm::create_irqchip).
  [[nodiscard]] auto get_lapic() const -> result<lapic_state>;
  [[nodiscard]] auto set_lapic(const lapic_state& value) const -> result<void>;
  [[nodiscard]] auto get_xsave() const -> result<xsave>;
  [[nodiscard]] auto set_xsave(const xsave& value) const -> result<void>;
  [[nodiscard]] auto get_xcrs() const -> result<xcrs>;
  [[nodiscard]] auto set_xcrs(const xcrs& value) const -> result<void>;
  [[nodiscard]] auto get_mp_state() const -> result<mp_state>;
  [[nodiscard]] auto set_mp_state(const mp_state& value) const -> result<void>;
  [[nodiscard]] auto get_vcpu_events() const -> result<vcpu_events>;
  [[nodiscard]] auto set_vcpu_events(const vcpu_events& value) const -> result<void>;
  [[nodiscard]] auto get_debugregs() const -> result<debugregs>;
  [[nodiscard]] auto set_debugregs(const debugregs& value) const -> result<void>;

  /// Reads the MSRs whose indices `entries` hold into their data fields; returns how many were read (KVM stops at
  /// the first index it does not know, so a count below entries.size() names the bad one). Errors:
  /// errc::too_many_entries above max_msr_entries.
  [[nodiscard]] auto get_msrs(std::span<msr_entry> entries) const -> result<std::size_t>;
  /// Writes the MSRs; returns how many were written (KVM stops at the first it refuses).
  [[nodiscard]] auto set_msrs(std::span<const msr_entry> entries) const -> result<std::size_t>;

  /// Sets the CPUID the guest sees (KVM_SET_CPUID2; before the first run()). Errors: errc::too_many_entries above
  /// max_cpuid_entries; E2BIG/EINVAL from the kernel.
  [[nodiscard]] auto set_cpuid2(std::span<const cpuid_entry> entries) const -> result<void>;
  /// The CPUID set by set_cpuid2 (KVM_GET_CPUID2). Errors: E2BIG when more than max_cpuid_entries.
  [[nodiscard]] auto get_cpuid2() const -> result<std::vector<cpuid_entry>>;

  /// Collects the dirty ring's entries (each page the guest wrote since the last harvest, once per dirtying), and
  /// marks them for reset; call vm::reset_dirty_rings() afterwards so KVM can reuse them. Errors:
  /// errc::dirty_ring_not_enabled when the VM has no dirty ring.
  [[nodiscard]] auto harvest_dirty_ring() -> result<std::vector<dirty_page>>;

  [[nodiscard]] inline auto fd() const noexcept -> sys::borrowed_fd { return fd_.borrow(); }
  /// The kvm_run mapping (what decode_exit reads; a raw KVM_RUN loop may read it directly).
  [[nodiscard]] auto run_area() const noexcept -> std::span<std::byte>;

 private:
  vcpu(sys::unique_fd fd, std::shared_ptr<run_state> state, sys::mapping ring) noexcept;
  sys::unique_fd fd_;
  std::shared_ptr<run_state> state_;
  std::span<std::byte> run_area_;
  sys::mapping ring_;
  std::uint32_t ring_next_ = 0;
};

/// The most MSR entries one get_msrs/set_msrs call takes (KVM's own limit, KVM_MAX_MSR_ENTRIES).
inline constexpr std::size_t max_msr_entries = 256;
/// The most CPUID entries one call takes (KVM_MAX_CPUID_ENTRIES).
inline constexpr std::size_t max_cpuid_entries = 256;

}  // namespace vmm::kvm
