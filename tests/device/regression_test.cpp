// Regression tests for vmm.device: one case per bug class that bus implementations (rust-vmm's vm-device, VMMs'
// own buses) have had or that review found; each is named after what it guards against.
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

auto error(dev::errc e) -> std::error_code {
  return make_error_code(e);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(regression)

// A zero-size range has no last address (base - 1): a bus that stored it would then make every lookup at base - 1
// or an overlap check against it wrong.
BOOST_AUTO_TEST_CASE(zero_size_range_at_address_zero_is_rejected_not_stored_as_full_space) {
  dev::mmio_bus bus;
  BOOST_TEST(error_of(bus.insert(bus_address{0}, 0, make_recorder(1))) == error(dev::errc::empty_range));
  BOOST_TEST(error_of(bus.find(bus_address{max_u64})) == error(dev::errc::no_device_at_address));
  BOOST_TEST(bus.insert(bus_address{0x1000}, 1, make_recorder(2)).has_value());
}

// base + size computed without a check wraps to a small end, and the range then looks tiny (or empty) and passes
// the overlap check against everything registered below it.
BOOST_AUTO_TEST_CASE(wrapping_range_does_not_pass_the_overlap_check_as_a_small_one) {
  dev::mmio_bus bus;
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x0}, 0x1000, make_recorder(1)).has_value());
  BOOST_TEST(error_of(bus.insert(bus_address{0xffff'ffff'ffff'f000}, 0x2000, make_recorder(2))) ==
             error(dev::errc::range_wraps));
  BOOST_TEST(bus.size() == 1U);
}

// An access that starts in the last bytes of a device's range and runs past its end: computing
// `offset + len <= size` can overflow for huge lengths, and a bus that checks only the first byte hands the device
// an offset + length beyond its range (vm-device checks it in Bus::check_access).
BOOST_AUTO_TEST_CASE(access_straddling_the_end_of_a_range_is_rejected) {
  dev::mmio_bus bus;
  const auto d = make_recorder(1);
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x1000}, 0x10, d).has_value());
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x1010}, 0x10, make_recorder(2)).has_value());
  std::array<std::byte, 8> data{};
  BOOST_TEST(error_of(bus.read(bus_address{0x100c}, data)) == error(dev::errc::access_straddles_device));
  BOOST_TEST(d->accesses().empty());
}

// The same at the very top of the address space, where address + length itself wraps.
BOOST_AUTO_TEST_CASE(access_at_top_of_address_space_that_would_wrap_is_rejected) {
  dev::mmio_bus bus;
  const auto d = make_recorder(1);
  BOOST_TEST_REQUIRE(bus.insert(bus_address{max_u64 - 3}, 4, d).has_value());
  std::array<std::byte, 8> data{};
  BOOST_TEST(error_of(bus.read(bus_address{max_u64 - 1}, data)) == error(dev::errc::access_straddles_device));
  BOOST_TEST(bus.read(bus_address{max_u64 - 3}, std::span{data}.first(4)).has_value());
  BOOST_TEST(d->accesses().size() == 1U);
}

// A port-I/O range that ends exactly at 0x10000 is legal; one byte more is not (an off-by-one in either direction
// loses port 0xffff or lets a 16-bit port number wrap to 0).
BOOST_AUTO_TEST_CASE(port_range_ending_at_0x10000_is_accepted_and_one_more_rejected) {
  dev::pio_bus bus;
  BOOST_TEST(error_of(bus.insert(bus_address{0xff00}, 0x101, make_recorder(1))) == error(dev::errc::port_out_of_range));
  BOOST_TEST(bus.insert(bus_address{0xff00}, 0x100, make_recorder(1)).has_value());
}

// Removing a range with another range's base inside it (not at its base) must not remove the containing range.
BOOST_AUTO_TEST_CASE(remove_by_address_inside_a_range_removes_nothing) {
  dev::mmio_bus bus;
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x1000}, 0x100, make_recorder(1)).has_value());
  BOOST_TEST(error_of(bus.remove(bus_address{0x1001})) == error(dev::errc::not_registered));
  BOOST_TEST(bus.find(bus_address{0x1001}).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
