// The network device on a real tap, end to end: each case forks a child that enters a user and network namespace of
// its own (uid mapped to 0 there), creates a tap, brings it up, and runs the device through mock-driver queues and
// the handler on an event manager, with an AF_PACKET socket on the interface as the host side. Cases: transmit
// (the frame arrives on the interface), malformed transmit frames (dropped, counted, the next one unaffected),
// receive into one chain and across several (MRG_RXBUF, num_buffers), receive with no rx chain (the tap is no longer
// watched, and reading resumes on the rx notification), the device interface, tap refusals, oversize frames,
// refused activations and a second activation. Each case skips with a message where
// unshare or /dev/net/tun is not allowed. A failed check throws in the child; its message comes back through a pipe.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

import std;
import vmm.sys;
import vmm.memory;
import vmm.event_manager;
import vmm.virtio.queue;
import vmm.virtio.device;
import vmm.virtio.net;
import vmm.testing;

// The coverage runtime's writer, present only in instrumented builds: a forked child leaves through _exit, which
// skips the runtime's own exit hook, so the child writes its profile itself (to its own %p file).
extern "C" __attribute__((weak)) int __llvm_profile_write_file();  // NOLINT(*-reserved-identifier,modernize-*)

namespace mem = vmm::memory;
namespace q = vmm::virtio::queue;
namespace net = vmm::virtio::net;
using mem::guest_address;
using vmm::testing::driver_buffer;
using vmm::testing::used_buffer;

