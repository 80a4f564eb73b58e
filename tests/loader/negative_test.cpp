// Bad input across vmm.loader: every vmm::loader::errc, each with the exact error, and proof that nothing was
// written (guest memory is filled with a marker before each failing load and compared afterwards).
#include <boost/test/unit_test.hpp>

#include "byte_printing.hpp"

#include <fcntl.h>
#include <unistd.h>

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
using vmm::testing::error_of;

namespace {

constexpr std::byte marker{0xee};

// Guest memory of 32 MiB filled with the marker.
auto marked_memory() -> mem::guest_memory {
  auto memory = memory_of(0, 32 * mib);
  fill(memory, marker);
  return memory;
}

auto untouched(const mem::guest_memory& memory) -> bool {
  const auto& region = *memory.regions().front();
  const std::byte* bytes = region.host_address();
  // Every byte equals its successor and the first is the marker (memcmp: the unoptimised byte loop took seconds).
  return bytes[0] == marker && std::memcmp(bytes, bytes + 1, region.size() - 1) == 0;
}

// The error of loading `image` as a bzImage into fresh marked memory, checking that nothing was written.
auto bzimage_error(const std::vector<std::byte>& image, const ld::bzimage_options& options = {}) -> std::error_code {
  const auto memory = marked_memory();
  const auto r = ld::load_bzimage(memory, image, options);
  BOOST_TEST(untouched(memory));
  return error_of(r);
}

auto elf_error(const std::vector<std::byte>& image, const ld::elf_options& options = {}) -> std::error_code {
  const auto memory = marked_memory();
  const auto r = ld::load_elf(memory, image, options);
  BOOST_TEST(untouched(memory));
  return error_of(r);
}

auto one_segment(std::uint64_t paddr, std::uint64_t filesz, std::uint64_t memsz) -> img::elf_spec {
  return {.entry = paddr, .segments = {{.paddr = paddr, .filesz = filesz, .memsz = memsz}}};
}

// An ELF with one text segment and a PT_NOTE of `notes`.
auto elf_with_notes(std::vector<std::byte> notes) -> std::vector<std::byte> {
  const auto size = notes.size();
  return img::make_elf(
      {.segments = {{.paddr = 0x1000000, .filesz = 0x1000, .memsz = 0x1000},
                    {.type = img::pt_note, .filesz = size, .memsz = size, .align = 4, .content = std::move(notes)}}});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(negative_bzimage)

BOOST_AUTO_TEST_CASE(image_shorter_than_the_header_is_too_small) {
  auto image = img::make_bzimage({});
  image.resize(ld::bzimage_header_span - 1);
  BOOST_TEST(bzimage_error(image) == error(ld::errc::image_too_small));
  BOOST_TEST(bzimage_error({}) == error(ld::errc::image_too_small));
}

BOOST_AUTO_TEST_CASE(missing_hdrs_is_bad_magic) {
  BOOST_TEST(bzimage_error(img::make_bzimage({.magic = 0x53726449})) == error(ld::errc::bad_header_magic));
}

BOOST_AUTO_TEST_CASE(protocol_2_05_is_too_old) {
  BOOST_TEST(bzimage_error(img::make_bzimage({.version = 0x0205})) == error(ld::errc::boot_protocol_too_old));
}

BOOST_AUTO_TEST_CASE(setup_sects_past_the_file_end_is_refused) {
  // 255 setup sectors claim 128 KiB of setup; the file is 3 KiB + kernel.
  auto image = img::make_bzimage({.kernel_size = 1024});
  image[img::off_setup_sects] = std::byte{255};
  BOOST_TEST(bzimage_error(image) == error(ld::errc::setup_past_eof));
}

BOOST_AUTO_TEST_CASE(syssize_zero_is_refused) {
  auto image = img::make_bzimage({});
  img::put(image, img::off_syssize, std::uint32_t{0});
  BOOST_TEST(bzimage_error(image) == error(ld::errc::kernel_size_zero));
}

BOOST_AUTO_TEST_CASE(syssize_larger_than_the_file_is_kernel_past_eof) {
  BOOST_TEST(bzimage_error(img::make_bzimage({.syssize_override = (64 * 1024 / 16) + 1})) ==
             error(ld::errc::kernel_past_eof));
  // The largest syssize: 2^32 - 1 paragraphs, 64 GiB, must not overflow the check.
  BOOST_TEST(bzimage_error(img::make_bzimage({.syssize_override = 0xffffffff})) == error(ld::errc::kernel_past_eof));
}

BOOST_AUTO_TEST_CASE(truncated_kernel_is_kernel_past_eof) {
  auto image = img::make_bzimage({});
  image.resize(image.size() - 1);
  BOOST_TEST(bzimage_error(image) == error(ld::errc::kernel_past_eof));
}

BOOST_AUTO_TEST_CASE(zimage_without_loaded_high_is_refused) {
  BOOST_TEST(bzimage_error(img::make_bzimage({.loadflags = 0})) == error(ld::errc::not_loaded_high));
}

BOOST_AUTO_TEST_CASE(kernel_without_xlf_kernel_64_has_no_64bit_entry) {
  BOOST_TEST(bzimage_error(img::make_bzimage({.xloadflags = 0x02})) == error(ld::errc::no_64bit_entry));
}

BOOST_AUTO_TEST_CASE(alignment_that_is_not_a_power_of_two_is_refused) {
  BOOST_TEST(bzimage_error(img::make_bzimage({.kernel_alignment = 0x300000})) == error(ld::errc::bad_kernel_alignment));
  BOOST_TEST(bzimage_error(img::make_bzimage({.kernel_alignment = 0x800})) == error(ld::errc::bad_kernel_alignment));
  BOOST_TEST(bzimage_error(img::make_bzimage({.kernel_alignment = 0})) == error(ld::errc::bad_kernel_alignment));
}

BOOST_AUTO_TEST_CASE(min_alignment_above_kernel_alignment_is_refused) {
  BOOST_TEST(bzimage_error(img::make_bzimage({.min_alignment = 22})) == error(ld::errc::bad_kernel_alignment));
  BOOST_TEST(bzimage_error(img::make_bzimage({.min_alignment = 200})) == error(ld::errc::bad_kernel_alignment));
}

BOOST_AUTO_TEST_CASE(load_address_off_min_alignment_is_misaligned) {
  BOOST_TEST(bzimage_error(img::make_bzimage({}), {.load_address = guest_address{0x1100000}}) ==
             error(ld::errc::misaligned_load_address));
}

BOOST_AUTO_TEST_CASE(non_relocatable_kernel_elsewhere_than_pref_address_is_misaligned) {
  BOOST_TEST(bzimage_error(img::make_bzimage({.relocatable = 0}), {.load_address = guest_address{0x1200000}}) ==
             error(ld::errc::misaligned_load_address));
}

BOOST_AUTO_TEST_CASE(init_size_below_the_kernel_size_is_refused) {
  BOOST_TEST(bzimage_error(img::make_bzimage({.init_size = 1000})) == error(ld::errc::init_size_too_small));
}

BOOST_AUTO_TEST_CASE(kernel_whose_init_size_leaves_memory_is_outside_memory) {
  // Kernel at 16 MiB needs 16 MiB + 17 MiB: memory is 32 MiB.
  BOOST_TEST(bzimage_error(img::make_bzimage({.init_size = 17 * 1024 * 1024})) ==
             error(ld::errc::kernel_outside_memory));
  BOOST_TEST(bzimage_error(img::make_bzimage({.pref_address = 0x40000000})) == error(ld::errc::kernel_outside_memory));
}

BOOST_AUTO_TEST_CASE(load_address_near_2_64_overflows) {
  // The highest 2 MiB-aligned address, with an init_size of 4 MiB: the end passes 2^64.
  BOOST_TEST(bzimage_error(img::make_bzimage({.init_size = 4 * 1024 * 1024}),
                           {.load_address = guest_address{0xffffffffffe00000}}) == error(ld::errc::address_overflow));
}

BOOST_AUTO_TEST_CASE(file_shorter_than_its_header_says_is_refused_from_an_fd) {
  auto image = img::make_bzimage({});
  image.resize(image.size() - 16);
  const temp_file file{image};
  const vmm::sys::unique_fd fd{::open(file.path().c_str(), O_RDONLY | O_CLOEXEC)};
  BOOST_TEST_REQUIRE(fd.valid());
  const auto memory = marked_memory();
  BOOST_TEST(error_of(ld::load_bzimage(memory, fd.borrow())) == error(ld::errc::kernel_past_eof));
  BOOST_TEST(untouched(memory));
}

BOOST_AUTO_TEST_CASE(tiny_file_is_too_small_from_an_fd) {
  const std::vector<std::byte> image(100, std::byte{0x55});
  const temp_file file{image};
  const vmm::sys::unique_fd fd{::open(file.path().c_str(), O_RDONLY | O_CLOEXEC)};
  BOOST_TEST_REQUIRE(fd.valid());
  const auto memory = marked_memory();
  BOOST_TEST(error_of(ld::load_bzimage(memory, fd.borrow())) == error(ld::errc::image_too_small));
}

BOOST_AUTO_TEST_CASE(closed_fd_is_ebadf) {
  const auto memory = marked_memory();
  BOOST_TEST(error_of(ld::load_bzimage(memory, vmm::sys::borrowed_fd{})) == vmm::testing::os_error(EBADF));
}

BOOST_AUTO_TEST_CASE(unreadable_fd_reports_the_read_error) {
  // A directory opens and has a size, but reads fail with EISDIR.
  const vmm::sys::unique_fd fd{::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  BOOST_TEST_REQUIRE(fd.valid());
  const auto memory = marked_memory();
  const auto r = ld::load_bzimage(memory, fd.borrow());
  BOOST_TEST(!r.has_value());
  BOOST_TEST(untouched(memory));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(negative_elf)

BOOST_AUTO_TEST_CASE(file_shorter_than_an_elf_header_is_too_small) {
  auto image = img::make_vmlinux();
  image.resize(63);
  BOOST_TEST(elf_error(image) == error(ld::errc::elf_too_small));
  BOOST_TEST(elf_error({}) == error(ld::errc::elf_too_small));
}

BOOST_AUTO_TEST_CASE(wrong_magic_is_refused) {
  auto image = img::make_vmlinux();
  image[1] = std::byte{'X'};
  BOOST_TEST(elf_error(image) == error(ld::errc::elf_bad_magic));
}

BOOST_AUTO_TEST_CASE(identification_and_machine_fields_are_checked) {
  const auto with = [](img::elf_spec spec) {
    spec.segments = {{.paddr = 0x1000000, .filesz = 0x100, .memsz = 0x100}};
    return img::make_elf(spec);
  };
  BOOST_TEST(elf_error(with({.elf_class = 1})) == error(ld::errc::elf_not_64bit));
  BOOST_TEST(elf_error(with({.data = 2})) == error(ld::errc::elf_not_little_endian));
  BOOST_TEST(elf_error(with({.ident_version = 0})) == error(ld::errc::elf_bad_version));
  BOOST_TEST(elf_error(with({.version = 2})) == error(ld::errc::elf_bad_version));
  BOOST_TEST(elf_error(with({.machine = 3})) == error(ld::errc::elf_not_x86_64));
  BOOST_TEST(elf_error(with({.type = 3})) == error(ld::errc::elf_not_executable));
  BOOST_TEST(elf_error(with({.ehsize = 52})) == error(ld::errc::elf_bad_header_size));
  BOOST_TEST(elf_error(with({.phentsize = 32})) == error(ld::errc::elf_bad_header_size));
}

BOOST_AUTO_TEST_CASE(zero_or_too_many_program_headers_are_refused) {
  auto spec = one_segment(0x1000000, 0x100, 0x100);
  spec.phnum_override = 0;
  BOOST_TEST(elf_error(img::make_elf(spec)) == error(ld::errc::elf_bad_phnum));
  spec.phnum_override = static_cast<std::uint16_t>(ld::max_program_headers + 1);
  BOOST_TEST(elf_error(img::make_elf(spec)) == error(ld::errc::elf_bad_phnum));
  spec.phnum_override = 0xffff;  // PN_XNUM
  BOOST_TEST(elf_error(img::make_elf(spec)) == error(ld::errc::elf_bad_phnum));
}

BOOST_AUTO_TEST_CASE(program_headers_past_the_file_end_are_refused) {
  auto spec = one_segment(0x1000000, 0x100, 0x100);
  spec.phnum_override = 10;  // 10 headers of 56 bytes from offset 64: 624 bytes, the file has 64 + 56 + 0x100 + pad
  BOOST_TEST(elf_error(img::make_elf(spec)) == error(ld::errc::elf_phdrs_past_eof));
  spec.phnum_override.reset();
  spec.phoff_override = 0xfffffffffffffff0;
  BOOST_TEST(elf_error(img::make_elf(spec)) == error(ld::errc::elf_phdrs_past_eof));
}

BOOST_AUTO_TEST_CASE(segment_past_the_file_end_is_refused) {
  auto spec = one_segment(0x1000000, 0x100, 0x100);
  spec.segments[0].offset_override = 0x10000;
  BOOST_TEST(elf_error(img::make_elf(spec)) == error(ld::errc::elf_segment_past_eof));
  spec.segments[0].offset_override = 0xffffffffffffff00;  // offset + filesz wraps
  BOOST_TEST(elf_error(img::make_elf(spec)) == error(ld::errc::elf_segment_past_eof));
}

BOOST_AUTO_TEST_CASE(filesz_above_memsz_is_refused) {
  BOOST_TEST(elf_error(img::make_elf(one_segment(0x1000000, 0x200, 0x100))) ==
             error(ld::errc::elf_filesz_exceeds_memsz));
}

BOOST_AUTO_TEST_CASE(overlapping_segments_are_refused) {
  const auto image = img::make_elf({.segments = {{.paddr = 0x1000000, .filesz = 0x100, .memsz = 0x2000},
                                                 {.paddr = 0x1001000, .filesz = 0x100, .memsz = 0x100}}});
  BOOST_TEST(elf_error(image) == error(ld::errc::elf_segments_overlap));
  // Listed in the other order, and the later one containing the earlier.
  const auto reversed = img::make_elf({.segments = {{.paddr = 0x1001000, .filesz = 0x100, .memsz = 0x100},
                                                    {.paddr = 0x1000000, .filesz = 0x100, .memsz = 0x8000}}});
  BOOST_TEST(elf_error(reversed) == error(ld::errc::elf_segments_overlap));
}

BOOST_AUTO_TEST_CASE(segment_beyond_guest_memory_is_outside_memory) {
  BOOST_TEST(elf_error(img::make_elf(one_segment(0x1ffff00, 0x100, 0x200))) ==
             error(ld::errc::elf_segment_outside_memory));
  // The second segment is outside: the first, inside, must not be written either.
  const auto image = img::make_elf({.segments = {{.paddr = 0x1000000, .filesz = 0x100, .memsz = 0x100},
                                                 {.paddr = 0x4000000, .filesz = 0x100, .memsz = 0x100}}});
  BOOST_TEST(elf_error(image) == error(ld::errc::elf_segment_outside_memory));
}

BOOST_AUTO_TEST_CASE(segment_ending_past_2_64_overflows) {
  auto spec = one_segment(0xfffffffffffff000, 0x100, 0x1000);
  BOOST_TEST(elf_error(img::make_elf(spec)) == error(ld::errc::address_overflow));
  BOOST_TEST(elf_error(img::make_elf(one_segment(0x1000000, 0x100, 0x100)), {.address_offset = 0xffffffffff000000}) ==
             error(ld::errc::address_overflow));
}

BOOST_AUTO_TEST_CASE(file_without_loadable_bytes_is_refused) {
  BOOST_TEST(elf_error(img::make_elf(one_segment(0x1000000, 0, 0))) == error(ld::errc::elf_no_loadable_segments));
}

BOOST_AUTO_TEST_CASE(entry_outside_every_segment_is_refused) {
  auto spec = one_segment(0x1000000, 0x100, 0x100);
  spec.entry = 0x1000100;  // one past the end
  BOOST_TEST(elf_error(img::make_elf(spec)) == error(ld::errc::elf_entry_outside_image));
}

BOOST_AUTO_TEST_CASE(pvh_entry_outside_every_segment_is_refused) {
  BOOST_TEST(elf_error(img::make_vmlinux(0x2000000)) == error(ld::errc::elf_entry_outside_image));
}

BOOST_AUTO_TEST_CASE(note_with_a_name_past_its_segment_is_bad) {
  auto notes = img::pvh_note(0x1000040);
  img::put(notes, 0, std::uint32_t{0x100});  // namesz
  BOOST_TEST(elf_error(elf_with_notes(notes)) == error(ld::errc::elf_bad_note));
  BOOST_TEST(error_of(ld::find_pvh_entry(elf_with_notes(notes))) == error(ld::errc::elf_bad_note));
}

BOOST_AUTO_TEST_CASE(note_with_a_description_past_its_segment_is_bad) {
  auto notes = img::pvh_note(0x1000040);
  img::put(notes, 4, std::uint32_t{0xfffffff0});  // descsz
  BOOST_TEST(elf_error(elf_with_notes(notes)) == error(ld::errc::elf_bad_note));
}

BOOST_AUTO_TEST_CASE(note_segment_too_short_for_a_note_header_is_bad) {
  std::vector<std::byte> notes(8, std::byte{0});
  BOOST_TEST(elf_error(elf_with_notes(notes)) == error(ld::errc::elf_bad_note));
}

BOOST_AUTO_TEST_CASE(pvh_note_of_odd_size_or_above_4g_is_bad) {
  const std::array<std::byte, 2> two{};
  BOOST_TEST(elf_error(elf_with_notes(img::make_note("Xen", 18, two))) == error(ld::errc::elf_bad_pvh_note));
  const auto high = std::bit_cast<std::array<std::byte, 8>>(std::uint64_t{0x100000000});
  BOOST_TEST(elf_error(elf_with_notes(img::make_note("Xen", 18, high))) == error(ld::errc::elf_bad_pvh_note));
}

BOOST_AUTO_TEST_CASE(note_segment_past_the_file_end_is_refused) {
  auto notes = img::pvh_note(0x1000040);
  const auto size = notes.size();
  auto image = img::make_elf(
      {.segments = {
           {.paddr = 0x1000000, .filesz = 0x1000, .memsz = 0x1000},
           {.type = img::pt_note, .filesz = size + 1, .memsz = size, .align = 4, .content = std::move(notes)}}});
  BOOST_TEST(elf_error(image) == error(ld::errc::elf_segment_past_eof));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(negative_initrd)

BOOST_AUTO_TEST_CASE(empty_initrd_is_refused) {
  const auto memory = marked_memory();
  BOOST_TEST(error_of(ld::place_initrd(memory, 0, 0x7fffffff, {})) == error(ld::errc::initrd_empty));
  BOOST_TEST(error_of(ld::load_initrd(memory, guest_address{0}, {})) == error(ld::errc::initrd_empty));
}

BOOST_AUTO_TEST_CASE(initrd_larger_than_the_free_memory_does_not_fit) {
  const auto memory = marked_memory();
  const mem::guest_range kernel{.start = guest_address{0x1000000}, .size = 0x800000};
  // Free: [0, 16M) and [24M, 32M): 17 MiB fits nowhere in one piece.
  BOOST_TEST(error_of(ld::place_initrd(memory, 17 * mib, 0x7fffffff, kernel)) == error(ld::errc::initrd_does_not_fit));
  // Huge sizes do not wrap.
  BOOST_TEST(error_of(ld::place_initrd(memory, ~std::uint64_t{0}, ~std::uint64_t{0}, kernel)) ==
             error(ld::errc::initrd_does_not_fit));
}

BOOST_AUTO_TEST_CASE(initrd_addr_max_below_all_memory_does_not_fit) {
  const auto memory = memory_of(0x10000000, 16 * mib);
  BOOST_TEST(error_of(ld::place_initrd(memory, 4096, 0x0fffffff, {})) == error(ld::errc::initrd_does_not_fit));
}

BOOST_AUTO_TEST_CASE(read_only_memory_is_not_chosen) {
  auto region = mem::guest_region::anonymous(guest_address{0}, 16 * mib, {.read_only = true});
  BOOST_TEST_REQUIRE(region.has_value());
  auto memory = mem::guest_memory::create({std::move(*region)});
  BOOST_TEST_REQUIRE(memory.has_value());
  BOOST_TEST(error_of(ld::place_initrd(*memory, 4096, 0x7fffffff, {})) == error(ld::errc::initrd_does_not_fit));
}

BOOST_AUTO_TEST_CASE(initrd_past_memory_is_outside_memory) {
  const auto memory = marked_memory();
  const std::vector<std::byte> initrd(8192, std::byte{1});
  BOOST_TEST(error_of(ld::load_initrd(memory, guest_address{(32 * mib) - 4096}, initrd)) ==
             error(ld::errc::initrd_outside_memory));
  BOOST_TEST(error_of(ld::load_initrd(memory, guest_address{~std::uint64_t{0}}, initrd)) ==
             error(ld::errc::initrd_outside_memory));
  BOOST_TEST(untouched(memory));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(negative_cmdline)

BOOST_AUTO_TEST_CASE(bad_keys_are_refused_and_change_nothing) {
  ld::cmdline line{100};
  BOOST_TEST_REQUIRE(line.insert_flag("ro").has_value());
  BOOST_TEST(error_of(line.insert("", "x")) == error(ld::errc::cmdline_bad_key));
  BOOST_TEST(error_of(line.insert("a b", "x")) == error(ld::errc::cmdline_bad_key));
  BOOST_TEST(error_of(line.insert("a=b", "x")) == error(ld::errc::cmdline_bad_key));
  BOOST_TEST(error_of(line.insert_flag("a\"b")) == error(ld::errc::cmdline_bad_key));
  BOOST_TEST(error_of(line.insert_flag("")) == error(ld::errc::cmdline_bad_key));
  BOOST_TEST(line.str() == "ro");
}

BOOST_AUTO_TEST_CASE(control_characters_are_refused) {
  ld::cmdline line{100};
  using namespace std::string_view_literals;
  BOOST_TEST(error_of(line.insert("a", "x\ny")) == error(ld::errc::cmdline_invalid_character));
  BOOST_TEST(error_of(line.insert("a", "x\0y"sv)) == error(ld::errc::cmdline_invalid_character));
  BOOST_TEST(error_of(line.insert("a\tb", "x")) == error(ld::errc::cmdline_invalid_character));
  BOOST_TEST(error_of(line.insert_flag("\x7f")) == error(ld::errc::cmdline_invalid_character));
  BOOST_TEST(error_of(line.insert_init_args("a\nb")) == error(ld::errc::cmdline_invalid_character));
  BOOST_TEST(line.last_error_detail().find("control character") != std::string_view::npos);
  BOOST_TEST(line.str().empty());
}

BOOST_AUTO_TEST_CASE(quote_in_a_value_is_refused) {
  ld::cmdline line{100};
  BOOST_TEST(error_of(line.insert("a", "say \"hi\"")) == error(ld::errc::cmdline_quote_in_value));
  BOOST_TEST(error_of(line.insert("a", "\"")) == error(ld::errc::cmdline_quote_in_value));
  BOOST_TEST(line.str().empty());
}

BOOST_AUTO_TEST_CASE(overflowing_the_capacity_is_too_long_and_changes_nothing) {
  ld::cmdline line{10};
  BOOST_TEST_REQUIRE(line.insert("a", "1234").has_value());                                 // 6
  BOOST_TEST(error_of(line.insert("b", "12")) == error(ld::errc::cmdline_too_long));        // 6 + 5 = 11
  BOOST_TEST(error_of(line.insert_init_args("xyz")) == error(ld::errc::cmdline_too_long));  // 6 + 4 + 3 = 13
  BOOST_TEST(line.last_error_detail().find("capacity is 10") != std::string_view::npos);
  BOOST_TEST(line.str() == "a=1234");
  ld::cmdline zero{0};
  BOOST_TEST(error_of(zero.insert_flag("x")) == error(ld::errc::cmdline_too_long));
}

BOOST_AUTO_TEST_CASE(init_arguments_count_against_the_capacity_of_later_parameters) {
  ld::cmdline line{11};
  BOOST_TEST_REQUIRE(line.insert_init_args("abcd").has_value());                      // " -- abcd" is 8
  BOOST_TEST(error_of(line.insert("k", "vv")) == error(ld::errc::cmdline_too_long));  // 4 + 8 = 12 > 11
  BOOST_TEST_REQUIRE(line.insert("k", "v").has_value());
  BOOST_TEST(line.str() == "k=v -- abcd");
}

BOOST_AUTO_TEST_CASE(bad_virtio_mmio_devices_are_refused) {
  ld::cmdline line{100};
  BOOST_TEST(error_of(line.add_virtio_mmio_device(0, guest_address{0x1000}, 5)) == error(ld::errc::cmdline_bad_device));
  BOOST_TEST(error_of(line.add_virtio_mmio_device(0x2000, guest_address{~std::uint64_t{0} - 0x1000}, 5)) ==
             error(ld::errc::cmdline_bad_device));
  BOOST_TEST(line.str().empty());
}

BOOST_AUTO_TEST_CASE(command_line_past_memory_is_outside_memory) {
  ld::cmdline line{100};
  BOOST_TEST_REQUIRE(line.insert_flag("ro").has_value());
  const auto memory = marked_memory();
  BOOST_TEST(error_of(line.write_to(memory, guest_address{(32 * mib) - 2})) ==
             error(ld::errc::boot_structure_outside_memory));
  BOOST_TEST(untouched(memory));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(negative_boot_structures)

BOOST_AUTO_TEST_CASE(memory_map_refuses_empty_overlapping_wrapping_and_the_129th_entry) {
  ld::memory_map map;
  BOOST_TEST(error_of(map.add(guest_address{0}, 0, ld::memory_type::ram)) == error(ld::errc::memory_map_entry_empty));
  BOOST_TEST(error_of(map.add(guest_address{~std::uint64_t{0}}, 2, ld::memory_type::ram)) ==
             error(ld::errc::address_overflow));
  BOOST_TEST_REQUIRE(map.add(guest_address{0x1000}, 0x1000, ld::memory_type::ram).has_value());
  BOOST_TEST(error_of(map.add(guest_address{0x1fff}, 1, ld::memory_type::ram)) == error(ld::errc::memory_map_overlap));
  BOOST_TEST(error_of(map.add(guest_address{0}, 0x1001, ld::memory_type::ram)) == error(ld::errc::memory_map_overlap));
  BOOST_TEST(error_of(map.add(guest_address{0}, 0x10000, ld::memory_type::ram)) == error(ld::errc::memory_map_overlap));
  for (std::uint64_t i = 1; i < ld::max_memory_map_entries; ++i) {
    BOOST_TEST_REQUIRE(map.add(guest_address{0x100000 * i}, 0x1000, ld::memory_type::reserved).has_value());
  }
  BOOST_TEST(map.entries().size() == ld::max_memory_map_entries);
  BOOST_TEST(error_of(map.add(guest_address{0x80000000}, 0x1000, ld::memory_type::ram)) ==
             error(ld::errc::too_many_memory_map_entries));
  BOOST_TEST(map.entries().size() == ld::max_memory_map_entries);
}

BOOST_AUTO_TEST_CASE(high_command_line_without_xlf_above_4g_is_refused) {
  ld::setup_header header{};
  header.xloadflags = ld::xlf_kernel_64;
  BOOST_TEST(error_of(ld::make_boot_params({.header = header, .cmdline_address = guest_address{0x100000000}})) ==
             error(ld::errc::address_above_4g));
  BOOST_TEST(
      error_of(ld::make_boot_params({.header = header, .initrd = {.start = guest_address{0x100000000}, .size = 1}})) ==
      error(ld::errc::address_above_4g));
  BOOST_TEST(error_of(ld::make_boot_params(
                 {.header = header, .initrd = {.start = guest_address{0x1000}, .size = 0x100000000}})) ==
             error(ld::errc::address_above_4g));
}

BOOST_AUTO_TEST_CASE(command_line_longer_than_cmdline_size_is_refused) {
  ld::setup_header header{};
  header.cmdline_size = 255;
  BOOST_TEST(error_of(ld::make_boot_params({.header = header, .cmdline_size = 256})) ==
             error(ld::errc::cmdline_too_long));
}

BOOST_AUTO_TEST_CASE(boot_structures_past_memory_are_outside_memory) {
  const auto memory = marked_memory();
  const auto end = guest_address{(32 * mib) - 8};
  auto params = ld::make_boot_params({});
  BOOST_TEST_REQUIRE(params.has_value());
  BOOST_TEST(error_of(ld::write_boot_params(memory, end, *params)) == error(ld::errc::boot_structure_outside_memory));
  BOOST_TEST(error_of(ld::write_gdt(memory, end, ld::long_mode_gdt())) ==
             error(ld::errc::boot_structure_outside_memory));
  BOOST_TEST(error_of(ld::write_identity_page_tables(memory, guest_address{(32 * mib) - 8192}, 1)) ==
             error(ld::errc::boot_structure_outside_memory));
  BOOST_TEST(error_of(ld::write_identity_page_tables(memory, guest_address{0xfffffffffffff000}, 1)) ==
             error(ld::errc::boot_structure_outside_memory));
  BOOST_TEST(error_of(ld::write_pvh_start_info(memory, end, {})) == error(ld::errc::boot_structure_outside_memory));
  BOOST_TEST(error_of(ld::write_pvh_start_info(memory, guest_address{0xfffffffffffffff8}, {})) ==
             error(ld::errc::boot_structure_outside_memory));
  BOOST_TEST(error_of(ld::write_pvh_start_info(memory, guest_address{0x1004}, {})) ==
             error(ld::errc::boot_structure_outside_memory));
  BOOST_TEST(untouched(memory));
}

BOOST_AUTO_TEST_CASE(pvh_module_of_size_zero_is_an_empty_initrd) {
  const auto memory = marked_memory();
  BOOST_TEST(error_of(ld::write_pvh_start_info(memory, guest_address{0x6000},
                                               {.modules = {{.start = guest_address{0x100000}, .size = 0}}})) ==
             error(ld::errc::initrd_empty));
  BOOST_TEST(untouched(memory));
}

BOOST_AUTO_TEST_CASE(page_tables_need_alignment_and_a_size_of_1_to_512_gib) {
  const auto memory = marked_memory();
  BOOST_TEST(error_of(ld::write_identity_page_tables(memory, guest_address{0x9008}, 1)) ==
             error(ld::errc::misaligned_page_tables));
  BOOST_TEST(error_of(ld::write_identity_page_tables(memory, guest_address{0x9000}, 0)) ==
             error(ld::errc::bad_identity_map_size));
  BOOST_TEST(error_of(ld::write_identity_page_tables(memory, guest_address{0x9000}, 513)) ==
             error(ld::errc::bad_identity_map_size));
  BOOST_TEST(untouched(memory));
}

BOOST_AUTO_TEST_CASE(every_error_has_a_message_and_the_category_is_named) {
  for (int e = 1; e <= static_cast<int>(ld::errc::address_above_4g); ++e) {
    const auto code = make_error_code(static_cast<ld::errc>(e));
    BOOST_TEST(code.message().find("Unknown") == std::string::npos, "errc " << e);
  }
  BOOST_TEST(std::string_view{ld::loader_category().name()} == "vmm.loader");
  BOOST_TEST(make_error_code(static_cast<ld::errc>(250)).message() == "Unknown vmm.loader error 250");
}

BOOST_AUTO_TEST_SUITE_END()
