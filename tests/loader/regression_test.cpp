// One case per bug class that loaders of this kind have had, named after it: arithmetic on sizes from the image that
// wraps (linux-loader#68 asked for fuzzing exactly because of these; tinykvm#9 and libriscv#22 found missing overflow
// checks in ELF loaders by fuzzing), reads past a note segment, and a command line that outgrows its capacity
// through the init separator.
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
using vmm::testing::error_of;

BOOST_AUTO_TEST_SUITE(regression)

// syssize * 16 computed in 32 bits wraps to a small number for syssize >= 2^28, and the loader then copies a
// kernel of the wrong size.
BOOST_AUTO_TEST_CASE(syssize_times_16_does_not_wrap_in_32_bits) {
  const auto image = img::make_bzimage({.syssize_override = 0x10000001});  // 16 * that = 2^32 + 16
  BOOST_TEST(error_of(ld::parse_bzimage_header(image, image.size())) == error(ld::errc::kernel_past_eof));
}

// e_phoff + e_phnum * e_phentsize wrapping past 2^64 passes a naive "end <= file size" check.
BOOST_AUTO_TEST_CASE(program_header_table_end_does_not_wrap) {
  auto spec = img::elf_spec{.segments = {{.paddr = 0x1000000, .filesz = 0x10, .memsz = 0x10}}};
  spec.phoff_override = ~std::uint64_t{0} - 8;
  BOOST_TEST(error_of(ld::find_pvh_entry(img::make_elf(spec))) == error(ld::errc::elf_phdrs_past_eof));
}

// namesz = 0xffffffff rounded up to 4 in 32-bit arithmetic is 0, so the name would be read as empty and the
// description taken from the wrong place.
BOOST_AUTO_TEST_CASE(note_name_size_near_2_32_does_not_round_to_zero) {
  auto notes = img::pvh_note(0x1000040);
  img::put(notes, 0, std::uint32_t{0xffffffff});
  const auto size = notes.size();
  const auto image = img::make_elf(
      {.segments = {{.paddr = 0x1000000, .filesz = 0x100, .memsz = 0x100},
                    {.type = img::pt_note, .filesz = size, .memsz = size, .align = 4, .content = notes}}});
  BOOST_TEST(error_of(ld::find_pvh_entry(image)) == error(ld::errc::elf_bad_note));
}

// The last note of a segment may lack its description padding; stepping over the padding must not leave the
// segment (and read the next file bytes as a note).
BOOST_AUTO_TEST_CASE(last_note_without_padding_ends_the_scan) {
  auto notes = img::make_note("Xen", 6, std::vector<std::byte>(4, std::byte{1}));
  auto pvh = img::make_note("Xen", 18, std::bit_cast<std::array<std::byte, 4>>(std::uint32_t{0x1000040}));
  notes.insert(notes.end(), pvh.begin(), pvh.end());
  auto odd = img::make_note("Go", 4, std::vector<std::byte>(3, std::byte{2}));
  odd.pop_back();  // the description of 3 bytes now ends the segment without its one byte of padding
  notes.insert(notes.end(), odd.begin(), odd.end());
  const auto size = notes.size();
  const auto image = img::make_elf(
      {.segments = {{.paddr = 0x1000000, .filesz = 0x100, .memsz = 0x100},
                    {.type = img::pt_note, .filesz = size, .memsz = size, .align = 4, .content = notes}}});
  const auto found = ld::find_pvh_entry(image);
  BOOST_TEST_REQUIRE(found.has_value(), describe(found));
  BOOST_TEST_REQUIRE(found->has_value());
  BOOST_TEST((*found)->raw() == 0x1000040U);
}

// A segment that ends exactly at 2^64 has an end that does not fit in 64 bits: kernel_end would wrap to 0.
BOOST_AUTO_TEST_CASE(segment_ending_exactly_at_2_64_is_refused) {
  const auto image = img::make_elf(
      {.entry = 0xfffffffffffff000, .segments = {{.paddr = 0xfffffffffffff000, .filesz = 0x10, .memsz = 0x1000}}});
  const auto memory = memory_of(0, mib);
  BOOST_TEST(error_of(ld::load_elf(memory, image)) == error(ld::errc::address_overflow));
}

// The init separator " -- " is added by the builder, not the caller: a capacity check that forgets it lets the
// line grow 4 characters past cmdline_size, and the kernel truncates the init arguments.
BOOST_AUTO_TEST_CASE(init_separator_counts_against_the_capacity) {
  ld::cmdline line{6};
  BOOST_TEST(error_of(line.insert_init_args("abc")) == error(ld::errc::cmdline_too_long));  // " -- abc" is 7
  BOOST_TEST_REQUIRE(line.insert_init_args("ab").has_value());
  BOOST_TEST(line.size() == 6U);
}

// initrd_addr_max = 0xffffffff plus one is 2^32: computed in 32 bits it wraps to 0 and no place is found (or, worse,
// every place below 0 is "below the limit").
BOOST_AUTO_TEST_CASE(initrd_addr_max_of_4g_minus_1_does_not_wrap) {
  const std::array ranges{mem::guest_range{.start = guest_address{0xf0000000}, .size = 0x10000000}};
  auto memory = mem::guest_memory::anonymous(ranges);
  BOOST_TEST_REQUIRE(memory.has_value(), describe(memory));
  const auto at = ld::place_initrd(*memory, 4096, 0xffffffff, {});
  BOOST_TEST_REQUIRE(at.has_value(), describe(at));
  BOOST_TEST(at->raw() == 0xfffff000U);
}

// A relocatable kernel's min_alignment of 63 or more made 1 << min_alignment undefined behaviour.
BOOST_AUTO_TEST_CASE(min_alignment_of_64_is_refused_without_shifting_out_of_range) {
  const auto image = img::make_bzimage({.min_alignment = 64});
  BOOST_TEST(error_of(ld::parse_bzimage_header(image, image.size())) == error(ld::errc::bad_kernel_alignment));
}

BOOST_AUTO_TEST_SUITE_END()