namespace {

constexpr int skip_status = 77;
constexpr std::string_view interface = "vnet0";
// A local experimental EtherType, so the kernel's own traffic on the interface is told apart.
constexpr std::uint16_t test_ethertype = 0x88b5;
constexpr std::array<std::uint8_t, 6> guest_mac{0x02, 0, 0, 0, 0, 1};
constexpr std::uint64_t version_1 = std::uint64_t{1} << q::feature::version_1;
constexpr std::uint64_t mrg_rxbuf = std::uint64_t{1} << net::feature::mrg_rxbuf;

// Why the child stopped: a failed check.
struct check_failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check(bool ok, std::string_view what) {
  if (!ok) {
    throw check_failed{std::string{what}};
  }
}

template <class T>
auto need(vmm::result<T> r, std::string_view what) -> T {
  if (!r) {
    throw check_failed{std::format("{}: {}", what, r.error().message())};
  }
  if constexpr (!std::is_void_v<T>) {
    return *std::move(r);
  }
}

void write_file(const std::string& path, std::string_view text) {
  std::ofstream file{path};
  file << text;
  file.close();
  if (!file) {
    throw std::runtime_error{"cannot write " + path};
  }
}

// unshare(CLONE_NEWUSER | CLONE_NEWNET) with this uid and gid mapped to 0: CAP_NET_ADMIN in a network of our own.
auto enter_namespace() -> std::string {
  const auto uid = ::getuid();
  const auto gid = ::getgid();
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
    return std::format("unshare(CLONE_NEWUSER | CLONE_NEWNET): {}", std::strerror(errno));
  }
  try {
    write_file("/proc/self/setgroups", "deny");
    write_file("/proc/self/uid_map", std::format("0 {} 1", uid));
    write_file("/proc/self/gid_map", std::format("0 {} 1", gid));
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

// The kernel would send IPv6 neighbour discovery on a new interface; the frames under test are alone without it.
// Then IFF_UP: a tap that is down refuses writes (EIO) and gets no frames.
auto bring_up(const std::string& name, bool up = true) -> std::string {
  try {
    write_file(std::format("/proc/sys/net/ipv6/conf/{}/disable_ipv6", name), "1");
  } catch (const std::exception&) {
    // No IPv6 in this kernel: nothing to silence.
  }
  const vmm::sys::unique_fd s{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  ::ifreq request{};
  std::ranges::copy(name, std::begin(request.ifr_name));
  if (!s.valid() || !vmm::sys::ioctl_with_mut_ref(s, SIOCGIFFLAGS, request)) {
    return std::format("SIOCGIFFLAGS: {}", std::strerror(errno));
  }
  request.ifr_flags = static_cast<short>(up ? (request.ifr_flags | IFF_UP) : (request.ifr_flags & ~IFF_UP));
  if (!vmm::sys::ioctl_with_mut_ref(s, SIOCSIFFLAGS, request)) {
    return std::format("SIOCSIFFLAGS: {}", std::strerror(errno));
  }
  return {};
}

// Runs `body` with a fresh tap in a child in namespaces of its own; skips with a message where that is not allowed.
void with_tap(const std::function<void(net::tap)>& body) {
  auto [reader, writer] = vmm::sys::make_pipe().value();
  const auto report = [&](std::string_view text) {
    static_cast<void>(vmm::sys::write(writer, std::as_bytes(std::span{text.data(), text.size()})));
  };
  const int status = vmm::testing::wait_status_of_child([&] {
    reader.reset();
    if (auto why = enter_namespace(); !why.empty()) {
      report(why);
      ::_exit(skip_status);
    }
    auto tap = net::tap::open(interface);
    if (!tap) {
      report(std::format("opening a tap on /dev/net/tun: {}", tap.error().message()));
      ::_exit(skip_status);
    }
    if (auto why = bring_up(tap->name()); !why.empty()) {
      report(why);
      ::_exit(skip_status);
    }
    const auto write_profile = [] {
      if (__llvm_profile_write_file != nullptr) {
        static_cast<void>(__llvm_profile_write_file());
      }
    };
    try {
      body(std::move(*tap));
    } catch (const std::exception& e) {
      report(e.what());
      write_profile();
      throw;
    }
    write_profile();
  });
  writer.reset();
  std::string message;
  std::array<std::byte, 512> chunk{};
  while (true) {
    const auto n = vmm::sys::read(reader, chunk);
    if (!n || *n == 0) {
      break;
    }
    message.append(reinterpret_cast<const char*>(chunk.data()), *n);  // NOLINT(*-reinterpret-cast)
  }
  if (vmm::testing::exited_with(status, skip_status)) {
    BOOST_TEST_MESSAGE("skipped: " << message);
    return;
  }
  BOOST_TEST(vmm::testing::exited_with(status, vmm::testing::child_returned_status), message);
}

// An AF_PACKET socket on the interface: the host side of the wire.
class wire {
 public:
  explicit wire(const std::string& name) : fd_{::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL))} {
    check(fd_.valid(), "AF_PACKET socket");
    ::sockaddr_ll address{};
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = static_cast<int>(::if_nametoindex(name.c_str()));
    // NOLINTNEXTLINE(*-reinterpret-cast): the sockets API takes a sockaddr_ll as a sockaddr.
    check(::bind(fd_.get(), reinterpret_cast<const ::sockaddr*>(&address), sizeof(address)) == 0, "bind");
  }

  void send(std::span<const std::byte> frame) const {
    check(::send(fd_.get(), frame.data(), frame.size(), 0) == static_cast<::ssize_t>(frame.size()), "send");
  }

  // The next frame of the test's EtherType that came in from the tap (outgoing copies skipped), or nothing within
  // a second.
  [[nodiscard]] auto receive() const -> std::optional<std::vector<std::byte>> {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{1};
    while (std::chrono::steady_clock::now() < give_up) {
      ::pollfd p{.fd = fd_.get(), .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 100) <= 0) {
        continue;
      }
      std::vector<std::byte> frame(2048);
      ::sockaddr_ll from{};
      ::socklen_t length = sizeof(from);
      // NOLINTNEXTLINE(*-reinterpret-cast): as bind.
      const auto n =
          ::recvfrom(fd_.get(), frame.data(), frame.size(), 0, reinterpret_cast<::sockaddr*>(&from), &length);
      if (n < 14 || from.sll_pkttype == PACKET_OUTGOING) {
        continue;
      }
      frame.resize(static_cast<std::size_t>(n));
      if (std::to_integer<unsigned>(frame[12]) == (test_ethertype >> 8U) &&
          std::to_integer<unsigned>(frame[13]) == (test_ethertype & 0xffU)) {
        return frame;
      }
    }
    return std::nullopt;
  }

