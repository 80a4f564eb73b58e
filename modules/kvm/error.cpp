module vmm.kvm;
import std;

namespace vmm::kvm {
namespace {

class kvm_error_category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.kvm"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::api_version_mismatch:
        return "KVM API version is not 12";
      case errc::capability_missing:
        return "KVM lacks a capability this call needs";
      case errc::bad_exit_data:
        return "KVM exit data in kvm_run is out of bounds";
      case errc::too_many_entries:
        return "Too many entries for one KVM call";
      case errc::dirty_ring_not_enabled:
        return "The KVM dirty ring is not enabled on this VM";
      case errc::mmap_size_too_small:
        return "KVM vCPU mmap size is smaller than struct kvm_run";
      case errc::bitmap_too_small:
        return "Dirty bitmap has fewer words than the memory slot has pages";
      case errc::dirty_ring_too_late:
        return "The KVM dirty ring must be enabled before any vCPU is created";
      case errc::unknown_slot:
        return "The memory slot was not made through this VM object";
    }
    return "Unknown vmm.kvm error " + std::to_string(value);
  }
};

}  // namespace

auto kvm_category() noexcept -> const std::error_category& {
  static const kvm_error_category category;
  return category;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), kvm_category()};
}

}  // namespace vmm::kvm
