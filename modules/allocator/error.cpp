module vmm.allocator;
import std;

namespace vmm::allocator {
namespace {

class allocator_error_category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.allocator"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::zero_size:
        return "Range or allocation size is zero";
      case errc::invalid_alignment:
        return "Alignment is not a power of two";
      case errc::range_overflow:
        return "Range runs past 2^64";
      case errc::outside_pool:
        return "Requested range is outside the allocator's pool";
      case errc::range_taken:
        return "Requested range overlaps an allocated range";
      case errc::out_of_space:
        return "No free range fits the requested size and alignment";
      case errc::not_allocated:
        return "Range to free is not exactly an allocated range";
      case errc::empty_id_range:
        return "Id range is empty (first id above last)";
      case errc::id_out_of_range:
        return "Id is outside the allocator's range";
      case errc::id_taken:
        return "Requested id is already allocated";
      case errc::ids_exhausted:
        return "Every id in the allocator's range is allocated";
      case errc::id_not_allocated:
        return "Id to free is not allocated";
    }
    return "Unknown vmm.allocator error " + std::to_string(value);
  }
};

}  // namespace

auto allocator_category() noexcept -> const std::error_category& {
  static const allocator_error_category category;
  return category;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), allocator_category()};
}

}  // namespace vmm::allocator
