// The kernel command line builder: what each insert produces, and the capacity.
#include <boost/test/unit_test.hpp>

#include "byte_printing.hpp"

import std;
import vmm.sys;
import vmm.memory;
import vmm.loader;
import vmm.testing;

#include "support.hpp"

using namespace loader_test;
using mem::guest_address;
using vmm::testing::describe;

BOOST_AUTO_TEST_SUITE(cmdline)

BOOST_AUTO_TEST_CASE(parameters_are_separated_by_single_spaces) {
  ld::cmdline line{100};
  BOOST_TEST_REQUIRE(line.insert("console", "ttyS0").has_value());
  BOOST_TEST_REQUIRE(line.insert_flag("quiet").has_value());
  BOOST_TEST_REQUIRE(line.insert("mem", std::uint64_t{512}).has_value());
  BOOST_TEST(line.str() == "console=ttyS0 quiet mem=512");
  BOOST_TEST(line.size() == line.str().size());
}

BOOST_AUTO_TEST_CASE(value_with_a_space_is_double_quoted) {
  ld::cmdline line{100};
  BOOST_TEST_REQUIRE(line.insert("dyndbg", "file a.c +p").has_value());
  BOOST_TEST(line.str() == "dyndbg=\"file a.c +p\"");
}

BOOST_AUTO_TEST_CASE(init_arguments_stay_last) {
  ld::cmdline line{100};
  BOOST_TEST_REQUIRE(line.insert_flag("ro").has_value());
  BOOST_TEST_REQUIRE(line.insert_init_args("single").has_value());
  BOOST_TEST_REQUIRE(line.insert("root", "/dev/vda").has_value());
  BOOST_TEST_REQUIRE(line.insert_init_args("-v").has_value());
  BOOST_TEST(line.str() == "ro root=/dev/vda -- single -v");
}

BOOST_AUTO_TEST_CASE(init_arguments_alone_follow_the_separator) {
  ld::cmdline line{100};
  BOOST_TEST_REQUIRE(line.insert_init_args("x").has_value());
  BOOST_TEST(line.str() == " -- x");
  BOOST_TEST(line.size() == 5U);
}

BOOST_AUTO_TEST_CASE(virtio_mmio_sizes_use_k_and_m_suffixes) {
  ld::cmdline line{200};
  BOOST_TEST_REQUIRE(line.add_virtio_mmio_device(4096, guest_address{0xd0000000}, 5).has_value());
  BOOST_TEST_REQUIRE(line.add_virtio_mmio_device(2 * mib, guest_address{0xd0001000}, 6, 3).has_value());
  BOOST_TEST_REQUIRE(line.add_virtio_mmio_device(1000, guest_address{0x1000}, 7).has_value());
  BOOST_TEST(
      line.str() ==
      "virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=2M@0xd0001000:6:3 virtio_mmio.device=1000@0x1000:7");
}

BOOST_AUTO_TEST_CASE(line_exactly_at_capacity_is_accepted) {
  ld::cmdline line{9};
  BOOST_TEST_REQUIRE(line.insert("a", "1").has_value());           // "a=1"
  BOOST_TEST_REQUIRE(line.insert("b", "22").has_value());          // "a=1 b=22" is 8
  BOOST_TEST_REQUIRE(line.insert_flag("c").has_value() == false);  // 10 > 9
  ld::cmdline exact{8};
  BOOST_TEST_REQUIRE(exact.insert("a", "1").has_value());
  BOOST_TEST_REQUIRE(exact.insert("b", "22").has_value());
  BOOST_TEST(exact.size() == exact.capacity());
}

BOOST_AUTO_TEST_CASE(bytes_end_with_one_nul_and_go_to_guest_memory) {
  ld::cmdline line{100};
  BOOST_TEST_REQUIRE(line.insert("console", "hvc0").has_value());
  const auto bytes = line.bytes_with_nul();
  BOOST_TEST(bytes.size() == 13U);
  BOOST_TEST(bytes.back() == std::byte{0});
  const auto memory = memory_of(0, mib);
  fill(memory, std::byte{0xee});
  BOOST_TEST_REQUIRE(line.write_to(memory, guest_address{0x20000}).has_value());
  BOOST_TEST(std::ranges::equal(guest_bytes(memory, 0x20000, 13), bytes));
  BOOST_TEST(guest_bytes(memory, 0x2000d, 1).front() == std::byte{0xee});
}

BOOST_AUTO_TEST_CASE(detail_names_the_capacity_after_an_overflow_and_clears_after_success) {
  ld::cmdline line{5};
  const auto r = line.insert("console", "ttyS0");
  BOOST_TEST(vmm::testing::error_of(r) == error(ld::errc::cmdline_too_long));
  BOOST_TEST(line.last_error_detail().find("capacity is 5") != std::string_view::npos);
  BOOST_TEST_REQUIRE(line.insert_flag("ro").has_value());
  BOOST_TEST(line.last_error_detail().empty());
}

BOOST_AUTO_TEST_SUITE_END()
