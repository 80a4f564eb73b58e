// vmm.device buses: ranges, registration and the overlap matrix, dispatch offsets and bytes, lookup.
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
using vmm::testing::describe;
using vmm::testing::error_of;

namespace {

constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();

// COM1's eight registers: the usual first port-I/O device.
constexpr std::uint64_t com1 = 0x3f8;
constexpr std::uint64_t com1_size = 8;

auto error(dev::errc e) -> std::error_code {
  return make_error_code(e);
}

auto bases(const dev::bus& b) -> std::vector<std::uint64_t> {
  std::vector<std::uint64_t> all;
  for (const auto& e : b.entries()) {
    all.push_back(e.range.base.value);
  }
  return all;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(range)

BOOST_AUTO_TEST_CASE(make_valid_range_keeps_base_and_size) {
  const auto r = dev::bus_range::make(bus_address{0x1000}, 0x100);
  BOOST_TEST_REQUIRE(r.has_value(), describe(r));
  BOOST_TEST(r->base.value == 0x1000U);
  BOOST_TEST(r->size == 0x100U);
  BOOST_TEST(r->last().value == 0x10ffU);
}

BOOST_AUTO_TEST_CASE(range_ending_at_top_of_address_space_is_valid) {
  const auto r = dev::bus_range::make(bus_address{max_u64 - 0xfff}, 0x1000);
  BOOST_TEST_REQUIRE(r.has_value(), describe(r));
  BOOST_TEST(r->last().value == max_u64);
  BOOST_TEST(std::format("{}", *r) == "[0xfffffffffffff000, 0x10000000000000000)");
}

BOOST_AUTO_TEST_CASE(contains_checks_both_ends_and_length) {
  const dev::bus_range r{.base = bus_address{0x10}, .size = 0x10};
  BOOST_TEST(!r.contains(bus_address{0xf}));
  BOOST_TEST(r.contains(bus_address{0x10}));
  BOOST_TEST(r.contains(bus_address{0x1f}));
  BOOST_TEST(!r.contains(bus_address{0x20}));
  BOOST_TEST(r.contains(bus_address{0x1c}, 4));
  BOOST_TEST(!r.contains(bus_address{0x1d}, 4));
  BOOST_TEST(r.contains(bus_address{0x1f}, 0));
  BOOST_TEST(!r.contains(bus_address{0x10}, max_u64));
}

BOOST_AUTO_TEST_CASE(formatter_prints_half_open_hex_interval) {
  BOOST_TEST(std::format("{}", dev::bus_range{.base = bus_address{com1}, .size = com1_size}) == "[0x3f8, 0x400)");
  BOOST_TEST(std::format("{}", bus_address{0x80}) == "0x80");
}

BOOST_AUTO_TEST_CASE(category_is_named_after_the_module_and_messages_differ) {
  BOOST_TEST(std::string{dev::device_category().name()} == "vmm.device");
  std::set<std::string> messages;
  for (int e = 1; e <= static_cast<int>(dev::errc::access_straddles_device); ++e) {
    messages.insert(make_error_code(static_cast<dev::errc>(e)).message());
  }
  BOOST_TEST(messages.size() == static_cast<std::size_t>(dev::errc::access_straddles_device));
  BOOST_TEST(dev::device_category().message(200).find("200") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(registration)

BOOST_AUTO_TEST_CASE(new_buses_are_empty_and_know_their_kind) {
  const dev::pio_bus pio;
  const dev::mmio_bus mmio;
  BOOST_TEST(pio.size() == 0U);
  BOOST_TEST((pio.kind() == dev::bus_kind::port_io));
  BOOST_TEST((mmio.kind() == dev::bus_kind::mmio));
  BOOST_TEST(error_of(pio.find(bus_address{0})) == error(dev::errc::no_device_at_address));
}

BOOST_AUTO_TEST_CASE(insert_returns_range_and_entries_are_sorted) {
  dev::pio_bus bus;
  const auto a = make_recorder(1);
  const auto b = make_recorder(2);
  const auto r = bus.insert(bus_address{com1}, com1_size, a);
  BOOST_TEST_REQUIRE(r.has_value(), describe(r));
  BOOST_TEST((*r == dev::bus_range{.base = bus_address{com1}, .size = com1_size}));
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x60}, 1, b).has_value());
  BOOST_TEST(bus.size() == 2U);
  BOOST_TEST(bases(bus) == (std::vector<std::uint64_t>{0x60, com1}), boost::test_tools::per_element());
  BOOST_TEST(bus.entries()[1].device == a);
  BOOST_TEST(bus.generation() == 2U);
}

BOOST_AUTO_TEST_CASE(remove_returns_device_and_frees_the_range) {
  dev::pio_bus bus;
  const auto a = make_recorder(1);
  BOOST_TEST_REQUIRE(bus.insert(bus_address{com1}, com1_size, a).has_value());
  const auto removed = bus.remove(bus_address{com1});
  BOOST_TEST_REQUIRE(removed.has_value(), describe(removed));
  BOOST_TEST(*removed == a);
  BOOST_TEST(bus.size() == 0U);
  BOOST_TEST(error_of(bus.find(bus_address{com1})) == error(dev::errc::no_device_at_address));
  BOOST_TEST(bus.insert(bus_address{com1}, com1_size, make_recorder(2)).has_value());
}

BOOST_AUTO_TEST_CASE(last_port_0xffff_can_be_registered) {
  dev::pio_bus bus;
  BOOST_TEST(bus.insert(bus_address{0xfff0}, 0x10, make_recorder(1)).has_value());
}

BOOST_AUTO_TEST_CASE(mmio_range_may_end_at_top_of_address_space) {
  dev::mmio_bus bus;
  BOOST_TEST_REQUIRE(bus.insert(bus_address{max_u64 - 0xfff}, 0x1000, make_recorder(1)).has_value());
  std::array<std::byte, 1> byte{};
  BOOST_TEST(bus.read(bus_address{max_u64}, byte).has_value());
  BOOST_TEST(byte[0] == pattern(1, 0xfff, 0));
}

BOOST_AUTO_TEST_CASE(one_device_may_sit_on_several_ranges_and_sees_each_base) {
  dev::mmio_bus bus;
  const auto d = make_recorder(1);
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x1000}, 0x100, d).has_value());
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x8000}, 0x100, d).has_value());
  std::array<std::byte, 1> byte{};
  BOOST_TEST(bus.read(bus_address{0x1001}, byte).has_value());
  BOOST_TEST(bus.read(bus_address{0x8002}, byte).has_value());
  const auto seen = d->accesses();
  BOOST_TEST_REQUIRE(seen.size() == 2U);
  BOOST_TEST(seen[0].base == 0x1000U);
  BOOST_TEST(seen[0].offset == 1U);
  BOOST_TEST(seen[1].base == 0x8000U);
  BOOST_TEST(seen[1].offset == 2U);
}