 private:
  vmm::sys::unique_fd fd_;
};

// An Ethernet frame of `length` bytes to the guest's MAC with the test EtherType and a counting payload.
auto test_frame(std::size_t length, std::uint8_t seed) -> std::vector<std::byte> {
  std::vector<std::byte> frame(length);
  for (std::size_t i = 0; i < 6; ++i) {
    frame[i] = static_cast<std::byte>(guest_mac[i]);
    frame[6 + i] = std::byte{0x02};
  }
  frame[12] = static_cast<std::byte>(test_ethertype >> 8U);
  frame[13] = static_cast<std::byte>(test_ethertype & 0xffU);
  for (std::size_t i = 14; i < length; ++i) {
    frame[i] = static_cast<std::byte>((i + seed) & 0xffU);
  }
  return frame;
}

// Counts signals; fails them (as an irqfd write could) while `fail` is set.
class counting_interrupt final : public vmm::virtio::device::virtio_interrupt {
 public:
  auto signal(vmm::virtio::device::interrupt_cause /*cause*/) -> vmm::result<void> override {
    if (fail) {
      return vmm::os_failure(EIO);
    }
    ++count;
    return {};
  }
  int count = 0;
  bool fail = false;
};

// The device on `tap`, activated with split rx and tx queues of 16 that mock drivers play the guest of, and its
// handler on an event manager. Rings at 0x0-0x6000, buffers from 0x10000, one read-only page at 0x200000.
struct rig {
  mem::guest_memory memory;
  std::shared_ptr<net::net_device> device;
  std::shared_ptr<counting_interrupt> interrupt = std::make_shared<counting_interrupt>();
  vmm::sys::event_fd rx_kick = need(vmm::sys::event_fd::create({.nonblocking = true}), "eventfd");
  vmm::sys::event_fd tx_kick = need(vmm::sys::event_fd::create({.nonblocking = true}), "eventfd");
  vmm::event_manager::dynamic_event_manager manager = need(vmm::event_manager::dynamic_event_manager::create(), "em");
  net::net_handler* handler = nullptr;
  std::optional<vmm::testing::split_driver> rx;
  std::optional<vmm::testing::split_driver> tx;
  // With VIRTIO_F_RING_PACKED in the features: packed rings in the same places instead of rx and tx.
  std::optional<vmm::testing::packed_driver> packed_rx;
  std::optional<vmm::testing::packed_driver> packed_tx;
  std::string name;

  rig(net::tap tap, std::uint64_t features) : name{tap.name()} {
    auto rw = need(mem::guest_region::anonymous(guest_address{0}, 0x100000), "region");
    auto ro = need(mem::guest_region::anonymous(guest_address{0x200000}, 0x1000, {.read_only = true}), "region");
    memory = need(mem::guest_memory::create({std::move(rw), std::move(ro)}), "guest memory");
    device = need(net::net_device::create(std::move(tap), {.mac = guest_mac, .mtu = 1500}), "device");
    auto owned = std::make_unique<net::net_handler>(device);
    handler = owned.get();
    need(manager.add_subscriber(std::move(owned)), "add_subscriber");
    need(device->activate(activation_for(features)), "activate");
    run_once();  // the activation
  }

