// ELF64 vmlinux loading and the PVH entry note, on synthetic images (error paths in negative_test.cpp).
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

BOOST_AUTO_TEST_SUITE(elf)

BOOST_AUTO_TEST_CASE(segments_land_at_their_physical_addresses_with_bss_zeroed) {
  const auto image = img::make_vmlinux();
  const auto memory = memory_of(0, 32 * mib);
  fill(memory, std::byte{0xee});
  const auto load = ld::load_elf(memory, image);
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
  BOOST_TEST(load->entry.raw() == 0x1000000);
  BOOST_TEST_REQUIRE(load->pvh_entry.has_value());
  BOOST_TEST(load->pvh_entry->raw() == 0x1000040);
  BOOST_TEST(load->lowest.raw() == 0x1000000);
  BOOST_TEST(load->kernel_end.raw() == 0x1204000);
  BOOST_TEST(load->size_loaded == 0x3000 + 0x1800);
  BOOST_TEST_REQUIRE(load->segments.size() == 2U);
  BOOST_TEST(load->segments[1].address.raw() == 0x1200000);
  BOOST_TEST(load->segments[1].file_size == 0x1800U);
  BOOST_TEST(load->segments[1].memory_size == 0x4000U);
  // The file places segment i's bytes after the headers; the builder's pattern identifies them.
  const auto text = guest_bytes(memory, 0x1000000, 0x3000);
  for (std::uint64_t k = 0; k < text.size(); ++k) {
    BOOST_TEST_REQUIRE(text[k] == img::pattern_byte(k));
  }
  const auto data = guest_bytes(memory, 0x1200000, 0x1800);
  for (std::uint64_t k = 0; k < data.size(); ++k) {
    BOOST_TEST_REQUIRE(data[k] == img::pattern_byte(k + (1U << 20U)));
  }
  BOOST_TEST(all_bytes_are(memory, 0x1201800, 0x2800, std::byte{0}));
  // Neighbours untouched.
  BOOST_TEST(all_bytes_are(memory, 0x1003000, 0x1000, std::byte{0xee}));
  BOOST_TEST(all_bytes_are(memory, 0x1204000, 0x1000, std::byte{0xee}));
}

BOOST_AUTO_TEST_CASE(address_offset_moves_segments_and_entries) {
  const auto image = img::make_vmlinux();
  const auto memory = memory_of(0, 64 * mib);
  const auto load = ld::load_elf(memory, image, {.address_offset = 0x2000000});
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
  BOOST_TEST(load->entry.raw() == 0x3000000);
  BOOST_TEST(load->pvh_entry->raw() == 0x3000040);
  BOOST_TEST(guest_bytes(memory, 0x3000000, 1).front() == img::pattern_byte(0));
}

BOOST_AUTO_TEST_CASE(image_without_pvh_note_has_no_pvh_entry) {
  const auto image = img::make_elf({.segments = {{.paddr = 0x1000000, .filesz = 0x100, .memsz = 0x100}}});
  const auto memory = memory_of(0, 32 * mib);
  const auto load = ld::load_elf(memory, image);
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
  BOOST_TEST(!load->pvh_entry.has_value());
  const auto found = ld::find_pvh_entry(image);
  BOOST_TEST_REQUIRE(found.has_value(), describe(found));
  BOOST_TEST(!found->has_value());
}

BOOST_AUTO_TEST_CASE(pvh_note_among_other_notes_is_found) {
  auto notes = img::make_note("GNU", 3, std::vector<std::byte>(20, std::byte{0x11}));
  const auto xen_other = img::make_note("Xen", 6, std::vector<std::byte>(6, std::byte{0x22}));
  const auto linux_note = img::make_note("Linux", 18, std::vector<std::byte>(4, std::byte{0x33}));  // type 18, not Xen
  const auto pvh = img::make_note("Xen", 18, std::bit_cast<std::array<std::byte, 8>>(std::uint64_t{0x1000850}));
  for (const auto* part : {&xen_other, &linux_note, &pvh}) {
    notes.insert(notes.end(), part->begin(), part->end());
  }
  const auto size = notes.size();
  const auto image = img::make_elf(
      {.segments = {{.paddr = 0x1000000, .filesz = 0x1000, .memsz = 0x1000},
                    {.type = img::pt_note, .filesz = size, .memsz = size, .align = 4, .content = notes}}});
  const auto found = ld::find_pvh_entry(image);
  BOOST_TEST_REQUIRE(found.has_value(), describe(found));
  BOOST_TEST_REQUIRE(found->has_value());
  BOOST_TEST((*found)->raw() == 0x1000850);
}

BOOST_AUTO_TEST_CASE(segment_of_only_bss_is_zeroed) {
  const auto image = img::make_elf({.segments = {{.paddr = 0x1000000, .filesz = 0x10, .memsz = 0x10},
                                                 {.paddr = 0x1100000, .filesz = 0, .memsz = 0x30000}}});
  const auto memory = memory_of(0, 32 * mib);
  fill(memory, std::byte{0xee});
  const auto load = ld::load_elf(memory, image);
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
  BOOST_TEST(all_bytes_are(memory, 0x1100000, 0x30000, std::byte{0}));
  BOOST_TEST(all_bytes_are(memory, 0x1130000, 0x10, std::byte{0xee}));
}

BOOST_AUTO_TEST_CASE(adjacent_segments_are_not_an_overlap) {
  const auto image = img::make_elf({.segments = {{.paddr = 0x1000000, .filesz = 0x1000, .memsz = 0x1000},
                                                 {.paddr = 0x1001000, .filesz = 0x1000, .memsz = 0x1000}}});
  const auto memory = memory_of(0, 32 * mib);
  const auto load = ld::load_elf(memory, image);
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
}

BOOST_AUTO_TEST_SUITE_END()
