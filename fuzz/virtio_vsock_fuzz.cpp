// Fuzzes vmm.virtio.vsock's muxer and connections with a sequence of guest packets (through read_tx_packet on a
// chain in guest memory, so the header checks are fuzzed too) interleaved with host-side actions on real unix
// sockets in a temporary directory: host data, reads, closes, and host connections with CONNECT lines or garbage.
// Each operation is one input byte choosing what happens, followed by its operands. The fuzzer plays a guest that
// keeps a model of each connection's credit, and checks every packet the device sends:
//   - it is addressed from the host (CID 2) to the guest, with a known op and type, len equal to its payload and at
//     most the rx buffer the fuzzer offered;
//   - an RW packet's payload fits the credit the guest last advertised for that connection
//     (buf_alloc − (bytes received − fwd_cnt), nothing when the guest's counters make no sense), and the device's
//     own rx_count matches the bytes the guest received;
//   - after the device reset a connection it sends nothing more for that port pair until a new REQUEST;
// and nothing crashes or hangs. A mismatch calls __builtin_trap().
#include <cstddef>
#include <cstdint>

import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.vsock;

namespace {

namespace vs = vmm::virtio::vsock;
namespace sys = vmm::sys;
namespace mem = vmm::memory;
namespace q = vmm::virtio::queue;

constexpr std::uint64_t guest_cid = 3;
constexpr int max_operations = 128;
constexpr std::size_t max_host_sockets = 8;
constexpr std::uint64_t header_at = 0x1000;
constexpr std::uint64_t payload_at = 0x2000;
constexpr std::uint64_t rx_at = 0x40000;
constexpr std::array<std::uint32_t, 3> host_ports{52, 53, 54};  // stream listener, seqpacket listener, nobody
constexpr std::array<std::uint32_t, 4> guest_ports{1000, 1001, 1002, 1003};

[[noreturn]] void mismatch(std::string_view what) {
  std::println(std::cerr, "virtio_vsock_fuzz: {}", what);
  __builtin_trap();
}

void check(bool ok, std::string_view what) {
  if (!ok) [[unlikely]] {
    mismatch(what);
  }
}

class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : bytes_{data, size} {}
  [[nodiscard]] auto empty() const -> bool { return bytes_.empty(); }
  auto u8() -> std::uint8_t {
    if (bytes_.empty()) {
      return 0;
    }
    const std::uint8_t b = bytes_.front();
    bytes_ = bytes_.subspan(1);
    return b;
  }
  auto u16() -> std::uint16_t { return static_cast<std::uint16_t>(u8() | (u8() << 8U)); }
  auto u32() -> std::uint32_t { return static_cast<std::uint32_t>(u16() | (static_cast<std::uint32_t>(u16()) << 16U)); }
  auto take(std::size_t n) -> std::span<const std::uint8_t> {
    n = std::min(n, bytes_.size());
    auto out = bytes_.first(n);
    bytes_ = bytes_.subspan(n);
    return out;
  }

 private:
  std::span<const std::uint8_t> bytes_;
};

// The process-wide part: a temporary directory with host listeners for ports 52 (stream) and 53 (seqpacket).
struct environment {
  sys::temp_dir dir = sys::temp_dir::create("vsock-fuzz-").value();
  std::filesystem::path uds = dir.path() / "v.sock";
  sys::unix_listener stream = listen(52, sys::socket_kind::stream);
  sys::unix_listener seqpacket = listen(53, sys::socket_kind::seqpacket);

  [[nodiscard]] auto listen(std::uint32_t port, sys::socket_kind kind) const -> sys::unix_listener {
    auto l = sys::unix_listener::bind(dir.path() / std::format("v.sock_{}", port), kind).value();
    static_cast<void>(sys::set_nonblocking(l.fd(), true));
    return l;
  }
};

auto env() -> environment& {
  static environment e;
  return e;
}

// What the guest knows about one port pair.
struct model {
  std::uint32_t received = 0;  // RW payload bytes the device sent
  std::uint32_t buf_alloc = 0;
  std::uint32_t fwd_cnt = 0;
  bool reset = false;  // the device sent RST
};

struct rig {
  std::unique_ptr<vs::muxer> mux =
      vs::muxer::create({.guest_cid = guest_cid, .uds_path = env().uds, .max_connections = 6, .max_pending_resets = 8})
          .value();
  mem::guest_memory memory = make_memory();
  q::descriptor_chain chain;
  std::vector<sys::unique_fd> hosts;
  std::map<std::uint64_t, model> models;
  std::vector<std::byte> buffer = std::vector<std::byte>(vs::max_packet_payload);