  // Lays out fresh rx and tx rings (new drivers) and returns the activation a transport would pass for them.
  auto activation_for(std::uint64_t features) -> vmm::virtio::device::activation {
    q::queue_config rx_config;
    q::queue_config tx_config;
    if (q::has_feature(features, q::feature::ring_packed)) {
      packed_rx.emplace(memory, 16, guest_address{0x0}, guest_address{0x1000}, guest_address{0x2000});
      packed_tx.emplace(memory, 16, guest_address{0x3000}, guest_address{0x4000}, guest_address{0x5000});
      rx_config = packed_rx->config();
      tx_config = packed_tx->config();
    } else {
      rx.emplace(memory, 16, guest_address{0x0}, guest_address{0x1000}, guest_address{0x2000});
      tx.emplace(memory, 16, guest_address{0x3000}, guest_address{0x4000}, guest_address{0x5000});
      rx_config = rx->config();
      tx_config = tx->config();
    }
    vmm::virtio::device::activation a;
    a.features = features;
    a.memory = std::make_shared<const mem::atomic_guest_memory>(memory);
    a.queues.push_back(need(q::virtqueue::create(rx_config, features, memory), "rx queue"));
    a.queues.push_back(need(q::virtqueue::create(tx_config, features, memory), "tx queue"));
    a.queue_events = {rx_kick.fd(), tx_kick.fd()};
    a.interrupt = interrupt;
    return a;
  }

  void run_once() { need(manager.run_with_timeout(std::chrono::milliseconds{200}), "run"); }

  // Runs the loop until `done` holds, for at most a second.
  void run_until(const std::function<bool()>& done) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{1};
    while (!done() && std::chrono::steady_clock::now() < give_up) {
      need(manager.run_with_timeout(std::chrono::milliseconds{20}), "run");
    }
  }

  // Puts `frame` behind a header into tx buffer memory at `address` and offers it as one readable buffer.
  void transmit(std::uint64_t address, const net::net_header& header, std::span<const std::byte> frame) {
    need(memory.write_all(guest_address{address}, net::encode_header(header)), "header");
    need(memory.write_all(guest_address{address + net::header_size}, frame), "frame");
    const std::array buffers{driver_buffer{.address = guest_address{address},
                                           .length = static_cast<std::uint32_t>(net::header_size + frame.size()),
                                           .writable = false}};
    if (packed_tx) {
      packed_tx->add_chain(buffers);
    } else {
      tx->offer(buffers);
    }
  }

  void offer_rx(std::uint64_t address, std::uint32_t length) {
    const std::array buffers{driver_buffer{.address = guest_address{address}, .length = length, .writable = true}};
    if (packed_rx) {
      packed_rx->add_chain(buffers);
    } else {
      rx->offer(buffers);
    }
  }

  [[nodiscard]] auto read(std::uint64_t address, std::size_t length) const -> std::vector<std::byte> {
    std::vector<std::byte> bytes(length);
    need(memory.read_exact(guest_address{address}, bytes), "read back");
    return bytes;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(net_tap)

BOOST_AUTO_TEST_CASE(a_transmitted_frame_arrives_on_the_interface_and_its_chain_is_returned) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1};
    const wire host{r.name};
    const auto frame = test_frame(100, 1);
    r.transmit(0x10000, {}, frame);

    need(r.tx_kick.write(), "kick");
    r.run_until([&] { return r.device->metrics().tx_frames == 1; });

    const auto got = host.receive();
    check(got.has_value() && *got == frame, "the frame on the wire is the guest's");
    check(r.tx->take_used() == used_buffer{.id = 0, .length = 0}, "tx chain used with length 0");
    check(r.device->metrics().tx_bytes == 100, "tx_bytes");
    check(r.interrupt->count >= 1, "interrupt");
  });
}

