// Bad input to vmm.device buses: every vmm::device::errc a bus returns, each with the exact error, and proof that
// nothing changed (the registered ranges, the generation, the device's access log, the caller's read buffer).
// A null device is a contract violation.
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
using vmm::testing::error_of;

namespace {

constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();
// What a read buffer holds before a failing read.
constexpr std::byte untouched{0xee};

auto error(dev::errc e) -> std::error_code {
  return make_error_code(e);
}

/// A port-I/O and an MMIO bus with one recording device each: COM1 [0x3f8, 0x400) and [0x1000, 0x2000).
struct buses {
  dev::pio_bus pio;
  dev::mmio_bus mmio;
  std::shared_ptr<device_fakes::recording_device> serial = make_recorder(1);
  std::shared_ptr<device_fakes::recording_device> mmio_device = make_recorder(2);
  buses() {
    BOOST_TEST_REQUIRE(pio.insert(bus_address{0x3f8}, 8, serial).has_value());
    BOOST_TEST_REQUIRE(mmio.insert(bus_address{0x1000}, 0x1000, mmio_device).has_value());
  }

  void check_unchanged() const {
    BOOST_TEST(pio.size() == 1U);
    BOOST_TEST(mmio.size() == 1U);
    BOOST_TEST(pio.generation() == 1U);
    BOOST_TEST(mmio.generation() == 1U);
    BOOST_TEST(serial->accesses().empty());
    BOOST_TEST(mmio_device->accesses().empty());
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(negative)

BOOST_FIXTURE_TEST_CASE(empty_range_is_rejected_on_both_buses, buses) {
  BOOST_TEST(error_of(pio.insert(bus_address{0x60}, 0, make_recorder(3))) == error(dev::errc::empty_range));
  BOOST_TEST(error_of(mmio.insert(bus_address{0x8000}, 0, make_recorder(3))) == error(dev::errc::empty_range));
  BOOST_TEST(error_of(dev::bus_range::make(bus_address{0}, 0)) == error(dev::errc::empty_range));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(wrapping_range_is_rejected, buses) {
  BOOST_TEST(error_of(mmio.insert(bus_address{max_u64}, 2, make_recorder(3))) == error(dev::errc::range_wraps));
  BOOST_TEST(error_of(mmio.insert(bus_address{0x8000}, max_u64, make_recorder(3))) == error(dev::errc::range_wraps));
  BOOST_TEST(error_of(pio.insert(bus_address{max_u64}, 2, make_recorder(3))) == error(dev::errc::range_wraps));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(port_range_past_0xffff_is_rejected, buses) {
  BOOST_TEST(error_of(pio.insert(bus_address{0xfff0}, 0x11, make_recorder(3))) == error(dev::errc::port_out_of_range));
  BOOST_TEST(error_of(pio.insert(bus_address{0x10000}, 1, make_recorder(3))) == error(dev::errc::port_out_of_range));
  BOOST_TEST(error_of(pio.insert(bus_address{0xd000'0000}, 0x1000, make_recorder(3))) ==
             error(dev::errc::port_out_of_range));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(overlapping_range_is_rejected_and_first_device_kept, buses) {
  BOOST_TEST(error_of(pio.insert(bus_address{0x3f0}, 0x10, make_recorder(3))) == error(dev::errc::overlapping_range));
  BOOST_TEST(pio.find(bus_address{0x3f8})->device == serial);
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(remove_of_unregistered_base_is_rejected, buses) {
  BOOST_TEST(error_of(pio.remove(bus_address{0x2f8})) == error(dev::errc::not_registered));
  // An address inside a range is not its base.
  BOOST_TEST(error_of(pio.remove(bus_address{0x3f9})) == error(dev::errc::not_registered));
  BOOST_TEST(error_of(mmio.remove(bus_address{max_u64})) == error(dev::errc::not_registered));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(read_of_unmapped_address_fails_and_leaves_data, buses) {
  std::array<std::byte, 4> data{};
  data.fill(untouched);
  for (const std::uint64_t a : {0x0U, 0x3f7U, 0x400U, 0xffffU}) {
    BOOST_TEST(error_of(pio.read(bus_address{a}, data)) == error(dev::errc::no_device_at_address));
  }
  BOOST_TEST(error_of(mmio.read(bus_address{0x2000}, data)) == error(dev::errc::no_device_at_address));
  BOOST_TEST(error_of(mmio.read(bus_address{max_u64}, data)) == error(dev::errc::no_device_at_address));
  BOOST_TEST(std::ranges::all_of(data, [](std::byte b) { return b == untouched; }));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(write_to_unmapped_address_fails, buses) {
  const std::array<std::byte, 1> data{std::byte{1}};
  BOOST_TEST(error_of(pio.write(bus_address{0x2f8}, data)) == error(dev::errc::no_device_at_address));
  BOOST_TEST(error_of(mmio.write(bus_address{0xfff}, data)) == error(dev::errc::no_device_at_address));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(access_straddling_range_end_fails_and_calls_no_device, buses) {
  std::array<std::byte, 4> data{};
  data.fill(untouched);
  BOOST_TEST(error_of(pio.read(bus_address{0x3fe}, data)) == error(dev::errc::access_straddles_device));
  BOOST_TEST(error_of(pio.write(bus_address{0x3ff}, data)) == error(dev::errc::access_straddles_device));
  BOOST_TEST(error_of(mmio.read(bus_address{0x1ffd}, data)) == error(dev::errc::access_straddles_device));
  BOOST_TEST(std::ranges::all_of(data, [](std::byte b) { return b == untouched; }));
  check_unchanged();
}

BOOST_FIXTURE_TEST_CASE(access_starting_before_a_range_fails_as_unmapped, buses) {
  // The bus decodes the first byte: an access that starts in a hole is unmapped even if it runs into a device.
  std::array<std::byte, 4> data{};
  BOOST_TEST(error_of(pio.read(bus_address{0x3f6}, data)) == error(dev::errc::no_device_at_address));
  check_unchanged();
}

BOOST_AUTO_TEST_CASE(null_device_is_a_contract_violation) {
  const vmm::testing::contract_violation_guard guard;
  dev::mmio_bus bus;
  BOOST_CHECK_THROW(static_cast<void>(bus.insert(bus_address{0}, 1, nullptr)), vmm::testing::contract_violation_error);
  BOOST_TEST(bus.size() == 0U);
}

BOOST_AUTO_TEST_CASE(find_overlap_of_invalid_range_is_a_contract_violation) {
  const vmm::testing::contract_violation_guard guard;
  const dev::mmio_bus bus;
  BOOST_CHECK_THROW(static_cast<void>(bus.find_overlap({.base = bus_address{0}, .size = 0})),
                    vmm::testing::contract_violation_error);
}

BOOST_AUTO_TEST_SUITE_END()