  static auto make_memory() -> mem::guest_memory {
    const std::array layout{mem::guest_range{.start = mem::guest_address{0}, .size = 0x100000}};
    return mem::guest_memory::anonymous(layout).value();
  }
  static auto key(std::uint32_t local, std::uint32_t peer) -> std::uint64_t {
    return (static_cast<std::uint64_t>(local) << 32U) | peer;
  }

  void accept_hosts() {
    for (const auto* l : {&env().stream, &env().seqpacket}) {
      for (;;) {
        auto s = l->accept();
        if (!s) {
          break;
        }
        if (hosts.size() < max_host_sockets && sys::set_nonblocking(*s, true)) {
          hosts.push_back(std::move(*s));
        }
      }
    }
  }
};

void guest_packet(input& in, rig& r) {
  const std::uint8_t shape = in.u8();
  vs::header h{.src_cid = guest_cid,
               .dst_cid = vs::host_cid,
               .src_port = guest_ports[in.u8() % guest_ports.size()],
               .dst_port = host_ports[in.u8() % host_ports.size()],
               .len = 0,
               .type = static_cast<std::uint16_t>(1 + (in.u8() % 2U)),
               .op = static_cast<std::uint16_t>(1 + (in.u8() % 7U)),
               .flags = in.u8() % 4U,
               .buf_alloc = std::uint32_t{in.u16()},
               .fwd_cnt = std::uint32_t{in.u16()}};
  if ((shape & 1U) != 0) {  // a host-initiated connection's port pair: the local port is an ephemeral one
    h.dst_port = vs::first_local_port + (in.u8() % 4U);
    h.src_port = host_ports[in.u8() % host_ports.size()];
  }
  if ((shape & 2U) != 0) {
    h.fwd_cnt = r.models[rig::key(h.dst_port, h.src_port)].received - (in.u8() % 16U);  // a plausible fwd_cnt
  }
  // Payload: fuzz bytes, or a large run of one byte (to reach the device's buffer limits).
  std::size_t len = in.u8();
  if ((shape & 4U) != 0) {
    len = std::size_t{in.u16()};
  }
  const auto bytes = in.take(64);
  for (std::size_t i = 0; i < len; ++i) {
    r.buffer[i] = bytes.empty() ? std::byte{'x'} : static_cast<std::byte>(bytes[i % bytes.size()]);
  }
  h.len = static_cast<std::uint32_t>(len);
  if ((shape & 8U) != 0) {  // corrupt one header field
    switch (in.u8() % 6U) {
      case 0:
        h.src_cid = in.u32();
        break;
      case 1:
        h.dst_cid = in.u8();
        break;
      case 2:
        h.len = in.u32();
        break;
      case 3:
        h.type = in.u16();
        break;
      case 4:
        h.op = in.u16();
        break;
      default:
        h.flags = in.u32();
        break;
    }
  }
  const std::size_t header_bytes = (shape & 16U) != 0 ? in.u8() % vs::header_size : vs::header_size;
  const auto encoded = vs::encode(h);
  static_cast<void>(r.memory.write_all(mem::guest_address{header_at}, std::span{encoded}.first(header_bytes)));
  static_cast<void>(r.memory.write_all(mem::guest_address{payload_at}, std::span{r.buffer}.first(len)));
  r.chain.reset({});
  r.chain.append({.address = mem::guest_address{header_at}, .length = static_cast<std::uint32_t>(header_bytes)});
  if (len != 0) {
    r.chain.append({.address = mem::guest_address{payload_at}, .length = static_cast<std::uint32_t>(len)});
  }

  // The guest's model follows what the device will accept as this connection's credit information.
  const std::uint64_t k = rig::key(h.dst_port, h.src_port);
  // The connection's state before the packet, read now: handling the packet may close and free the connection.
  std::optional<vs::connection_state> before;
  if (const auto* c = r.mux->find(h.dst_port, h.src_port); c != nullptr) {
    before = c->state();
  }
  const bool accepted = header_bytes == vs::header_size && h.src_cid == guest_cid && h.dst_cid == vs::host_cid &&
                        h.len == len && vs::check_type_and_op(h, true).has_value();
  r.mux->handle_tx(r.memory, r.chain);
  if (!accepted) {
    return;
  }
  if (!before) {
    if (h.op == vs::op::request && r.mux->find(h.dst_port, h.src_port) != nullptr) {
      r.models[k] = model{.received = 0, .buf_alloc = h.buf_alloc, .fwd_cnt = h.fwd_cnt, .reset = false};
    }
  } else if (*before == vs::connection_state::connecting || *before == vs::connection_state::established) {
    auto& m = r.models[k];
    m.buf_alloc = h.buf_alloc;
    m.fwd_cnt = h.fwd_cnt;
  }
}

