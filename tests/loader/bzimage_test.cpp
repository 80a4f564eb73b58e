// bzImage setup header parsing and loading, on synthetic images built by vmm.loader_images (the error paths are in
// negative_test.cpp, the real kernel in kernel_test.cpp).
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
using vmm::testing::describe;

BOOST_AUTO_TEST_SUITE(bzimage)

BOOST_AUTO_TEST_CASE(header_fields_decode_from_their_offsets) {
  const auto image = img::make_bzimage({});
  const auto header = ld::parse_bzimage_header(image, image.size());
  BOOST_TEST_REQUIRE(header.has_value(), describe(header));
  BOOST_TEST(header->version == 0x020f);
  BOOST_TEST(header->setup_size == 5 * 512);
  BOOST_TEST(header->kernel_size == 64 * 1024);
  BOOST_TEST(header->relocatable);
  BOOST_TEST(header->kernel_alignment == 0x200000);
  BOOST_TEST(header->min_alignment == 0x200000);
  BOOST_TEST((header->xloadflags & ld::xlf_kernel_64) != 0);
  BOOST_TEST(header->cmdline_size == 2047);
  BOOST_TEST(header->initrd_addr_max == 0x7fffffff);
  BOOST_TEST(header->pref_address.raw() == 0x1000000);
  BOOST_TEST(header->init_size == 256 * 1024);
  BOOST_TEST(header->handover_offset == 0x190);
  const std::uint32_t magic = header->raw.header;
  BOOST_TEST(magic == ld::setup_header_magic);
}

BOOST_AUTO_TEST_CASE(setup_sects_zero_means_four) {
  const auto image = img::make_bzimage({.setup_sects = 0});
  const auto header = ld::parse_bzimage_header(image, image.size());
  BOOST_TEST_REQUIRE(header.has_value(), describe(header));
  BOOST_TEST(header->setup_size == 5 * 512);
}

BOOST_AUTO_TEST_CASE(protocol_2_06_gets_defaults_for_later_fields) {
  // Before 2.10 there is no pref_address or init_size, before 2.11 no handover_offset: the bytes there are setup
  // code, so the image's values (set anyway by the builder) must be ignored.
  const auto image = img::make_bzimage({.version = 0x0206, .init_size = 1, .handover_offset = 0x1234});
  const auto header = ld::parse_bzimage_header(image, image.size());
  BOOST_TEST_REQUIRE(header.has_value(), describe(header));
  BOOST_TEST(header->pref_address.raw() == ld::default_kernel_address);
  BOOST_TEST(header->init_size == header->kernel_size);
  BOOST_TEST(header->handover_offset == 0U);
  BOOST_TEST(header->min_alignment == 0x200000);
}

BOOST_AUTO_TEST_CASE(initrd_addr_max_zero_means_the_protocol_default) {
  const auto image = img::make_bzimage({.initrd_addr_max = 0});
  const auto header = ld::parse_bzimage_header(image, image.size());
  BOOST_TEST_REQUIRE(header.has_value(), describe(header));
  BOOST_TEST(header->initrd_addr_max == ld::default_initrd_addr_max);
}

BOOST_AUTO_TEST_CASE(default_load_goes_to_pref_address_and_copies_every_kernel_byte) {
  const auto image = img::make_bzimage({.trailing_bytes = 100});
  const auto memory = memory_of(0, 32 * mib);
  const auto load = ld::load_bzimage(memory, image);
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
  BOOST_TEST(load->load_address.raw() == 0x1000000);
  BOOST_TEST(load->entry_64.raw() == 0x1000200);
  BOOST_TEST(load->size_loaded == 64 * 1024);
  BOOST_TEST(load->kernel_end.raw() == 0x1000000 + (256 * 1024));
  const auto loaded = guest_bytes(memory, 0x1000000, 64 * 1024);
  const auto kernel = std::span{image}.subspan(5 * 512, 64 * 1024);
  BOOST_TEST(std::ranges::equal(loaded, kernel));
  // The trailing bytes (a signature) are not loaded.
  BOOST_TEST(all_bytes_are(memory, 0x1000000 + (64 * 1024), 100, std::byte{0}));
}

BOOST_AUTO_TEST_CASE(relocatable_kernel_loads_at_an_aligned_address_of_choice) {
  const auto image = img::make_bzimage({});
  const auto memory = memory_of(0, 32 * mib);
  const auto load = ld::load_bzimage(memory, image, {.load_address = guest_address{0x400000}});
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
  BOOST_TEST(load->load_address.raw() == 0x400000);
  BOOST_TEST(load->entry_64.raw() == 0x400200);
  BOOST_TEST(guest_bytes(memory, 0x400000, 1).front() == img::pattern_byte(0));
}

BOOST_AUTO_TEST_CASE(kernel_end_covers_the_kernel_when_init_size_is_equal) {
  const auto image = img::make_bzimage({.init_size = 64 * 1024});
  const auto memory = memory_of(0, 32 * mib);
  const auto load = ld::load_bzimage(memory, image);
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
  BOOST_TEST(load->kernel_end.raw() == 0x1000000 + (64 * 1024));
}

BOOST_AUTO_TEST_CASE(non_relocatable_kernel_loads_at_pref_address) {
  const auto image = img::make_bzimage({.relocatable = 0, .kernel_alignment = 0});
  const auto memory = memory_of(0, 32 * mib);
  const auto load = ld::load_bzimage(memory, image);
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
  BOOST_TEST(load->load_address.raw() == 0x1000000);
}

BOOST_AUTO_TEST_CASE(kernel_without_64bit_entry_loads_when_not_required) {
  const auto image = img::make_bzimage({.xloadflags = 0});
  const auto memory = memory_of(0, 32 * mib);
  const auto load = ld::load_bzimage(memory, image, {.require_64bit_entry = false});
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
}

BOOST_AUTO_TEST_CASE(loading_from_a_file_copies_the_same_bytes) {
  const auto image = img::make_bzimage({.trailing_bytes = 1472});
  const temp_file file{image};
  const vmm::sys::unique_fd fd{::open(file.path().c_str(), O_RDONLY | O_CLOEXEC)};
  BOOST_TEST_REQUIRE(fd.valid());
  const auto memory = memory_of(0, 32 * mib);
  const auto load = ld::load_bzimage(memory, fd.borrow());
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
  BOOST_TEST(load->load_address.raw() == 0x1000000);
  BOOST_TEST(std::ranges::equal(guest_bytes(memory, 0x1000000, 64 * 1024), std::span{image}.subspan(2560, 65536)));
}

BOOST_AUTO_TEST_CASE(loading_from_a_file_across_two_regions_fills_both) {
  const auto image = img::make_bzimage({});
  const temp_file file{image};
  const vmm::sys::unique_fd fd{::open(file.path().c_str(), O_RDONLY | O_CLOEXEC)};
  BOOST_TEST_REQUIRE(fd.valid());
  // Two adjacent regions split at 16 MiB + 32 KiB, inside the kernel.
  const std::array ranges{mem::guest_range{.start = guest_address{0}, .size = 0x1008000},
                          mem::guest_range{.start = guest_address{0x1008000}, .size = 16 * mib}};
  auto memory = mem::guest_memory::anonymous(ranges);
  BOOST_TEST_REQUIRE(memory.has_value(), describe(memory));
  const auto load = ld::load_bzimage(*memory, fd.borrow());
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
  BOOST_TEST(std::ranges::equal(guest_bytes(*memory, 0x1000000, 64 * 1024), std::span{image}.subspan(2560, 65536)));
}

BOOST_AUTO_TEST_SUITE_END()
