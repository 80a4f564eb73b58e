// vmm.kvm:error — the failures vmm.kvm detects itself (OS failures keep their errno in std::system_category()).
export module vmm.kvm:error;
import std;

export namespace vmm::kvm {

/// What went wrong in a KVM operation that the kernel did not report itself. Each value's message (kvm_category)
/// is one sentence naming it.
enum class errc : std::uint8_t {
  api_version_mismatch = 1,  ///< KVM_GET_API_VERSION did not return 12, the only stable KVM API
  capability_missing,        ///< the kernel (or this VM) lacks a capability the call needs
  bad_exit_data,             ///< kvm_run holds exit data outside its bounds (an I/O exit past the mapping, ...)
  too_many_entries,          ///< more CPUID, MSR or routing entries than one kernel call accepts
  dirty_ring_not_enabled,    ///< the dirty ring was asked for, but enable_dirty_ring was not called first
  mmap_size_too_small,       ///< KVM_GET_VCPU_MMAP_SIZE is smaller than struct kvm_run
  bitmap_too_small,          ///< a dirty bitmap has fewer words than the pages it must describe
  dirty_ring_too_late,       ///< the dirty ring must be enabled before the first vCPU is created
  unknown_slot,              ///< the memory slot was not made through this vm (so its size is unknown)
};

/// The category of vmm::kvm::errc, named "vmm.kvm".
[[nodiscard]] auto kvm_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from a vmm::kvm::errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::kvm

template <>
struct std::is_error_code_enum<vmm::kvm::errc> : std::true_type {};
