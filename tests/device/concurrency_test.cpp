// vmm.device buses under several threads: vCPU threads dispatching while another thread registers and removes
// ranges (run it under TSan too: cmake --preset tsan), a device removed during an access it is serving, and a
// device that changes the bus from inside its own access.
#include <boost/test/unit_test.hpp>

#include "byte_printing.hpp"

import std;
import vmm.sys;
import vmm.device;
import vmm.testing;
import device_fakes;

namespace dev = vmm::device;
using dev::bus_address;
using device_fakes::make_recorder;
using device_fakes::pattern;

namespace {

auto error(dev::errc e) -> std::error_code {
  return make_error_code(e);
}

/// A device whose read waits until the test releases it, so an access can be held in flight.
class blocking_device final : public dev::bus_device {
 public:
  void read(bus_address /*base*/, std::uint64_t /*offset*/, std::span<std::byte> data) override {
    entered.count_down();
    release.wait();
    std::ranges::fill(data, std::byte{0x42});
  }
  void write(bus_address /*base*/, std::uint64_t /*offset*/, std::span<const std::byte> /*data*/) override {}

  std::latch entered{1};
  std::latch release{1};
};

/// A device that, on a write, moves itself: removes its range and registers itself at the written page.
class relocating_device final : public dev::bus_device {
 public:
  explicit relocating_device(dev::bus& bus) : bus_{bus} {}
  void read(bus_address /*base*/, std::uint64_t /*offset*/, std::span<std::byte> data) override {
    std::ranges::fill(data, std::byte{0x77});
  }
  void write(bus_address base, std::uint64_t /*offset*/, std::span<const std::byte> data) override {
    auto self = bus_.remove(base);
    if (self && !data.empty()) {
      moved = bus_.insert(bus_address{std::to_integer<std::uint64_t>(data[0]) * 0x1000}, 0x1000, *self).has_value();
    }
  }
  bool moved = false;

 private:
  dev::bus& bus_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(concurrency)

BOOST_AUTO_TEST_CASE(dispatch_during_register_and_remove_sees_old_or_new_state_only) {
  // A stable device at [0x1000, 0x2000) must answer every access; a flapping one at [0x3000, 0x4000) is either
  // there (and answers with its own pattern) or not (no_device_at_address), never a wrong device or a crash.
  constexpr int vcpus = 4;
  constexpr int flaps = 300;
  dev::mmio_bus bus;
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x1000}, 0x1000, make_recorder(1)).has_value());
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::atomic<std::uint64_t> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < vcpus; ++t) {
    threads.emplace_back([&] {
      std::array<std::byte, 4> data{};
      while (!stop.load(std::memory_order_relaxed)) {
        if (!bus.read(bus_address{0x1004}, data) || data[0] != pattern(1, 4, 0)) {
          wrong.fetch_add(1);
        }
        const auto r = bus.read(bus_address{0x3008}, data);
        if (r) {
          hits.fetch_add(1, std::memory_order_relaxed);
          if (data[0] != pattern(2, 8, 0)) {
            wrong.fetch_add(1);
          }
        } else if (r.error() != error(dev::errc::no_device_at_address)) {
          wrong.fetch_add(1);
        }
        static_cast<void>(bus.find(bus_address{0x3000}));
        static_cast<void>(bus.entries());
      }
    });
  }
  int failed_changes = 0;
  for (int i = 0; i < flaps; ++i) {
    failed_changes += bus.insert(bus_address{0x3000}, 0x1000, make_recorder(2)).has_value() ? 0 : 1;
    std::this_thread::yield();
    failed_changes += bus.remove(bus_address{0x3000}).has_value() ? 0 : 1;
  }
  stop.store(true);
  for (auto& t : threads) {
    t.join();
  }
  BOOST_TEST(failed_changes == 0);
  BOOST_TEST(wrong.load() == 0);
  BOOST_TEST(bus.size() == 1U);
  BOOST_TEST(bus.generation() == 1U + (2U * flaps));
  BOOST_TEST_MESSAGE("accesses that found the flapping device: " << hits.load());
}

BOOST_AUTO_TEST_CASE(device_removed_during_an_access_stays_alive_until_it_returns) {
  dev::mmio_bus bus;
  auto device = std::make_shared<blocking_device>();
  const std::weak_ptr<blocking_device> watch = device;
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x1000}, 0x10, device).has_value());
  std::array<std::byte, 1> data{};
  vmm::result<void> outcome;
  std::thread vcpu{[&] {
    outcome = bus.read(bus_address{0x1000}, data);
  }};
  device->entered.wait();
  // remove does not wait for the access (the device is called outside the bus's reader section).
  BOOST_TEST(bus.remove(bus_address{0x1000}).has_value());
  auto* raw = device.get();
  device.reset();
  BOOST_TEST(!watch.expired());
  raw->release.count_down();
  vcpu.join();
  BOOST_TEST(outcome.has_value());
  BOOST_TEST(data[0] == std::byte{0x42});
  BOOST_TEST(watch.expired());
}

BOOST_AUTO_TEST_CASE(device_may_remove_and_reinsert_itself_from_its_own_write) {
  dev::mmio_bus bus;
  const auto device = std::make_shared<relocating_device>(bus);
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x1000}, 0x1000, device).has_value());
  const std::array<std::byte, 1> page{std::byte{5}};
  BOOST_TEST(bus.write(bus_address{0x1000}, page).has_value());
  BOOST_TEST(device->moved);
  BOOST_TEST(vmm::testing::error_of(bus.find(bus_address{0x1000})) == error(dev::errc::no_device_at_address));
  const auto e = bus.find(bus_address{0x5000});
  BOOST_TEST_REQUIRE(e.has_value());
  BOOST_TEST(e->device == device);
}

BOOST_AUTO_TEST_SUITE_END()