BOOST_AUTO_TEST_SUITE_END()

// The registered range is [0x100, 0x200); each case tries a second range against it.
BOOST_AUTO_TEST_SUITE(overlap)

namespace {

constexpr std::uint64_t reg_base = 0x100;
constexpr std::uint64_t reg_size = 0x100;

struct overlap_fixture {
  dev::mmio_bus bus;
  std::shared_ptr<device_fakes::recording_device> first = make_recorder(1);
  overlap_fixture() { BOOST_TEST_REQUIRE(bus.insert(bus_address{reg_base}, reg_size, first).has_value()); }

  void check_rejected(std::uint64_t base, std::uint64_t size) {
    BOOST_TEST_CONTEXT(std::format("second range [{:#x}, {:#x})", base, base + size)) {
      const auto r = bus.insert(bus_address{base}, size, make_recorder(2));
      BOOST_TEST(error_of(r) == error(dev::errc::overlapping_range));
      const auto hit = bus.find_overlap({.base = bus_address{base}, .size = size});
      BOOST_TEST_REQUIRE(hit.has_value());
      BOOST_TEST(std::format("{}", *hit) == "[0x100, 0x200)");
      BOOST_TEST(bus.size() == 1U);
      BOOST_TEST(bus.generation() == 1U);
      BOOST_TEST(bus.entries()[0].device == first);
    }
  }

