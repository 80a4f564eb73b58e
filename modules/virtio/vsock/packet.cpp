module vmm.virtio.vsock;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;

namespace vmm::virtio::vsock {
namespace {

template <class T>
void put(std::span<std::byte> out, std::size_t offset, T value) noexcept {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out[offset + i] = static_cast<std::byte>((static_cast<std::uint64_t>(value) >> (8U * i)) & 0xFFU);
  }
}

template <class T>
auto get(std::span<const std::byte> in, std::size_t offset) noexcept -> T {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<std::uint64_t>(in[offset + i]) << (8U * i);
  }
  return static_cast<T>(value);
}

// Offsets of struct virtio_vsock_hdr's fields.
constexpr std::size_t src_cid_at = 0;
constexpr std::size_t dst_cid_at = 8;
constexpr std::size_t src_port_at = 16;
constexpr std::size_t dst_port_at = 20;
constexpr std::size_t len_at = 24;
constexpr std::size_t type_at = 28;
constexpr std::size_t op_at = 30;
constexpr std::size_t flags_at = 32;
constexpr std::size_t buf_alloc_at = 36;
constexpr std::size_t fwd_cnt_at = 40;

// Copies out.size() bytes of the buffers `parts`, starting `offset` bytes into them. The caller has checked that
// the buffers hold offset + out.size() bytes.
auto gather(const memory::guest_memory& memory, std::span<const queue::descriptor> parts, std::uint64_t offset,
            std::span<std::byte> out) -> vmm::result<void> {
  for (const auto& d : parts) {
    if (out.empty()) {
      break;
    }
    if (offset >= d.length) {
      offset -= d.length;
      continue;
    }
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(d.length - offset, out.size()));
    const auto at = d.address.checked_add(offset);
    if (!at) {
      return std::unexpected(at.error());
    }
    if (auto r = memory.read_exact(*at, out.first(n)); !r) {
      return r;
    }
    out = out.subspan(n);
    offset = 0;
  }
  return {};
}

auto scatter(const memory::guest_memory& memory, std::span<const queue::descriptor> parts, std::uint64_t offset,
             std::span<const std::byte> in) -> vmm::result<void> {
  for (const auto& d : parts) {
    if (in.empty()) {
      break;
    }
    if (offset >= d.length) {
      offset -= d.length;
      continue;
    }
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(d.length - offset, in.size()));
    const auto at = d.address.checked_add(offset);
    if (!at) {
      return std::unexpected(at.error());
    }
    if (auto r = memory.write_all(*at, in.first(n)); !r) {
      return r;
    }
    in = in.subspan(n);
    offset = 0;
  }
  return {};
}

}  // namespace

auto encode(const header& h) noexcept -> std::array<std::byte, header_size> {
  std::array<std::byte, header_size> out{};
  put(out, src_cid_at, h.src_cid);
  put(out, dst_cid_at, h.dst_cid);
  put(out, src_port_at, h.src_port);
  put(out, dst_port_at, h.dst_port);
  put(out, len_at, h.len);
  put(out, type_at, h.type);
  put(out, op_at, h.op);
  put(out, flags_at, h.flags);
  put(out, buf_alloc_at, h.buf_alloc);
  put(out, fwd_cnt_at, h.fwd_cnt);
  return out;
}

auto decode(std::span<const std::byte, header_size> bytes) noexcept -> header {
  return header{
      .src_cid = get<std::uint64_t>(bytes, src_cid_at),
      .dst_cid = get<std::uint64_t>(bytes, dst_cid_at),
      .src_port = get<std::uint32_t>(bytes, src_port_at),
      .dst_port = get<std::uint32_t>(bytes, dst_port_at),
      .len = get<std::uint32_t>(bytes, len_at),
      .type = get<std::uint16_t>(bytes, type_at),
      .op = get<std::uint16_t>(bytes, op_at),
      .flags = get<std::uint32_t>(bytes, flags_at),
      .buf_alloc = get<std::uint32_t>(bytes, buf_alloc_at),
      .fwd_cnt = get<std::uint32_t>(bytes, fwd_cnt_at),
  };
}

auto read_tx_packet(const memory::guest_memory& memory, const queue::descriptor_chain& chain, std::uint64_t guest_cid,
                    std::vector<std::byte>& payload) -> vmm::result<header> {
  payload.clear();
  if (chain.readable_bytes() < header_size) {
    return vmm::failure(errc::header_too_short);
  }
  std::array<std::byte, header_size> bytes{};
  if (auto r = gather(memory, chain.readable(), 0, bytes); !r) {
    return std::unexpected(r.error());
  }
  const header h = decode(bytes);
  if (h.src_cid != guest_cid) {
    return vmm::failure(errc::wrong_source_cid);
  }
  if (h.dst_cid != host_cid) {
    return vmm::failure(errc::wrong_destination_cid);
  }
  if (h.len > max_packet_payload) {
    return vmm::failure(errc::payload_too_long);
  }
  if (h.len > chain.readable_bytes() - header_size) {
    return vmm::failure(errc::payload_truncated);
  }
  payload.resize(h.len);
  if (auto r = gather(memory, chain.readable(), header_size, payload); !r) {
    payload.clear();
    return std::unexpected(r.error());
  }
  return h;
}

auto check_type_and_op(const header& h, bool seqpacket) noexcept -> vmm::result<void> {
  const bool known_type = h.type == socket_type::stream || (seqpacket && h.type == socket_type::seqpacket);
  if (!known_type) {
    return vmm::failure(errc::unknown_type);
  }
  if (!known_op(h.op)) {
    return vmm::failure(errc::unknown_op);
  }
  return {};
}

auto write_rx_packet(const memory::guest_memory& memory, const queue::descriptor_chain& chain, header h,
                     std::span<const std::byte> payload) -> vmm::result<std::uint32_t> {
  const std::uint64_t total = header_size + payload.size();
  if (chain.writable_bytes() < total || payload.size() > max_packet_payload) {
    return vmm::failure(errc::rx_buffer_too_small);
  }
  h.len = static_cast<std::uint32_t>(payload.size());
  const auto bytes = encode(h);
  if (auto r = scatter(memory, chain.writable(), 0, bytes); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = scatter(memory, chain.writable(), header_size, payload); !r) {
    return std::unexpected(r.error());
  }
  return static_cast<std::uint32_t>(total);
}

auto write_event(const memory::guest_memory& memory, const queue::descriptor_chain& chain, std::uint32_t id)
    -> vmm::result<std::uint32_t> {
  if (chain.writable_bytes() < event_size) {
    return vmm::failure(errc::event_buffer_too_small);
  }
  std::array<std::byte, event_size> bytes{};
  put(bytes, 0, id);
  if (auto r = scatter(memory, chain.writable(), 0, bytes); !r) {
    return std::unexpected(r.error());
  }
  return static_cast<std::uint32_t>(event_size);
}

}  // namespace vmm::virtio::vsock