void drain_rx(input& in, rig& r) {
  const std::size_t room =
      (in.u8() % 2U) != 0 ? std::size_t{in.u16()} % (vs::max_packet_payload + 1) : vs::max_packet_payload;
  r.chain.reset({});
  r.chain.append({.address = mem::guest_address{rx_at},
                  .length = static_cast<std::uint32_t>(vs::header_size + room),
                  .writable = true});
  for (int i = 0; i < 64; ++i) {
    auto used = r.mux->fill_rx(r.memory, r.chain);
    check(used.has_value(), "fill_rx failed on a large enough buffer");
    if (*used == 0) {
      return;
    }
    std::array<std::byte, vs::header_size> raw{};
    check(r.memory.read_exact(mem::guest_address{rx_at}, raw).has_value(), "rx header unreadable");
    const auto h = vs::decode(raw);
    check(*used == vs::header_size + h.len && h.len <= room, "len disagrees with the used length or the buffer");
    check(h.src_cid == vs::host_cid && h.dst_cid == guest_cid, "packet not from host to guest");
    check(vs::known_op(h.op), "unknown op sent to the guest");
    check(h.type == vs::socket_type::stream || h.type == vs::socket_type::seqpacket, "unknown type sent");
    const std::uint64_t k = rig::key(h.src_port, h.dst_port);
    auto& m = r.models[k];
    if (h.op == vs::op::request) {
      m = model{};  // a new host-initiated connection: the guest has advertised nothing yet
      continue;
    }
    check(!m.reset || h.op == vs::op::rst, "packet for a port pair after its reset");
    if (h.op == vs::op::rst) {
      m.reset = true;
      continue;
    }
    if (h.op == vs::op::rw) {
      const std::uint32_t in_flight = m.received - m.fwd_cnt;
      check(in_flight <= m.buf_alloc && h.len <= m.buf_alloc - in_flight, "RW beyond the guest's credit");
      m.received += h.len;
      if (const auto* c = r.mux->find(h.src_port, h.dst_port); c != nullptr) {
        check(c->rx_count() == m.received, "rx_count disagrees with the bytes the guest received");
      }
    }
  }
}

void host_action(input& in, rig& r) {
  r.accept_hosts();
  if (r.hosts.empty()) {
    return;
  }
  const std::size_t i = in.u8() % r.hosts.size();
  switch (in.u8() % 3U) {
    case 0: {  // write
      const auto data = in.take(in.u8());
      static_cast<void>(sys::send_with_fds(r.hosts[i], std::as_bytes(data)));
      break;
    }
    case 1: {  // read and discard
      std::array<std::byte, 4096> sink{};
      for (int n = 0; n < 64; ++n) {
        auto got = sys::read(r.hosts[i], sink);
        if (!got || *got == 0) {
          break;
        }
      }
      break;
    }
    default:
      r.hosts.erase(r.hosts.begin() + static_cast<std::ptrdiff_t>(i));
      break;
  }
}

void host_connect(input& in, rig& r) {
  if (r.hosts.size() >= max_host_sockets) {
    return;
  }
  const std::uint8_t how = in.u8();
  auto path = env().uds;
  const auto kind = (how & 1U) != 0 ? sys::socket_kind::seqpacket : sys::socket_kind::stream;
  if (kind == sys::socket_kind::seqpacket) {
    path += vs::seqpacket_listener_suffix;
  }
  auto s = sys::unix_connect_nonblocking(path, kind);
  if (!s) {
    return;
  }
  if ((how & 2U) != 0) {
    const auto line = std::format("CONNECT {}\n", guest_ports[in.u8() % guest_ports.size()]);
    static_cast<void>(sys::send_with_fds(*s, std::as_bytes(std::span{line})));
  } else {
    const auto data = in.take(in.u8() % 48U);
    static_cast<void>(sys::send_with_fds(*s, std::as_bytes(data)));
  }
  r.hosts.push_back(std::move(*s));
}

}  // namespace

extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) -> int {
  input in{data, size};
  rig r;
  r.mux->set_seqpacket((in.u8() & 1U) != 0);
  for (int i = 0; i < max_operations && !in.empty(); ++i) {
    switch (in.u8() % 6U) {
      case 0:
      case 1:
        guest_packet(in, r);
        break;
      case 2:
        drain_rx(in, r);
        break;
      case 3:
        host_action(in, r);
        break;
      case 4:
        host_connect(in, r);
        break;
      default:
        check(r.mux->process_events().has_value(), "process_events failed");
        break;
    }
  }
  return 0;
}
