// vmm::device::locked: a device model that synchronises nothing, put on a bus and hammered from several threads.
#include <boost/test/unit_test.hpp>

#include "byte_printing.hpp"

import std;
import vmm.sys;
import vmm.device;
import vmm.testing;

namespace dev = vmm::device;
using dev::bus_address;
using vmm::testing::describe;

namespace {

/// A register file with no synchronisation of its own: a read-modify-write counter register at offset 0 that a
/// write increments (non-atomically, so lost updates would show without the lock) and a scratch byte at offset 1.
struct counter_registers {
  std::uint64_t writes = 0;
  std::byte scratch{0};
  explicit counter_registers(std::byte initial) : scratch{initial} {}

  void read(bus_address /*base*/, std::uint64_t offset, std::span<std::byte> data) const {
    std::ranges::fill(data, offset == 1 ? scratch : std::byte{0});
  }
  void write(bus_address /*base*/, std::uint64_t offset, std::span<const std::byte> data) {
    const std::uint64_t before = writes;
    writes = before + 1;
    if (offset == 1 && !data.empty()) {
      scratch = data[0];
    }
  }
};

static_assert(dev::mutable_bus_device<counter_registers>);
static_assert(!dev::mutable_bus_device<int>);

}  // namespace

BOOST_AUTO_TEST_SUITE(locked)

BOOST_AUTO_TEST_CASE(make_locked_constructs_in_place_and_forwards_accesses) {
  dev::pio_bus bus;
  const auto device = dev::make_locked<counter_registers>(std::byte{0x5a});
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x80}, 2, device).has_value());
  std::array<std::byte, 1> byte{};
  BOOST_TEST(bus.read(bus_address{0x81}, byte).has_value());
  BOOST_TEST(byte[0] == std::byte{0x5a});
  const std::array<std::byte, 1> value{std::byte{0x11}};
  BOOST_TEST(bus.write(bus_address{0x81}, value).has_value());
  BOOST_TEST(device->with([](const counter_registers& r) { return r.scratch; }) == std::byte{0x11});
}

BOOST_AUTO_TEST_CASE(locked_takes_a_device_by_move) {
  const dev::locked<counter_registers> device{counter_registers{std::byte{7}}};
  BOOST_TEST(device.with([](const counter_registers& r) { return r.scratch; }) == std::byte{7});
}

BOOST_AUTO_TEST_CASE(concurrent_writes_through_the_bus_lose_no_update) {
  constexpr int threads = 4;
  constexpr int writes_per_thread = 5000;
  dev::pio_bus bus;
  const auto device = dev::make_locked<counter_registers>(std::byte{0});
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x80}, 2, device).has_value());
  std::atomic<int> failures{0};
  {
    std::vector<std::thread> vcpus;
    for (int t = 0; t < threads; ++t) {
      vcpus.emplace_back([&bus, &failures] {
        const std::array<std::byte, 1> one{std::byte{1}};
        for (int i = 0; i < writes_per_thread; ++i) {
          if (!bus.write(bus_address{0x80}, one)) {
            failures.fetch_add(1);
          }
        }
      });
    }
    for (auto& t : vcpus) {
      t.join();
    }
  }
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(device->with([](counter_registers& r) { return r.writes; }) ==
             static_cast<std::uint64_t>(threads) * writes_per_thread);
}

BOOST_AUTO_TEST_SUITE_END()
