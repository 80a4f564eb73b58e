module vmm.virtio.net;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;

namespace vmm::virtio::net {

auto gather_tx_frame(const memory::guest_memory& memory, const queue::descriptor_chain& chain, std::uint64_t features,
                     std::vector<sys::io_buffer>& frame_buffers) -> vmm::result<tx_frame> {
  frame_buffers.clear();
  if (chain.readable_bytes() < header_size) {
    return vmm::failure(errc::short_header);
  }
  tx_frame frame;
  frame.frame_length = chain.readable_bytes() - header_size;
  if (frame.frame_length > max_frame_bytes) {
    return vmm::failure(errc::frame_too_large);
  }
  // The header may be split across descriptors: copy it piece by piece.
  std::size_t copied = 0;
  std::size_t index = 0;
  std::uint64_t offset_in_descriptor = 0;
  const auto readable = chain.readable();
  while (copied < header_size) {
    const auto& d = readable[index];
    const auto piece = static_cast<std::size_t>(std::min<std::uint64_t>(d.length, header_size - copied));
    if (piece > 0) {
      if (auto r = memory.read_exact(d.address, std::span{frame.header_bytes}.subspan(copied, piece)); !r) {
        return std::unexpected(r.error());
      }
    }
    copied += piece;
    offset_in_descriptor = piece;
    ++index;
  }
  --index;  // the descriptor the header ended in
  frame.header = decode_header(frame.header_bytes);
  if (auto valid = validate_tx_header(frame.header, frame.frame_length, features); !valid) {
    return std::unexpected(valid.error());
  }
  // One buffer stays free for the header copy in front of the frame.
  constexpr std::size_t max_buffers = sys::max_io_buffers - 1;
  for (std::size_t i = index; i < readable.size(); ++i) {
    const auto& d = readable[i];
    const std::uint64_t skip = i == index ? offset_in_descriptor : 0;
    const std::uint64_t length = d.length - skip;
    if (length == 0) {
      continue;
    }
    auto start = d.address.checked_add(skip);
    if (!start) {
      frame_buffers.clear();
      return std::unexpected(start.error());
    }
    if (auto r = memory.append_io_buffers(*start, length, memory::access::read, frame_buffers, max_buffers); !r) {
      frame_buffers.clear();
      if (r.error() == memory::errc::too_many_buffers) {
        return vmm::failure(errc::too_many_buffers);
      }
      return std::unexpected(r.error());
    }
  }
  return frame;
}

auto write_to_chain(const memory::guest_memory& memory, const queue::descriptor_chain& chain, std::uint64_t offset,
                    std::span<const std::byte> bytes) -> vmm::result<std::uint64_t> {
  std::uint64_t written = 0;
  std::uint64_t skip = offset;
  for (const auto& d : chain.writable()) {
    if (written == bytes.size()) {
      break;
    }
    if (skip >= d.length) {
      skip -= d.length;
      continue;
    }
    const std::uint64_t room = d.length - skip;
    const auto piece = static_cast<std::size_t>(std::min<std::uint64_t>(room, bytes.size() - written));
    auto start = d.address.checked_add(skip);
    if (!start) {
      return std::unexpected(start.error());
    }
    if (auto r = memory.write_all(*start, bytes.subspan(static_cast<std::size_t>(written), piece)); !r) {
      return std::unexpected(r.error());
    }
    written += piece;
    skip = 0;
  }
  return written;
}

}  // namespace vmm::virtio::net
