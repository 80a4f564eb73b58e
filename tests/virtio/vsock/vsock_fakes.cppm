// vsock_fakes — the guest side of the vsock tests: guest memory with a tx and an rx chain, packets written and read
// the way a driver would, and a muxer listening in a temporary directory with host sockets around it.
export module vsock_fakes;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.vsock;

export namespace vsock_test {

namespace vs = vmm::virtio::vsock;
namespace mem = vmm::memory;
namespace q = vmm::virtio::queue;

/// The guest's CID in every test (the first one a guest may have).
inline constexpr std::uint64_t guest_cid = 3;
/// The guest's receive buffer in the tests' packets (what Linux guests advertise by default is 256 KiB; a smaller
/// one keeps credit cases short).
inline constexpr std::uint32_t guest_buf_alloc = 64U * 1024U;
/// Where the tx chain's header and payload, and the rx chain, lie in guest memory.
inline constexpr std::uint64_t tx_header_at = 0x1000;
inline constexpr std::uint64_t tx_payload_at = 0x2000;
inline constexpr std::uint64_t rx_at = 0x40000;
inline constexpr std::uint64_t memory_size = 0x100000;

/// A packet as the guest sees it.
struct packet {
  vs::header h;
  std::vector<std::byte> payload;
};

/// A guest packet header from `src_port` to host port `dst_port`.
[[nodiscard]] inline auto guest_header(std::uint16_t o, std::uint32_t src_port, std::uint32_t dst_port,
                                       std::uint16_t type = vs::socket_type::stream) -> vs::header {
  return vs::header{.src_cid = guest_cid,
                    .dst_cid = vs::host_cid,
                    .src_port = src_port,
                    .dst_port = dst_port,
                    .len = 0,
                    .type = type,
                    .op = o,
                    .flags = 0,
                    .buf_alloc = guest_buf_alloc,
                    .fwd_cnt = 0};
}

[[nodiscard]] inline auto bytes_of(std::string_view s) -> std::vector<std::byte> {
  std::vector<std::byte> out;
  for (const char c : s) {
    out.push_back(static_cast<std::byte>(c));
  }
  return out;
}

[[nodiscard]] inline auto text_of(std::span<const std::byte> b) -> std::string {
  std::string out;
  for (const std::byte c : b) {
    out.push_back(static_cast<char>(c));
  }
  return out;
}

/// The value of a result, or a thrown std::system_error (the test fails on it).
template <class T>
auto unwrap(vmm::result<T> r) -> T {
  if (!r) {
    throw std::system_error(r.error());
  }
  if constexpr (!std::is_void_v<T>) {
    return std::move(*r);
  }
}

/// Guest memory holding one tx and one rx chain.
class guest {
 public:
  guest() : memory_{make_memory()} {}

  [[nodiscard]] auto memory() const -> const mem::guest_memory& { return memory_; }

  /// A tx chain: the 44 header bytes (`header_bytes` of them: fewer to cut it short) in one descriptor, then the
  /// payload in a second one of `payload_room` bytes (default: the payload's size).
  auto tx_chain(const vs::header& h, std::span<const std::byte> payload, std::size_t header_bytes = vs::header_size,
                std::optional<std::uint32_t> payload_room = std::nullopt) -> const q::descriptor_chain& {
    const auto encoded = vs::encode(h);
    unwrap(memory_.write_all(mem::guest_address{tx_header_at}, std::span{encoded}.first(header_bytes)));
    if (!payload.empty()) {
      unwrap(memory_.write_all(mem::guest_address{tx_payload_at}, payload));
    }
    chain_.reset({});
    chain_.append({.address = mem::guest_address{tx_header_at},
                   .length = static_cast<std::uint32_t>(header_bytes),
                   .writable = false});
    const std::uint32_t room = payload_room.value_or(static_cast<std::uint32_t>(payload.size()));
    if (room != 0) {
      chain_.append({.address = mem::guest_address{tx_payload_at}, .length = room, .writable = false});
    }
    return chain_;
  }

  /// An rx chain of `room` writable bytes.
  auto rx_chain(std::uint32_t room = vs::header_size + vs::max_packet_payload) -> const q::descriptor_chain& {
    chain_.reset({});
    chain_.append({.address = mem::guest_address{rx_at}, .length = room, .writable = true});
    return chain_;
  }

  /// The packet a used rx chain of `used` bytes holds.
  [[nodiscard]] auto rx_packet(std::uint32_t used) const -> packet {
    std::array<std::byte, vs::header_size> raw{};
    unwrap(memory_.read_exact(mem::guest_address{rx_at}, raw));
    packet p{.h = vs::decode(raw), .payload = std::vector<std::byte>(used - vs::header_size)};
    if (!p.payload.empty()) {
      unwrap(memory_.read_exact(mem::guest_address{rx_at + vs::header_size}, p.payload));
    }
    return p;
  }

