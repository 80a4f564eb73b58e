module vmm.virtio.block;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;

namespace vmm::virtio::block {
namespace {

using queue::descriptor;

// Visits the pieces of [offset, offset + length) of the stream `descriptors` form: visit(address, bytes) for each
// non-empty piece, in order. Returns the number of pieces, or errc::buffer_unmapped when the stream is shorter.
template <class Visit>
auto for_each_piece(std::span<const descriptor> descriptors, std::uint64_t offset, std::uint64_t length,
                    const Visit& visit) -> vmm::result<std::size_t> {
  std::size_t pieces = 0;
  for (const descriptor& d : descriptors) {
    if (length == 0) {
      break;
    }
    if (offset >= d.length) {
      offset -= d.length;
      continue;
    }
    const std::uint64_t take = std::min<std::uint64_t>(d.length - offset, length);
    // The queue checked address + length against guest memory, but a chain built elsewhere (or a fuzzer's) may
    // not have been: checked_add keeps the arithmetic honest and the accessors check the rest.
    auto start = d.address.checked_add(offset);
    if (!start) {
      return vmm::failure(errc::buffer_unmapped);
    }
    if (auto r = visit(*start, take); !r) {
      return std::unexpected(r.error());
    }
    ++pieces;
    offset = 0;
    length -= take;
  }
  if (length != 0) {
    return vmm::failure(errc::buffer_unmapped);
  }
  return pieces;
}

auto read_stream(const memory::guest_memory& memory, std::span<const descriptor> descriptors, std::uint64_t offset,
                 std::span<std::byte> out) -> vmm::result<void> {
  std::size_t done = 0;
  auto pieces = for_each_piece(descriptors, offset, out.size(),
                               [&](memory::guest_address a, std::uint64_t n) -> vmm::result<void> {
                                 if (!memory.read_exact(a, out.subspan(done, n))) {
                                   return vmm::failure(errc::buffer_unmapped);
                                 }
                                 done += n;
                                 return {};
                               });
  if (!pieces) {
    return std::unexpected(pieces.error());
  }
  return {};
}

// How many descriptors hold part of [offset, offset + length) of the stream (the request's data segments).
auto count_pieces(std::span<const descriptor> descriptors, std::uint64_t offset, std::uint64_t length) -> std::size_t {
  return for_each_piece(descriptors, offset, length,
                        [](memory::guest_address, std::uint64_t) -> vmm::result<void> { return {}; })
      .value_or(0);
}

auto append_buffers(const memory::guest_memory& memory, std::span<const descriptor> descriptors, std::uint64_t offset,
                    std::uint64_t length, memory::access mode, std::vector<sys::io_buffer>& out,
                    std::size_t max_buffers) -> vmm::result<void> {
  auto pieces =
      for_each_piece(descriptors, offset, length, [&](memory::guest_address a, std::uint64_t n) -> vmm::result<void> {
        if (auto r = memory.append_io_buffers(a, n, mode, out, max_buffers); !r) {
          return vmm::failure(r.error() == memory::errc::too_many_buffers ? errc::too_many_segments
                                                                          : errc::buffer_unmapped);
        }
        return {};
      });
  if (!pieces) {
    return std::unexpected(pieces.error());
  }
  return {};
}

// The last device-writable byte of the chain, if any.
auto find_status(std::span<const descriptor> writable) -> std::optional<memory::guest_address> {
  for (const descriptor& d : std::views::reverse(writable)) {
    if (d.length != 0) {
      auto a = d.address.checked_add(d.length - 1);
      if (!a) {
        return std::nullopt;
      }
      return *a;
    }
  }
  return std::nullopt;
}

auto operation_of(std::uint32_t type, const request_policy& policy) -> std::optional<operation> {
  switch (type) {
    case request_type::in:
      return operation::read;
    case request_type::out:
      return operation::write;
    case request_type::flush:
      return operation::flush;
    case request_type::get_id:
      return operation::get_id;
    case request_type::discard:
      return policy.discard ? std::optional{operation::discard} : std::nullopt;
    case request_type::write_zeroes:
      return policy.write_zeroes ? std::optional{operation::write_zeroes} : std::nullopt;
    default:
      return std::nullopt;
  }
}

// Whether [sector, sector + count) lies inside the disk (no overflow).
auto in_capacity(std::uint64_t sector, std::uint64_t count, std::uint64_t capacity) -> bool {
  return sector <= capacity && count <= capacity - sector;
}

auto parse_transfer(const memory::guest_memory& memory, const queue::descriptor_chain& chain,
                    const request_policy& policy, block_request& out) -> vmm::result<void> {
  const bool is_read = out.op == operation::read;
  // A read's data is the writable bytes before the status; a write's is the readable bytes after the header.
  const std::uint64_t wrong_side =
      is_read ? chain.readable_bytes() - sizeof(request_header) : chain.writable_bytes() - 1;
  if (wrong_side != 0) {
    return vmm::failure(errc::data_wrong_direction);
  }
  const std::uint64_t data = is_read ? chain.writable_bytes() - 1 : chain.readable_bytes() - sizeof(request_header);
  if (data == 0) {
    return vmm::failure(errc::zero_length);
  }
  if (data % sector_size != 0) {
    return vmm::failure(errc::length_not_sector_multiple);
  }
  if (data > policy.limits.max_transfer_bytes()) {
    return vmm::failure(errc::request_too_large);
  }
  const auto side = is_read ? chain.writable() : chain.readable();
  const std::uint64_t first = is_read ? 0 : sizeof(request_header);
  if (count_pieces(side, first, data) > policy.limits.seg_max) {
    return vmm::failure(errc::too_many_segments);
  }
  if (!in_capacity(out.sector, data / sector_size, policy.capacity_sectors)) {
    return vmm::failure(errc::sector_out_of_range);
  }
  out.data_bytes = data;
  return append_buffers(memory, side, first, data, is_read ? memory::access::write : memory::access::read, out.buffers,
                        sys::max_io_buffers);
}

auto parse_ranges(const memory::guest_memory& memory, const queue::descriptor_chain& chain,
                  const request_policy& policy, block_request& out) -> vmm::result<void> {
  if (chain.writable_bytes() != 1) {
    return vmm::failure(errc::data_wrong_direction);
  }
  const std::uint64_t data = chain.readable_bytes() - sizeof(request_header);
  if (data == 0 || data % sizeof(range_segment) != 0) {
    return vmm::failure(errc::bad_segment_list);
  }
  const bool discard = out.op == operation::discard;
  const std::uint64_t max_seg = discard ? policy.limits.max_discard_seg : policy.limits.max_write_zeroes_seg;
  const std::uint64_t max_sectors =
      discard ? policy.limits.max_discard_sectors : policy.limits.max_write_zeroes_sectors;
  const std::uint64_t count = data / sizeof(range_segment);
  if (count > max_seg) {
    return vmm::failure(errc::too_many_segments);
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    std::array<std::byte, sizeof(range_segment)> bytes{};
    if (auto r = read_stream(memory, chain.readable(), sizeof(request_header) + (i * sizeof(range_segment)), bytes);
        !r) {
      return r;
    }
    const auto segment = std::bit_cast<range_segment>(bytes);
    const std::uint32_t flags = segment.flags.value();
    // Only write-zeroes knows a flag (unmap); the spec answers any other flag, and unmap on a discard, with UNSUPP.
    if ((flags & ~write_zeroes_flag_unmap) != 0 || (discard && flags != 0)) {
      return vmm::failure(errc::unsupported_segment_flags);
    }
    if (segment.num_sectors.value() > max_sectors) {
      return vmm::failure(errc::segment_too_large);
    }
    if (!in_capacity(segment.sector.value(), segment.num_sectors.value(), policy.capacity_sectors)) {
      return vmm::failure(errc::sector_out_of_range);
    }
    out.ranges.push_back({.sector = segment.sector.value(),
                          .num_sectors = segment.num_sectors.value(),
                          .unmap = (flags & write_zeroes_flag_unmap) != 0});
  }
  return {};
}

}  // namespace

auto write_stream(const memory::guest_memory& memory, std::span<const queue::descriptor> descriptors,
                  std::uint64_t offset, std::span<const std::byte> bytes) -> vmm::result<void> {
  std::size_t done = 0;
  auto pieces = for_each_piece(descriptors, offset, bytes.size(),
                               [&](memory::guest_address a, std::uint64_t n) -> vmm::result<void> {
                                 if (!memory.write_all(a, bytes.subspan(done, n))) {
                                   return vmm::failure(errc::buffer_unmapped);
                                 }
                                 done += n;
                                 return {};
                               });
  if (!pieces) {
    return std::unexpected(pieces.error());
  }
  return {};
}

auto parse_request(const memory::guest_memory& memory, const queue::descriptor_chain& chain,
                   const request_policy& policy, block_request& out) -> vmm::result<void> {
  out.buffers.clear();
  out.ranges.clear();
  out.sector = 0;
  out.data_bytes = 0;
  out.writable = chain.writable();
  // The status byte must be writable guest memory before anything else happens: a request whose answer cannot be
  // delivered is dropped without doing its I/O.
  const auto status = find_status(chain.writable());
  out.has_status = status.has_value() && memory.get_slice(*status, 1, memory::access::write).has_value();
  if (!out.has_status) {
    return vmm::failure(errc::no_status_byte);
  }
  out.status_address = *status;

  std::array<std::byte, sizeof(request_header)> bytes{};
  if (chain.readable_bytes() < bytes.size()) {
    return vmm::failure(errc::header_too_short);
  }
  if (auto r = read_stream(memory, chain.readable(), 0, bytes); !r) {
    return r;
  }
  const auto header = std::bit_cast<request_header>(bytes);
  const auto op = operation_of(header.type.value(), policy);
  if (!op) {
    return vmm::failure(errc::unsupported_type);
  }
  out.op = *op;
  out.sector = header.sector.value();
  switch (out.op) {
    case operation::read:
      return parse_transfer(memory, chain, policy, out);
    case operation::write:
      if (policy.read_only) {
        return vmm::failure(errc::read_only);
      }
      return parse_transfer(memory, chain, policy, out);
    case operation::flush:
      return {};
    case operation::get_id:
      out.data_bytes = chain.writable_bytes() - 1;
      if (out.data_bytes < id_bytes) {
        return vmm::failure(errc::id_buffer_too_short);
      }
      return {};
    case operation::discard:
    case operation::write_zeroes:
      if (policy.read_only) {
        return vmm::failure(errc::read_only);
      }
      return parse_ranges(memory, chain, policy, out);
  }
  return vmm::failure(errc::unsupported_type);
}

auto status_for(std::error_code error) noexcept -> std::uint8_t {
  if (error == errc::unsupported_type || error == errc::unsupported_segment_flags) {
    return status::unsupp;
  }
  return status::ioerr;
}

}  // namespace vmm::virtio::block