BOOST_AUTO_TEST_CASE(with_packed_rings_a_frame_goes_out_and_one_comes_in_through_the_tap) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1 | (std::uint64_t{1} << q::feature::ring_packed)};
    check(r.packed_rx.has_value() && r.packed_tx.has_value() && !r.rx && !r.tx, "packed rings in use");
    const wire host{r.name};
    const auto out = test_frame(100, 4);
    r.transmit(0x10000, {}, out);
    r.offer_rx(0x20000, 2048);

    need(r.tx_kick.write(), "kick");
    r.run_until([&] { return r.device->metrics().tx_frames == 1; });
    const auto sent = host.receive();
    check(sent.has_value() && *sent == out, "the guest's frame is on the wire");
    const auto tx_used = r.packed_tx->take_used();
    check(tx_used.has_value() && tx_used->length == 0, "tx chain used with length 0");

    const auto in = test_frame(90, 5);
    host.send(in);
    r.run_until([&] { return r.device->metrics().rx_frames == 1; });
    const auto rx_used = r.packed_rx->take_used();
    check(rx_used.has_value() && rx_used->length == net::header_size + in.size(), "rx used length: header + frame");
    const auto header_bytes = r.read(0x20000, net::header_size);
    check(net::decode_header(std::span<const std::byte, net::header_size>{header_bytes}).num_buffers == 1,
          "num_buffers 1");
    check(r.read(0x20000 + net::header_size, in.size()) == in, "the wire's frame follows the header");
    check(!r.packed_rx->take_used() && !r.packed_tx->take_used(), "nothing else used");
    check(r.interrupt->count >= 2, "interrupts");
  });
}

BOOST_AUTO_TEST_CASE(malformed_transmit_frames_are_dropped_and_counted_and_the_next_one_is_sent) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1};
    const wire host{r.name};
    const auto good = test_frame(64, 2);
    r.transmit(0x10000, {.gso_type = 7}, good);  // an unknown GSO type
    r.transmit(0x11000, {.num_buffers = 3}, good);
    const std::array short_chain{driver_buffer{.address = guest_address{0x12000}, .length = 8, .writable = false}};
    r.tx->offer(short_chain);
    r.tx->write_descriptor(12, {.addr = 0x7fff'0000'0000, .len = 100, .flags = 0, .next = 0});
    r.tx->push_head(12);
    r.tx->publish();
    r.transmit(0x13000, {}, good);

    need(r.tx_kick.write(), "kick");
    r.run_until([&] { return r.device->metrics().tx_frames == 1; });

    const auto got = host.receive();
    check(got.has_value() && *got == good, "the good frame arrives");
    check(!host.receive().has_value(), "nothing else arrives");
    check(r.device->metrics().tx_malformed == 3, "three malformed frames counted");
    check(r.device->metrics().tx_invalid_chains == 1, "the chain outside guest memory counted");
    for (int i = 0; i < 5; ++i) {
      check(r.tx->take_used().value_or(used_buffer{.length = 1}).length == 0, "each chain used with length 0");
    }
  });
}

BOOST_AUTO_TEST_CASE(a_received_frame_fills_one_rx_chain_behind_a_header_with_num_buffers_one) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1};
    const wire host{r.name};
    r.offer_rx(0x20000, 2048);
    const auto frame = test_frame(90, 3);

    host.send(frame);
    r.run_until([&] { return r.device->metrics().rx_frames == 1; });

    const auto used = r.rx->take_used();
    check(used.has_value() && used->length == net::header_size + frame.size(), "rx used length: header + frame");
    const auto header_bytes = r.read(0x20000, net::header_size);
    const auto header = net::decode_header(std::span<const std::byte, net::header_size>{header_bytes});
    check(header.num_buffers == 1, "num_buffers 1");
    check(r.read(0x20000 + net::header_size, frame.size()) == frame, "the frame follows the header");
    check(r.interrupt->count >= 1, "interrupt");
  });
}

