module vmm.virtio.block;
import std;

namespace vmm::virtio::block {
namespace {

class block_error_category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.virtio.block"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::no_status_byte:
        return "Block request has no device-writable byte for its status";
      case errc::header_too_short:
        return "Block request header is shorter than 16 bytes";
      case errc::unsupported_type:
        return "Block request type is unknown or its feature was not negotiated";
      case errc::data_wrong_direction:
        return "Block request data buffers have the wrong direction for its type";
      case errc::zero_length:
        return "Block read or write carries no data";
      case errc::length_not_sector_multiple:
        return "Block read or write length is not a multiple of 512 bytes";
      case errc::request_too_large:
        return "Block request data passes the device's transfer limit";
      case errc::too_many_segments:
        return "Block request has more segments than the device allows";
      case errc::sector_out_of_range:
        return "Block request reaches past the device's capacity";
      case errc::read_only:
        return "Block request would modify a read-only device";
      case errc::id_buffer_too_short:
        return "Block GET_ID buffer is shorter than the 20-byte serial";
      case errc::bad_segment_list:
        return "Block discard or write-zeroes range list is empty or not a multiple of 16 bytes";
      case errc::unsupported_segment_flags:
        return "Block discard or write-zeroes range has an unsupported flag";
      case errc::segment_too_large:
        return "Block discard or write-zeroes range is longer than the device allows";
      case errc::buffer_unmapped:
        return "Block request buffer lies outside guest memory";
      case errc::io_failed:
        return "Block backing file failed or transferred fewer bytes than asked";
      case errc::backend_full:
        return "Block backend has no free request slot";
      case errc::not_activated:
        return "Block device is not activated";
      case errc::bad_activation:
        return "Block device activation needs exactly one queue and its event";
    }
    return "Unknown vmm.virtio.block error " + std::to_string(value);
  }
};

}  // namespace

auto block_category() noexcept -> const std::error_category& {
  static const block_error_category category;
  return category;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), block_category()};
}

}  // namespace vmm::virtio::block