  void check_accepted(std::uint64_t base, std::uint64_t size) {
    BOOST_TEST_CONTEXT(std::format("second range [{:#x}, {:#x})", base, base + size)) {
      BOOST_TEST(!bus.find_overlap({.base = bus_address{base}, .size = size}).has_value());
      const auto r = bus.insert(bus_address{base}, size, make_recorder(2));
      BOOST_TEST(r.has_value(), describe(r));
      BOOST_TEST(bus.size() == 2U);
    }
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(adjacent_below_is_accepted, overlap_fixture) {
  check_accepted(0x80, 0x80);
}
BOOST_FIXTURE_TEST_CASE(adjacent_above_is_accepted, overlap_fixture) {
  check_accepted(0x200, 0x80);
}
BOOST_FIXTURE_TEST_CASE(same_range_is_rejected, overlap_fixture) {
  check_rejected(reg_base, reg_size);
}
BOOST_FIXTURE_TEST_CASE(range_over_first_byte_is_rejected, overlap_fixture) {
  check_rejected(0x80, 0x81);
}
BOOST_FIXTURE_TEST_CASE(range_over_last_byte_is_rejected, overlap_fixture) {
  check_rejected(0x1ff, 0x80);
}
BOOST_FIXTURE_TEST_CASE(range_inside_is_rejected, overlap_fixture) {
  check_rejected(0x140, 0x10);
}
BOOST_FIXTURE_TEST_CASE(range_around_is_rejected, overlap_fixture) {
  check_rejected(0x80, 0x200);
}
BOOST_FIXTURE_TEST_CASE(range_with_same_base_and_longer_is_rejected, overlap_fixture) {
  check_rejected(reg_base, 0x1000);
}
BOOST_FIXTURE_TEST_CASE(range_with_same_end_and_shorter_is_rejected, overlap_fixture) {
  check_rejected(0x1f0, 0x10);
}
BOOST_FIXTURE_TEST_CASE(single_byte_ranges_at_both_ends_are_rejected, overlap_fixture) {
  check_rejected(reg_base, 1);
  check_rejected(reg_base + reg_size - 1, 1);
}
BOOST_FIXTURE_TEST_CASE(range_across_two_registered_ranges_names_the_lower, overlap_fixture) {
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x400}, 0x100, make_recorder(3)).has_value());
  const auto hit = bus.find_overlap({.base = bus_address{0x1f0}, .size = 0x300});
  BOOST_TEST_REQUIRE(hit.has_value());
  BOOST_TEST(hit->base.value == reg_base);
  BOOST_TEST(error_of(bus.insert(bus_address{0x1f0}, 0x300, make_recorder(2))) == error(dev::errc::overlapping_range));
  BOOST_TEST(bus.size() == 2U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dispatch)

BOOST_AUTO_TEST_CASE(read_calls_device_with_base_and_offset_and_fills_data) {
  dev::pio_bus bus;
  const auto d = make_recorder(3);
  BOOST_TEST_REQUIRE(bus.insert(bus_address{com1}, com1_size, d).has_value());
  std::array<std::byte, 2> data{};
  const auto r = bus.read(bus_address{com1 + 5}, data);
  BOOST_TEST_REQUIRE(r.has_value(), describe(r));
  BOOST_TEST(data[0] == pattern(3, 5, 0));
  BOOST_TEST(data[1] == pattern(3, 5, 1));
  const auto seen = d->accesses();
  BOOST_TEST_REQUIRE(seen.size() == 1U);
  BOOST_TEST(!seen[0].is_write);
  BOOST_TEST(seen[0].base == com1);
  BOOST_TEST(seen[0].offset == 5U);
  BOOST_TEST(seen[0].bytes.size() == 2U);
}

BOOST_AUTO_TEST_CASE(write_passes_the_bytes_to_the_device) {
  dev::mmio_bus bus;
  const auto d = make_recorder(1);
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0xd000'0000}, 0x1000, d).has_value());
  const std::array<std::byte, 4> data{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  BOOST_TEST(bus.write(bus_address{0xd000'0ffc}, data).has_value());
  const auto seen = d->accesses();
  BOOST_TEST_REQUIRE(seen.size() == 1U);
  BOOST_TEST(seen[0].is_write);
  BOOST_TEST(seen[0].offset == 0xffcU);
  BOOST_TEST(seen[0].bytes == std::vector<std::byte>(data.begin(), data.end()), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(accesses_reach_the_device_whose_range_holds_them) {
  dev::mmio_bus bus;
  const auto low = make_recorder(1);
  const auto high = make_recorder(2);
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x1000}, 0x10, low).has_value());
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x1010}, 0x10, high).has_value());
  std::array<std::byte, 1> byte{};
  BOOST_TEST(bus.read(bus_address{0x100f}, byte).has_value());
  BOOST_TEST(byte[0] == pattern(1, 0xf, 0));
  BOOST_TEST(bus.read(bus_address{0x1010}, byte).has_value());
  BOOST_TEST(byte[0] == pattern(2, 0, 0));
}

BOOST_AUTO_TEST_CASE(access_of_zero_bytes_inside_a_range_reaches_the_device) {
  dev::mmio_bus bus;
  const auto d = make_recorder(1);
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x1000}, 0x10, d).has_value());
  BOOST_TEST(bus.write(bus_address{0x100f}, std::span<const std::byte>{}).has_value());
  BOOST_TEST(d->accesses().size() == 1U);
}

