module;
#include <cerrno>
#include <fcntl.h>
#include <linux/kvm.h>
module vmm.kvm;
import std;
import vmm.sys;

namespace vmm::kvm {
namespace {

// Bounds on the buffer growth for the list queries: far above what any kernel reports, so a kernel that kept
// answering E2BIG cannot make us allocate without limit.
constexpr std::size_t max_list_entries = 65536;
// The first CPUID buffer: small, so the E2BIG growth runs on every host (and is tested); 3 calls reach 64 entries.
constexpr std::size_t initial_cpuid_entries = 16;

// Calls a "list with a count header" request, growing the buffer on E2BIG (the kernel may also write the size it
// needs into the count field).
template <class Header, class Entry, auto Count>
auto query_list(sys::borrowed_fd fd, unsigned long request, std::size_t initial) -> result<std::vector<Entry>> {
  std::size_t capacity = initial;
  while (true) {
    std::vector<std::uint64_t> words((sizeof(Header) + (capacity * sizeof(Entry)) + 7) / 8);
    auto* header = reinterpret_cast<Header*>(words.data());  // NOLINT(*-reinterpret-cast): zeroed, aligned storage
    header->*Count = static_cast<std::uint32_t>(capacity);
    const auto r = sys::ioctl_with_ptr(fd, request, header);
    if (r) {
      const auto count = std::min<std::size_t>(header->*Count, capacity);
      const auto* first = reinterpret_cast<const Entry*>(                      // NOLINT(*-reinterpret-cast)
          reinterpret_cast<const std::byte*>(words.data()) + sizeof(Header));  // NOLINT(*-reinterpret-cast)
      return std::vector<Entry>(first, first + count);                         // NOLINT(*-pointer-arithmetic)
    }
    if (r.error() != std::errc::argument_list_too_long || capacity >= max_list_entries) {
      return std::unexpected(r.error());
    }
    capacity =
        std::clamp<std::size_t>(std::max<std::size_t>(header->*Count, capacity * 2), capacity + 1, max_list_entries);
  }
}

}  // namespace

auto kvm::open() -> result<kvm> {
  // SAFETY: open reads the NUL-terminated path and returns a new descriptor that is owned right away.
  sys::unique_fd fd{::open("/dev/kvm", O_RDWR | O_CLOEXEC)};
  if (!fd.valid()) {
    return os_failure();
  }
  return from_fd(std::move(fd));
}

auto kvm::from_fd(sys::unique_fd fd) -> result<kvm> {
  const auto version = sys::ioctl(fd, KVM_GET_API_VERSION);
  if (!version) {
    return std::unexpected(version.error());
  }
  if (*version != api_version) {
    return failure(errc::api_version_mismatch);
  }
  return kvm{std::move(fd)};
}

auto kvm::get_api_version() const -> result<int> {
  return sys::ioctl(fd_, KVM_GET_API_VERSION);
}

auto kvm::check_extension(unsigned capability) const -> result<int> {
  return sys::ioctl_with_val(fd_, KVM_CHECK_EXTENSION, capability);
}

auto kvm::vcpu_mmap_size() const -> result<std::size_t> {
  const auto size = sys::ioctl(fd_, KVM_GET_VCPU_MMAP_SIZE);
  if (!size) {
    return std::unexpected(size.error());
  }
  return static_cast<std::size_t>(*size);
}

auto kvm::supported_cpuid() const -> result<std::vector<cpuid_entry>> {
  return query_list<abi::cpuid2_header, ::kvm_cpuid_entry2, &abi::cpuid2_header::nent>(fd_, abi::get_supported_cpuid,
                                                                                       initial_cpuid_entries);
}

auto kvm::emulated_cpuid() const -> result<std::vector<cpuid_entry>> {
  return query_list<abi::cpuid2_header, ::kvm_cpuid_entry2, &abi::cpuid2_header::nent>(fd_, abi::get_emulated_cpuid,
                                                                                       initial_cpuid_entries);
}

auto kvm::msr_index_list() const -> result<std::vector<std::uint32_t>> {
  return query_list<abi::msr_list_header, std::uint32_t, &abi::msr_list_header::nmsrs>(fd_, abi::get_msr_index_list, 0);
}

auto kvm::feature_msr_list() const -> result<std::vector<std::uint32_t>> {
  if (auto supported = check_extension(cap::get_msr_features); !supported || *supported == 0) {
    return failure(errc::capability_missing);
  }
  return query_list<abi::msr_list_header, std::uint32_t, &abi::msr_list_header::nmsrs>(
      fd_, abi::get_msr_feature_index_list, 0);
}

auto kvm::get_feature_msrs(std::span<msr_entry> entries) const -> result<std::size_t> {
  if (entries.size() > max_msr_entries) {
    return failure(errc::too_many_entries);
  }
  std::vector<std::uint64_t> words((sizeof(abi::msrs_header) + (entries.size() * sizeof(::kvm_msr_entry))) / 8);
  auto* header = reinterpret_cast<abi::msrs_header*>(words.data());  // NOLINT(*-reinterpret-cast)
  header->nmsrs = static_cast<std::uint32_t>(entries.size());
  auto* first = reinterpret_cast<::kvm_msr_entry*>(header + 1);  // NOLINT(*-reinterpret-cast, *-pointer-arithmetic)
  std::ranges::copy(entries, first);
  const auto done = sys::ioctl_with_ptr(fd_, abi::get_msrs, header);
  if (!done) {
    return std::unexpected(done.error());
  }
  const auto count = std::min(static_cast<std::size_t>(*done), entries.size());
  std::copy_n(first, count, entries.begin());
  return count;
}

auto kvm::create_vm(unsigned long type) const -> result<vm> {
  const auto size = vcpu_mmap_size();
  if (!size) {
    return std::unexpected(size.error());
  }
  const auto created = sys::ioctl_with_val(fd_, KVM_CREATE_VM, type);
  if (!created) {
    return std::unexpected(created.error());
  }
  // KVM_CREATE_VM makes its fd with O_CLOEXEC (anon_inode_getfd(..., O_RDWR | O_CLOEXEC)).
  return vm::from_fd(sys::unique_fd{*created}, *size);
}

}  // namespace vmm::kvm
