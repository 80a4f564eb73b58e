module vmm.virtio.net;
import std;
import vmm.sys;

namespace vmm::virtio::net {
namespace {

[[nodiscard]] constexpr auto has(std::uint64_t features, unsigned bit) noexcept -> bool {
  return ((features >> bit) & 1U) != 0;
}

}  // namespace

auto validate_tx_header(const net_header& header, std::uint64_t frame_length, std::uint64_t features)
    -> vmm::result<void> {
  if (frame_length < min_frame_bytes) {
    return vmm::failure(errc::frame_too_short);
  }
  if (frame_length > max_frame_bytes) {
    return vmm::failure(errc::frame_too_large);
  }
  if ((header.flags & ~header_flag::needs_csum) != 0) {
    return vmm::failure(errc::unknown_header_flags);
  }
  const bool needs_csum = (header.flags & header_flag::needs_csum) != 0;
  if (needs_csum) {
    if (!has(features, feature::csum)) {
      return vmm::failure(errc::checksum_not_negotiated);
    }
    // 16-bit fields: the sum fits easily in 64 bits, so it cannot wrap.
    if (std::uint64_t{header.csum_start} + header.csum_offset + 2 > frame_length) {
      return vmm::failure(errc::checksum_out_of_frame);
    }
  }
  const auto type = static_cast<std::uint8_t>(header.gso_type & ~gso::ecn);
  if (type != gso::none) {
    unsigned needed = 0;
    switch (type) {
      case gso::tcpv4:
        needed = feature::host_tso4;
        break;
      case gso::tcpv6:
        needed = feature::host_tso6;
        break;
      case gso::udp:
        needed = feature::host_ufo;
        break;
      default:
        return vmm::failure(errc::unknown_gso_type);
    }
    if (!has(features, needed)) {
      return vmm::failure(errc::gso_not_negotiated);
    }
    if (!needs_csum) {
      return vmm::failure(errc::gso_without_checksum);
    }
    if (header.gso_size == 0) {
      return vmm::failure(errc::bad_gso_size);
    }
  }
  if ((header.gso_type & gso::ecn) != 0) {
    if (type == gso::none) {
      return vmm::failure(errc::unknown_gso_type);
    }
    if (!has(features, feature::host_ecn)) {
      return vmm::failure(errc::gso_not_negotiated);
    }
  }
  if (header.hdr_len > frame_length) {
    return vmm::failure(errc::header_length_out_of_frame);
  }
  if (header.num_buffers != 0) {
    return vmm::failure(errc::nonzero_num_buffers);
  }
  return {};
}

}  // namespace vmm::virtio::net
