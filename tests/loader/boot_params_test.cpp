// The memory map, the zero page (struct boot_params) and the PVH start info, byte by byte at the protocols'
// offsets.
#include <boost/test/unit_test.hpp>

#include "byte_printing.hpp"

import std;
import vmm.sys;
import vmm.memory;
import vmm.loader;
import vmm.loader_images;
import vmm.testing;

#include "support.hpp"

using namespace loader_test;
namespace img = vmm::loader_images;
using mem::guest_address;
using vmm::testing::describe;

namespace {

template <class T>
auto at(std::span<const std::byte> bytes, std::size_t offset) -> T {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

auto two_entry_map() -> ld::memory_map {
  ld::memory_map map;
  // Added out of order: the map sorts.
  BOOST_TEST_REQUIRE(map.add(guest_address{0x100000}, 0xff00000, ld::memory_type::ram).has_value());
  BOOST_TEST_REQUIRE(map.add(guest_address{0}, 0x9fc00, ld::memory_type::ram).has_value());
  return map;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(zero_page)

BOOST_AUTO_TEST_CASE(memory_map_keeps_entries_sorted) {
  auto map = two_entry_map();
  BOOST_TEST_REQUIRE(map.add(guest_address{0x9fc00}, 0x400, ld::memory_type::reserved).has_value());
  const auto e = map.entries();
  BOOST_TEST_REQUIRE(e.size() == 3U);
  BOOST_TEST(e[0].address.raw() == 0U);
  BOOST_TEST(e[1].address.raw() == 0x9fc00U);
  BOOST_TEST((e[1].type == ld::memory_type::reserved));
  BOOST_TEST(e[2].address.raw() == 0x100000U);
}

BOOST_AUTO_TEST_CASE(zero_page_fields_are_at_the_protocol_offsets) {
  const auto image = img::make_bzimage({});
  const auto header = ld::parse_bzimage_header(image, image.size());
  BOOST_TEST_REQUIRE(header.has_value(), describe(header));
  const ld::zero_page_config config{.header = header->raw,
                                    .e820 = two_entry_map(),
                                    .cmdline_address = guest_address{0x20000},
                                    .cmdline_size = 100,
                                    .initrd = {.start = guest_address{0x7000000}, .size = 0x123456},
                                    .acpi_rsdp = guest_address{0xe0000}};
  const auto params = ld::make_boot_params(config);
  BOOST_TEST_REQUIRE(params.has_value(), describe(params));
  const auto memory = memory_of(0, mib);
  BOOST_TEST_REQUIRE(ld::write_boot_params(memory, guest_address{0x7000}, *params).has_value());
  const auto page = guest_bytes(memory, 0x7000, 4096);
  BOOST_TEST(at<std::uint64_t>(page, 0x070) == 0xe0000U);     // acpi_rsdp_addr
  BOOST_TEST(at<std::uint32_t>(page, 0x0c0) == 0U);           // ext_ramdisk_image
  BOOST_TEST(at<std::uint32_t>(page, 0x0c8) == 0U);           // ext_cmd_line_ptr
  BOOST_TEST(at<std::uint8_t>(page, 0x1e8) == 2U);            // e820_entries
  BOOST_TEST(at<std::uint8_t>(page, 0x1f1) == 4U);            // setup_sects, from the image
  BOOST_TEST(at<std::uint16_t>(page, 0x1fa) == 0xffffU);      // vid_mode
  BOOST_TEST(at<std::uint32_t>(page, 0x202) == 0x53726448U);  // "HdrS"
  BOOST_TEST(at<std::uint16_t>(page, 0x206) == 0x020fU);      // version
  BOOST_TEST(at<std::uint8_t>(page, 0x210) == 0xffU);         // type_of_loader
  BOOST_TEST(at<std::uint8_t>(page, 0x211) == 0x01U);         // loadflags
  BOOST_TEST(at<std::uint32_t>(page, 0x218) == 0x7000000U);   // ramdisk_image
  BOOST_TEST(at<std::uint32_t>(page, 0x21c) == 0x123456U);    // ramdisk_size
  BOOST_TEST(at<std::uint32_t>(page, 0x228) == 0x20000U);     // cmd_line_ptr
  BOOST_TEST(at<std::uint64_t>(page, 0x2d0) == 0U);           // e820_table[0].addr
  BOOST_TEST(at<std::uint64_t>(page, 0x2d8) == 0x9fc00U);     // e820_table[0].size
  BOOST_TEST(at<std::uint32_t>(page, 0x2e0) == 1U);           // e820_table[0].type
  BOOST_TEST(at<std::uint64_t>(page, 0x2e4) == 0x100000U);    // e820_table[1].addr
  BOOST_TEST(at<std::uint64_t>(page, 0x2ec) == 0xff00000U);   // e820_table[1].size
}

BOOST_AUTO_TEST_CASE(command_line_above_4g_uses_the_ext_field) {
  const auto image = img::make_bzimage({});
  const auto header = ld::parse_bzimage_header(image, image.size());
  BOOST_TEST_REQUIRE(header.has_value(), describe(header));
  const auto params = ld::make_boot_params({.header = header->raw,
                                            .cmdline_address = guest_address{0x1'2345'6000},
                                            .initrd = {.start = guest_address{0x2'0000'0000}, .size = 0x1'0000'0010}});
  BOOST_TEST_REQUIRE(params.has_value(), describe(params));
  const auto bytes = std::bit_cast<std::array<std::byte, 4096>>(*params);
  BOOST_TEST(at<std::uint32_t>(bytes, 0x228) == 0x23456000U);
  BOOST_TEST(at<std::uint32_t>(bytes, 0x0c8) == 1U);
  BOOST_TEST(at<std::uint32_t>(bytes, 0x218) == 0U);
  BOOST_TEST(at<std::uint32_t>(bytes, 0x0c0) == 2U);
  BOOST_TEST(at<std::uint32_t>(bytes, 0x21c) == 0x10U);
  BOOST_TEST(at<std::uint32_t>(bytes, 0x0c4) == 1U);
}

BOOST_AUTO_TEST_CASE(pvh_start_info_module_list_and_memory_map_follow_each_other) {
  const ld::pvh_config config{.map = two_entry_map(),
                              .modules = {{.start = guest_address{0x8000000}, .size = 0x5000}},
                              .cmdline = guest_address{0x20000},
                              .rsdp = guest_address{0xe0000}};
  const auto memory = memory_of(0, mib);
  const auto layout = ld::write_pvh_start_info(memory, guest_address{0x6000}, config);
  BOOST_TEST_REQUIRE(layout.has_value(), describe(layout));
  BOOST_TEST(layout->start_info.raw() == 0x6000U);
  BOOST_TEST(layout->modlist.raw() == 0x6038U);
  BOOST_TEST(layout->memmap.raw() == 0x6058U);
  BOOST_TEST(layout->end.raw() == 0x6058U + (2 * 24));
  const auto b = guest_bytes(memory, 0x6000, 0x88);
  BOOST_TEST(at<std::uint32_t>(b, 0) == 0x336ec578U);    // magic
  BOOST_TEST(at<std::uint32_t>(b, 4) == 1U);             // version
  BOOST_TEST(at<std::uint32_t>(b, 12) == 1U);            // nr_modules
  BOOST_TEST(at<std::uint64_t>(b, 16) == 0x6038U);       // modlist_paddr
  BOOST_TEST(at<std::uint64_t>(b, 24) == 0x20000U);      // cmdline_paddr
  BOOST_TEST(at<std::uint64_t>(b, 32) == 0xe0000U);      // rsdp_paddr
  BOOST_TEST(at<std::uint64_t>(b, 40) == 0x6058U);       // memmap_paddr
  BOOST_TEST(at<std::uint32_t>(b, 48) == 2U);            // memmap_entries
  BOOST_TEST(at<std::uint64_t>(b, 0x38) == 0x8000000U);  // modlist[0].paddr
  BOOST_TEST(at<std::uint64_t>(b, 0x40) == 0x5000U);     // modlist[0].size
  BOOST_TEST(at<std::uint64_t>(b, 0x58) == 0U);          // memmap[0].addr
  BOOST_TEST(at<std::uint64_t>(b, 0x60) == 0x9fc00U);    // memmap[0].size
  BOOST_TEST(at<std::uint32_t>(b, 0x68) == 1U);          // memmap[0].type
  BOOST_TEST(at<std::uint64_t>(b, 0x70) == 0x100000U);   // memmap[1].addr
}

BOOST_AUTO_TEST_CASE(pvh_start_info_without_modules_has_no_module_list) {
  const auto memory = memory_of(0, mib);
  const auto layout = ld::write_pvh_start_info(memory, guest_address{0x6000}, {.map = two_entry_map()});
  BOOST_TEST_REQUIRE(layout.has_value(), describe(layout));
  BOOST_TEST(layout->modlist.raw() == 0U);
  BOOST_TEST(layout->memmap.raw() == 0x6038U);
}

BOOST_AUTO_TEST_SUITE_END()
