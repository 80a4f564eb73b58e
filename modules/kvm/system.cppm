// vmm.kvm:system — the /dev/kvm file descriptor: API version, capabilities, what the host can offer guests (CPUID,
// MSRs), and VM creation.
export module vmm.kvm:system;
import std;
import vmm.sys;
import :error;
import :types;
import :vm;

export namespace vmm::kvm {

/// The only stable KVM API version.
inline constexpr int api_version = 12;

/// The KVM system fd (/dev/kvm). Move-only.
class kvm {
 public:
  /// Opens /dev/kvm (read-write, close-on-exec) and checks the API version. Errors: ENOENT without KVM, EACCES
  /// without permission; errc::api_version_mismatch.
  [[nodiscard]] static auto open() -> result<kvm>;
  /// Takes an fd of /dev/kvm and checks the API version. Errors: ENOTTY for another file;
  /// errc::api_version_mismatch.
  [[nodiscard]] static auto from_fd(sys::unique_fd fd) -> result<kvm>;

  /// KVM_GET_API_VERSION (12 on every kernel since 2.6.22).
  [[nodiscard]] auto get_api_version() const -> result<int>;
  /// KVM_CHECK_EXTENSION: 0 when unsupported, else 1 or a capability-specific number (cap::max_vcpus: a count).
  [[nodiscard]] auto check_extension(unsigned capability) const -> result<int>;
  /// The size of each vCPU's mmap area (kvm_run, the PIO data page, ...).
  [[nodiscard]] auto vcpu_mmap_size() const -> result<std::size_t>;

  /// The CPUID leaves KVM can give a guest (KVM_GET_SUPPORTED_CPUID; the buffer grows until they fit).
  [[nodiscard]] auto supported_cpuid() const -> result<std::vector<cpuid_entry>>;
  /// The CPUID features KVM emulates (KVM_GET_EMULATED_CPUID).
  [[nodiscard]] auto emulated_cpuid() const -> result<std::vector<cpuid_entry>>;
  /// The MSR indices get_msrs/set_msrs know (KVM_GET_MSR_INDEX_LIST).
  [[nodiscard]] auto msr_index_list() const -> result<std::vector<std::uint32_t>>;
  /// The feature MSRs (KVM_GET_MSR_FEATURE_INDEX_LIST). Errors: errc::capability_missing.
  [[nodiscard]] auto feature_msr_list() const -> result<std::vector<std::uint32_t>>;
  /// Reads feature MSRs (KVM_GET_MSRS on the system fd) into `entries`; returns how many were read.
  [[nodiscard]] auto get_feature_msrs(std::span<msr_entry> entries) const -> result<std::size_t>;

  /// A new VM (KVM_CREATE_VM of `type`, 0 for the default x86 VM). Errors: EINVAL for an unknown type, ENOMEM.
  [[nodiscard]] auto create_vm(unsigned long type = 0) const -> result<vm>;

  [[nodiscard]] inline auto fd() const noexcept -> sys::borrowed_fd { return fd_.borrow(); }

 private:
  explicit kvm(sys::unique_fd fd) noexcept : fd_{std::move(fd)} {}
  sys::unique_fd fd_;
};

}  // namespace vmm::kvm