BOOST_AUTO_TEST_CASE(with_mergeable_buffers_a_frame_spans_several_chains_and_num_buffers_counts_them) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1 | mrg_rxbuf};
    const wire host{r.name};
    // 64-byte chains: 12 + 150 bytes take three of them (64 + 64 + 34).
    r.offer_rx(0x20000, 64);
    r.offer_rx(0x21000, 64);
    r.offer_rx(0x22000, 64);
    r.offer_rx(0x23000, 64);
    const auto frame = test_frame(150, 4);

    host.send(frame);
    r.run_until([&] { return r.device->metrics().rx_frames == 1; });

    check(r.rx->take_used().value_or(used_buffer{}).length == 64, "first chain full");
    check(r.rx->take_used().value_or(used_buffer{}).length == 64, "second chain full");
    check(r.rx->take_used().value_or(used_buffer{}).length == 34, "third chain holds the rest");
    check(!r.rx->take_used().has_value(), "the fourth chain is still the driver's");
    const auto header_bytes = r.read(0x20000, net::header_size);
    check(net::decode_header(std::span<const std::byte, net::header_size>{header_bytes}).num_buffers == 3,
          "num_buffers 3");
    std::vector<std::byte> joined = r.read(0x20000 + net::header_size, 64 - net::header_size);
    const auto second = r.read(0x21000, 64);
    const auto third = r.read(0x22000, 34);
    joined.insert(joined.end(), second.begin(), second.end());
    joined.insert(joined.end(), third.begin(), third.end());
    check(joined == frame, "the chains hold the frame in order");
    check(r.device->metrics().rx_buffers == 3, "rx_buffers");
  });
}

BOOST_AUTO_TEST_CASE(without_rx_chains_the_tap_is_not_watched_until_the_rx_queue_is_notified) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1};
    const wire host{r.name};
    const auto frame = test_frame(80, 5);

    host.send(frame);
    r.run_until([&] { return r.device->metrics().rx_blocked == 1; });
    check(!r.handler->watching_tap(), "the tap is no longer watched");
    check(r.manager.run_with_timeout(std::chrono::milliseconds{50}).value_or(1) == 0, "nothing busy-loops");

    r.offer_rx(0x20000, 2048);
    need(r.rx_kick.write(), "kick");
    r.run_until([&] { return r.device->metrics().rx_frames == 1; });

    check(r.rx->take_used().value_or(used_buffer{}).length == net::header_size + frame.size(), "delivered later");
    check(r.handler->watching_tap(), "the tap is watched again");
    check(r.read(0x20000 + net::header_size, frame.size()) == frame, "the frame that waited");
  });
}

BOOST_AUTO_TEST_CASE(an_rx_chain_too_small_for_a_header_is_returned_empty_and_the_next_chain_gets_the_frame) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1};
    const wire host{r.name};
    r.offer_rx(0x20000, 8);
    r.offer_rx(0x21000, 2048);
    const auto frame = test_frame(70, 6);

    host.send(frame);
    r.run_until([&] { return r.device->metrics().rx_frames == 1; });

    check(r.rx->take_used() == used_buffer{.id = 0, .length = 0}, "the small chain comes back empty");
    check(r.rx->take_used().value_or(used_buffer{}).length == net::header_size + frame.size(), "the next one has it");
    check(r.device->metrics().rx_bad_buffers == 1, "rx_bad_buffers");
  });
}

BOOST_AUTO_TEST_CASE(the_device_describes_itself_and_refuses_broken_activations) {
  with_tap([](net::tap tap) {
    const std::string name = tap.name();
    const auto offloads = tap.offloads();
    auto device = need(net::net_device::create(std::move(tap), {.mac = guest_mac, .mtu = 9000}), "device");

    check(device->device_type() == vmm::virtio::device::device_id::net, "device id");
    check(device->device_features() == net::features_for_offloads(offloads), "features follow the tap");
    check(device->queue_max_sizes().size() == 2, "two queues");
    check(device->tap_name() == name, "tap name");
    std::array<std::byte, 16> config{};
    config.fill(std::byte{0xee});
    device->read_config(0, config);
    check(std::to_integer<int>(config[0]) == 0x02 && std::to_integer<int>(config[10]) == (9000 & 0xff), "config");
    check(std::to_integer<int>(config[12]) == 0 && std::to_integer<int>(config[15]) == 0, "zero past the end");
    std::array<std::byte, 2> tail{};
    device->read_config(11, tail);
    check(std::to_integer<int>(tail[0]) == (9000 >> 8) && std::to_integer<int>(tail[1]) == 0, "a read across the end");
    device->write_config(0, config);
    check(device->metrics().ignored_config_writes == 1, "config write ignored");
    const auto json = device->metrics().to_json();
    check(json.starts_with(R"({"tx_frames":0,)") && json.ends_with(R"("ignored_config_writes":1})"), "metrics JSON");

    vmm::virtio::device::activation none;
    check(device->activate(std::move(none)).error_or({}) == make_error_code(net::errc::wrong_queue_count),
          "activation without queues");
    check(!device->active() && device->acked_features() == 0, "still inactive");
    check(device->process_tx().has_value() && !device->process_rx().value_or(true), "idle while inactive");
  });
}