BOOST_AUTO_TEST_CASE(access_ending_exactly_at_range_end_succeeds) {
  dev::pio_bus bus;
  BOOST_TEST_REQUIRE(bus.insert(bus_address{com1}, com1_size, make_recorder(1)).has_value());
  std::array<std::byte, 4> data{};
  BOOST_TEST(bus.read(bus_address{com1 + 4}, data).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lookup)

BOOST_AUTO_TEST_CASE(find_returns_device_and_range_for_any_address_inside) {
  dev::mmio_bus bus;
  const auto d = make_recorder(1);
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x1000}, 0x100, d).has_value());
  for (const std::uint64_t a : {0x1000U, 0x1080U, 0x10ffU}) {
    const auto e = bus.find(bus_address{a});
    BOOST_TEST_REQUIRE(e.has_value(), describe(e));
    BOOST_TEST(e->device == d);
    BOOST_TEST((e->range == dev::bus_range{.base = bus_address{0x1000}, .size = 0x100}));
  }
}

BOOST_AUTO_TEST_CASE(find_between_ranges_and_beyond_the_last_returns_no_device) {
  dev::mmio_bus bus;
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x1000}, 0x100, make_recorder(1)).has_value());
  BOOST_TEST_REQUIRE(bus.insert(bus_address{0x2000}, 0x100, make_recorder(2)).has_value());
  for (const std::uint64_t a : {0x0U, 0xfffU, 0x1100U, 0x1fffU, 0x2100U}) {
    BOOST_TEST(error_of(bus.find(bus_address{a})) == error(dev::errc::no_device_at_address));
  }
  BOOST_TEST(error_of(bus.find(bus_address{max_u64})) == error(dev::errc::no_device_at_address));
}

BOOST_AUTO_TEST_CASE(find_among_256_ranges_finds_each_one) {
  dev::mmio_bus bus;
  std::vector<std::shared_ptr<device_fakes::recording_device>> devices;
  for (std::uint64_t i = 0; i < 256; ++i) {
    devices.push_back(make_recorder(static_cast<std::uint8_t>(i)));
    // Inserted in a scrambled order, so the sorted insert is exercised.
    const std::uint64_t slot = (i * 97) % 256;
    BOOST_TEST_REQUIRE(bus.insert(bus_address{slot * 0x2000}, 0x1000, devices.back()).has_value());
  }
  for (std::uint64_t i = 0; i < 256; ++i) {
    const std::uint64_t slot = (i * 97) % 256;
    const auto e = bus.find(bus_address{(slot * 0x2000) + 0x800});
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST(e->device == devices[i]);
    BOOST_TEST(error_of(bus.find(bus_address{(slot * 0x2000) + 0x1000})) == error(dev::errc::no_device_at_address));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(interrupt)

BOOST_AUTO_TEST_CASE(event_fd_trigger_adds_one_to_the_eventfd_per_trigger) {
  auto event = vmm::sys::event_fd::create({.nonblocking = true});
  BOOST_TEST_REQUIRE(event.has_value(), describe(event));
  dev::event_fd_trigger trigger{std::move(*event)};
  BOOST_TEST(trigger.trigger().has_value());
  BOOST_TEST(trigger.trigger().has_value());
  const auto count = trigger.event().read();
  BOOST_TEST_REQUIRE(count.has_value(), describe(count));
  BOOST_TEST(*count == 2U);
}

BOOST_AUTO_TEST_SUITE_END()
