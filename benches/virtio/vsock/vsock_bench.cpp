// Guest → host vsock stream throughput through vmm::virtio::vsock's muxer, against the same bytes written to and
// read from a unix socket directly. One iteration is one guest RW packet of `size` payload bytes: the device reads
// and checks the 44-byte header and the payload from a two-descriptor chain in guest memory (read_tx_packet),
// finds the connection, writes the payload to the host's unix socket, and the host reads it all back; rx packets
// the device owes the guest (credit updates) are taken from it as a driver would. bytes_per_second is the payload
// throughput, so a case over its baseline is the device's own cost per byte (the header checks, one copy out of
// guest memory, the connection lookup and credit accounting).
//
// Cases:
//   BM_virtio_vsock_guest_to_host/4096            (pr)  4 KiB packets through the muxer.
//   BM_virtio_vsock_baseline_unix_write_read/4096 (pr)  write(2) + read(2) of 4 KiB on a unix stream socket pair.
//   BM_virtio_vsock_guest_to_host/65536                 64 KiB packets (the largest a packet may carry).
//   BM_virtio_vsock_baseline_unix_write_read/65536      the same on the socket pair.
#include <benchmark/benchmark.h>

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
constexpr std::uint32_t guest_port = 1000;
constexpr std::uint32_t host_port = 52;
constexpr std::uint64_t header_at = 0x1000;
constexpr std::uint64_t payload_at = 0x10000;

template <class T>
auto unwrap(vmm::result<T> r) -> T {
  if (!r) {
    throw std::system_error(r.error());
  }
  if constexpr (!std::is_void_v<T>) {
    return std::move(*r);
  }
}

// Reads exactly `buffer.size()` bytes from a blocking socket.
void read_exactly(sys::borrowed_fd fd, std::span<std::byte> buffer) {
  std::size_t got = 0;
  while (got < buffer.size()) {
    const std::size_t n = unwrap(sys::read(fd, buffer.subspan(got)));
    if (n == 0) {
      throw std::runtime_error("socket closed");
    }
    got += n;
  }
}

void BM_virtio_vsock_guest_to_host(benchmark::State& state) {
  const auto size = static_cast<std::uint32_t>(state.range(0));
  const auto dir = unwrap(sys::temp_dir::create("vsock-bench-"));
  auto mux = unwrap(vs::muxer::create({.guest_cid = guest_cid, .uds_path = dir.path() / "v.sock"}));
  const auto listener = unwrap(sys::unix_listener::bind(dir.path() / std::format("v.sock_{}", host_port)));
  const std::array layout{mem::guest_range{.start = mem::guest_address{0}, .size = 0x100000}};
  const auto memory = unwrap(mem::guest_memory::anonymous(layout));
  q::descriptor_chain chain;
  vs::header h{.src_cid = guest_cid,
               .dst_cid = vs::host_cid,
               .src_port = guest_port,
               .dst_port = host_port,
               .len = 0,
               .type = vs::socket_type::stream,
               .op = vs::op::request,
               .flags = 0,
               .buf_alloc = 256U * 1024U,
               .fwd_cnt = 0};
  auto send = [&](const vs::header& packet) {
    unwrap(memory.write_all(mem::guest_address{header_at}, vs::encode(packet)));
    chain.reset({});
    chain.append({.address = mem::guest_address{header_at}, .length = vs::header_size});
    if (packet.len != 0) {
      chain.append({.address = mem::guest_address{payload_at}, .length = packet.len});
    }
    mux->handle_tx(memory, chain);
  };
  vs::header reply;
  std::vector<std::byte> reply_payload;
  send(h);
  if (!mux->next_rx(reply, reply_payload, vs::max_packet_payload) || reply.op != vs::op::response) {
    state.SkipWithError("the device did not accept the connection");
    return;
  }
  const auto host = unwrap(listener.accept());
  const std::vector<std::byte> payload(size, std::byte{0x5a});
  unwrap(memory.write_all(mem::guest_address{payload_at}, payload));
  std::vector<std::byte> received(size);
  h.op = vs::op::rw;
  h.len = size;

  for (auto _ : state) {
    send(h);
    read_exactly(host, received);
    while (mux->next_rx(reply, reply_payload, vs::max_packet_payload)) {
      benchmark::DoNotOptimize(reply);
    }
  }
  if (mux->counters().credit_exceeded.get() != 0 || mux->counters().socket_errors.get() != 0) {
    state.SkipWithError("the connection was reset");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * size);
}

void BM_virtio_vsock_baseline_unix_write_read(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto [guest_side, host] = unwrap(sys::socket_pair(sys::socket_kind::stream));
  const std::vector<std::byte> payload(size, std::byte{0x5a});
  std::vector<std::byte> received(size);

  for (auto _ : state) {
    std::size_t sent = 0;
    while (sent < size) {
      sent += unwrap(sys::write(guest_side, std::span{payload}.subspan(sent)));
    }
    read_exactly(host, received);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
}

}  // namespace

BENCHMARK(BM_virtio_vsock_guest_to_host)->Arg(4096)->Arg(65536);
BENCHMARK(BM_virtio_vsock_baseline_unix_write_read)->Arg(4096)->Arg(65536);