BOOST_AUTO_TEST_CASE(a_frame_the_tap_refuses_is_dropped_and_counted_and_its_chain_returned) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1};
    check(bring_up(r.name, false).empty(), "interface down");  // a tap that is down refuses writes with EIO
    r.transmit(0x10000, {}, test_frame(60, 7));

    need(r.tx_kick.write(), "kick");
    r.run_until([&] { return r.device->metrics().tx_tap_errors == 1; });

    check(r.device->metrics().tx_tap_errors == 1 && r.device->metrics().tx_frames == 0, "tx_tap_errors");
    check(r.tx->take_used() == used_buffer{.id = 0, .length = 0}, "the chain comes back");
  });
}

BOOST_AUTO_TEST_CASE(an_oversize_transmit_chain_is_dropped_without_reaching_the_wire) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1};
    const wire host{r.name};
    const std::array big{
        driver_buffer{.address = guest_address{0x10000},
                      .length = static_cast<std::uint32_t>(net::header_size + net::max_frame_bytes + 1),
                      .writable = false}};
    r.tx->offer(big);

    need(r.tx_kick.write(), "kick");
    r.run_until([&] { return r.device->metrics().tx_malformed == 1; });

    check(r.device->metrics().tx_malformed == 1, "tx_malformed");
    check(!host.receive().has_value(), "nothing on the wire");
    check(r.tx->take_used() == used_buffer{.id = 0, .length = 0}, "the chain comes back");
  });
}

BOOST_AUTO_TEST_CASE(activations_twice_without_memory_or_interrupt_or_with_broken_features_are_refused) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1};
    const auto code = [](const vmm::result<void>& result) {
      return result.error_or(std::error_code{});
    };
    const auto twice = r.device->activate(r.activation_for(version_1));
    r.device->reset();
    r.run_once();
    auto no_memory = r.activation_for(version_1);
    no_memory.memory = nullptr;
    auto no_interrupt = r.activation_for(version_1);
    no_interrupt.interrupt = nullptr;
    const std::uint64_t tso_without_csum = version_1 | (std::uint64_t{1} << net::feature::host_tso4);

    check(code(twice) == make_error_code(net::errc::already_active), "twice");
    check(code(r.device->activate(std::move(no_memory))) == make_error_code(net::errc::no_memory), "no memory");
    check(code(r.device->activate(std::move(no_interrupt))) == make_error_code(net::errc::no_interrupt),
          "no interrupt");
    check(code(r.device->activate(r.activation_for(tso_without_csum))) == make_error_code(net::errc::invalid_features),
          "TSO without CSUM");
    check(!r.device->active() && !r.handler->watching_tap(), "inactive, tap not watched");
    check(r.manager.registration_count() == 1, "only the state event is watched");
  });
}

BOOST_AUTO_TEST_CASE(a_second_activation_after_reset_moves_frames_again) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1};
    const wire host{r.name};
    r.device->reset();
    r.run_once();
    need(r.device->activate(r.activation_for(version_1 | mrg_rxbuf)), "second activation");
    r.run_once();
    r.offer_rx(0x20000, 2048);
    const auto frame = test_frame(66, 8);

    host.send(frame);
    r.run_until([&] { return r.device->metrics().rx_frames == 1; });

    check(r.rx->take_used().value_or(used_buffer{}).length == net::header_size + frame.size(), "delivered");
    check(r.handler->watching_tap(), "the tap is watched");
  });
}

