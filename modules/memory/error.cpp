module vmm.memory;
import std;
import vmm.sys;

namespace vmm::memory {
namespace {

class memory_error_category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.memory"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::out_of_range:
        return "Guest address range is outside every memory region";
      case errc::address_overflow:
        return "Guest address arithmetic overflows 64 bits";
      case errc::crosses_region_boundary:
        return "Guest range crosses a region boundary where one region is required";
      case errc::zero_size:
        return "Size is zero";
      case errc::unaligned_region:
        return "Region start, size, host address or file offset is not page-aligned";
      case errc::overlapping_regions:
        return "Memory regions overlap";
      case errc::region_not_found:
        return "No memory region has that start address and size";
      case errc::misaligned_access:
        return "Atomic guest memory access is not naturally aligned";
      case errc::read_only_region:
        return "Write to a read-only memory region";
      case errc::file_too_small:
        return "File-backed region extends past the end of its file";
      case errc::no_huge_pages:
        return "Too few free huge pages of that size on this host (see /proc/sys/vm/nr_hugepages)";
      case errc::invalid_huge_page_size:
        return "Huge page size is not offered by this host, or the region size is not a multiple of it";
      case errc::guest_memfd_unsupported:
        return "This kernel or VM cannot create host-mappable guest_memfd memory";
      case errc::unexpected_eof:
        return "File or socket ended before the whole guest range was transferred";
      case errc::bitmap_size_mismatch:
        return "Dirty log size does not match the region's page count";
      case errc::too_many_buffers:
        return "Guest range needs more scatter-gather buffers than allowed";
    }
    return "Unknown vmm.memory error " + std::to_string(value);
  }
};

}  // namespace

auto memory_category() noexcept -> const std::error_category& {
  static const memory_error_category category;
  return category;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), memory_category()};
}

}  // namespace vmm::memory