 private:
  static auto make_memory() -> mem::guest_memory {
    const std::array layout{mem::guest_range{.start = mem::guest_address{0}, .size = memory_size}};
    return unwrap(mem::guest_memory::anonymous(layout));
  }
  mem::guest_memory memory_;
  q::descriptor_chain chain_;
};

/// The deadlines of the timer tests: short, so that a test waits milliseconds, not Firecracker's 2 s.
inline constexpr std::chrono::milliseconds short_timeout{25};
/// The longest any test waits for a descriptor (a bound that only a broken device reaches).
inline constexpr std::chrono::milliseconds wait_limit{2000};

/// Whether `fd` became readable within `limit` (epoll; never waits longer).
[[nodiscard]] inline auto readable_within(vmm::sys::borrowed_fd fd, std::chrono::milliseconds limit = wait_limit)
    -> bool {
  const auto watcher = unwrap(vmm::sys::epoll::create());
  unwrap(watcher.add(fd, vmm::sys::event_set::readable, 0));
  std::array<vmm::sys::ready_event, 1> ready;
  return unwrap(watcher.wait(ready, limit)) == 1U;
}

/// A muxer for a guest with CID 3 whose host socket lives in a fresh temporary directory, and the guest around it.
class harness {
 public:
  explicit harness(std::size_t max_connections = 16, std::size_t max_pending_resets = 256,
                   std::chrono::milliseconds connect_timeout = std::chrono::seconds{2},
                   std::chrono::milliseconds close_timeout = std::chrono::seconds{2})
      : dir_{unwrap(vmm::sys::temp_dir::create("vsock-test-"))},
        mux_{unwrap(vs::muxer::create({.guest_cid = guest_cid,
                                       .uds_path = dir_.path() / "v.sock",
                                       .max_connections = max_connections,
                                       .max_pending_resets = max_pending_resets,
                                       .connect_timeout = connect_timeout,
                                       .close_timeout = close_timeout}))} {
    mux_->set_seqpacket(true);
  }

  [[nodiscard]] auto mux() -> vs::muxer& { return *mux_; }
  [[nodiscard]] auto vm() -> guest& { return guest_; }
  [[nodiscard]] auto uds() const -> std::filesystem::path { return dir_.path() / "v.sock"; }
  [[nodiscard]] auto seqpacket_uds() const -> std::filesystem::path { return dir_.path() / "v.sock.seqpacket"; }
  /// Where the host listens for guest connections to `port`.
  [[nodiscard]] auto port_path(std::uint32_t port) const -> std::filesystem::path {
    return dir_.path() / std::format("v.sock_{}", port);
  }
  /// A host listener for guest connections to `port`.
  [[nodiscard]] auto listen(std::uint32_t port, vmm::sys::socket_kind kind = vmm::sys::socket_kind::stream,
                            int backlog = 16) const -> vmm::sys::unix_listener {
    return unwrap(vmm::sys::unix_listener::bind(port_path(port), kind, backlog));
  }

  /// The guest sends a packet through the tx queue (header and payload in two descriptors).
  void send(vs::header h, std::span<const std::byte> payload = {}) {
    h.len = static_cast<std::uint32_t>(payload.size());
    mux_->handle_tx(guest_.memory(), guest_.tx_chain(h, payload));
  }

  /// Waits (at most wait_limit) until the muxer has an event, a passed deadline included, then handles what is
  /// ready without filling rx buffers. Returns how many events it handled.
  auto await_events() -> std::size_t {
    if (!readable_within(mux_->epoll_fd())) {
      return 0;
    }
    return unwrap(mux_->process_events());
  }

  /// Handles ready sockets until none is, then takes every packet owed to the guest through the rx queue.
  auto receive() -> std::vector<packet> {
    std::vector<packet> out;
    for (int round = 0; round < 64; ++round) {
      const std::size_t events = unwrap(mux_->process_events());
      bool any = false;
      for (;;) {
        const std::uint32_t used = unwrap(mux_->fill_rx(guest_.memory(), guest_.rx_chain()));
        if (used == 0) {
          break;
        }
        out.push_back(guest_.rx_packet(used));
        any = true;
      }
      if (events == 0 && !any) {
        break;
      }
    }
    return out;
  }

 private:
  vmm::sys::temp_dir dir_;
  std::unique_ptr<vs::muxer> mux_;
  guest guest_;
};

/// Reads what a host socket has now (non-blocking; empty when nothing).
[[nodiscard]] inline auto read_now(vmm::sys::borrowed_fd fd) -> std::string {
  unwrap(vmm::sys::set_nonblocking(fd, true));
  std::array<std::byte, 4096> buffer{};
  std::string out;
  for (;;) {
    auto n = vmm::sys::read(fd, buffer);
    if (!n || *n == 0) {
      return out;
    }
    out += text_of(std::span{buffer}.first(*n));
  }
}

/// Whether the peer of a host socket closed it (a read sees end of stream or a reset).
[[nodiscard]] inline auto peer_closed(vmm::sys::borrowed_fd fd) -> bool {
  unwrap(vmm::sys::set_nonblocking(fd, true));
  std::array<std::byte, 256> buffer{};
  for (;;) {
    auto n = vmm::sys::read(fd, buffer);
    if (!n) {
      return n.error() != std::errc::resource_unavailable_try_again;
    }
    if (*n == 0) {
      return true;
    }
  }
}

/// Writes all of `s` to a host socket.
inline void write_all(vmm::sys::borrowed_fd fd, std::string_view s) {
  const auto b = bytes_of(s);
  std::size_t off = 0;
  while (off < b.size()) {
    off += unwrap(vmm::sys::send_with_fds(fd, std::span{b}.subspan(off)));
  }
}

}  // namespace vsock_test