BOOST_AUTO_TEST_CASE(without_mergeable_buffers_a_frame_too_large_for_the_chain_is_dropped_and_the_next_one_delivered) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1};
    const wire host{r.name};
    // A malformed rx chain first (its buffer outside guest memory), then one too small for the frame, then a big one.
    r.rx->write_descriptor(9, {.addr = 0x7fff'0000'0000, .len = 2048, .flags = q::desc_f_write, .next = 0});
    r.rx->push_head(9);
    r.rx->publish();
    r.offer_rx(0x20000, 64);
    r.offer_rx(0x21000, 2048);
    const auto large = test_frame(150, 9);
    const auto small = test_frame(60, 10);

    host.send(large);
    host.send(small);
    r.run_until([&] { return r.device->metrics().rx_frames == 1; });

    check(r.rx->take_used() == used_buffer{.id = 9, .length = 0}, "the malformed chain comes back empty");
    check(r.rx->take_used().value_or(used_buffer{.length = 1}).length == 0, "the small chain comes back empty");
    check(r.rx->take_used().value_or(used_buffer{}).length == net::header_size + small.size(), "the next frame");
    check(r.read(0x21000 + net::header_size, small.size()) == small, "its bytes");
    const auto m = r.device->metrics();
    check(m.rx_dropped == 1 && m.rx_invalid_chains == 1, "rx_dropped and rx_invalid_chains");
  });
}

BOOST_AUTO_TEST_CASE(a_driver_that_corrupts_its_rings_breaks_its_queues_and_the_device_stops_reading_the_tap) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1};
    const wire host{r.name};
    // An available index 100 ahead of a queue of 16: no driver does that.
    r.tx->set_avail_idx(100);
    r.tx->publish();
    r.rx->set_avail_idx(100);
    r.rx->publish();

    need(r.tx_kick.write(), "kick");
    r.run_until([&] { return r.device->metrics().queue_errors == 1; });
    host.send(test_frame(60, 11));
    r.run_until([&] { return r.device->metrics().queue_errors == 2; });

    check(r.device->metrics().queue_errors == 2, "both queues counted once");
    check(r.device->process_tx().error_or({}) == make_error_code(net::errc::queue_broken), "tx stays broken");
    check(r.device->process_rx().error_or({}) == make_error_code(net::errc::queue_broken), "rx stays broken");
    check(r.device->metrics().queue_errors == 2, "not counted again");
    check(!r.handler->watching_tap(), "the tap is no longer watched");
  });
}

BOOST_AUTO_TEST_CASE(an_rx_chain_in_read_only_memory_drops_the_frame_and_a_failing_interrupt_is_counted) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1};
    const wire host{r.name};
    r.interrupt->fail = true;
    r.offer_rx(0x200000, 2048);

    host.send(test_frame(60, 12));
    r.run_until([&] { return r.device->metrics().rx_memory_errors == 1; });

    check(r.rx->take_used() == used_buffer{.id = 0, .length = 0}, "the chain comes back empty");
    check(r.device->metrics().rx_frames == 0, "nothing delivered");
    check(r.device->metrics().interrupt_errors == 1 && r.interrupt->count == 0, "interrupt_errors");
  });
}

BOOST_AUTO_TEST_CASE(a_queue_eventfd_epoll_refuses_is_counted_by_the_handler) {
  with_tap([](net::tap tap) {
    rig r{std::move(tap), version_1};
    r.device->reset();
    r.run_once();
    auto a = r.activation_for(version_1);
    a.queue_events[1] = vmm::sys::borrowed_fd{100000};  // no such descriptor: EBADF

    need(r.device->activate(std::move(a)), "activate");
    r.run_once();

    check(r.handler->handler_errors() == 1, "handler_errors");
    check(r.handler->device() == r.device, "the handler's device");
    check(r.manager.registration_count() == 3, "state, rx queue event and tap");
  });
}

BOOST_AUTO_TEST_SUITE_END()
