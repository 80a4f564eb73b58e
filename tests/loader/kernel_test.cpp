// Debian's real cloud kernel (linux-image-*-cloud-amd64), fetched by tools/fetch-test-kernel into
// $VMM_KERNEL_DIR (default ~/.cache/cpp-vmm/kernel). The suite is disabled by default and run by the CTest test
// test_loader/kernel, which depends on the fetch fixture; where the kernel (or the vmlinux that unlz4 extracts from
// it) is missing, each case says so and passes without checking.
#include <boost/test/unit_test.hpp>

#include "byte_printing.hpp"

#include <fcntl.h>
#include <unistd.h>

import std;
import vmm.sys;
import vmm.memory;
import vmm.loader;
import vmm.testing;

#include "support.hpp"

using namespace loader_test;
using mem::guest_address;
using vmm::testing::describe;

namespace {

auto kernel_dir() -> std::filesystem::path {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once, before any thread starts.
  if (const char* dir = std::getenv("VMM_KERNEL_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  const char* home = std::getenv("HOME");
  return std::filesystem::path{home != nullptr ? home : "/"} / ".cache/cpp-vmm/kernel";
}

auto read_file(const std::filesystem::path& path) -> std::optional<std::vector<std::byte>> {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    return std::nullopt;
  }
  std::vector<std::byte> bytes(std::filesystem::file_size(path));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!in) {
    return std::nullopt;
  }
  return bytes;
}

// The file, or nullopt after a message saying the case is skipped.
auto kernel_file(std::string_view name) -> std::optional<std::vector<std::byte>> {
  const auto path = kernel_dir() / name;
  auto bytes = read_file(path);
  if (!bytes) {
    BOOST_TEST_MESSAGE("skipped: " << path << " is missing (tools/fetch-test-kernel fetches it)");
  }
  return bytes;
}

// Debian's kernel asks for 16 MiB + init_size (about 52 MiB): 128 MiB holds it.
constexpr std::uint64_t guest_size = 128 * mib;

}  // namespace

BOOST_AUTO_TEST_SUITE(kernel, *boost::unit_test::disabled())

BOOST_AUTO_TEST_CASE(debian_bzimage_header_fields_parse) {
  const auto image = kernel_file("vmlinuz");
  if (!image) {
    return;
  }
  const auto header = ld::parse_bzimage_header(*image, image->size());
  BOOST_TEST_REQUIRE(header.has_value(), describe(header));
  BOOST_TEST(header->version >= 0x020cU);  // 6.1 has protocol 2.15
  BOOST_TEST(header->relocatable);
  BOOST_TEST((header->xloadflags & ld::xlf_kernel_64) != 0);
  BOOST_TEST((header->loadflags & ld::loadflag_loaded_high) != 0);
  BOOST_TEST(header->cmdline_size == 2047U);
  BOOST_TEST(header->kernel_alignment == 0x200000U);
  BOOST_TEST(header->pref_address.raw() == 0x1000000U);
  BOOST_TEST(header->init_size > header->kernel_size);
  BOOST_TEST(header->setup_size + header->kernel_size <= image->size());
  BOOST_TEST(header->initrd_addr_max == 0x7fffffffU);
}

BOOST_AUTO_TEST_CASE(debian_bzimage_loads_every_byte_at_its_address) {
  const auto image = kernel_file("vmlinuz");
  if (!image) {
    return;
  }
  const auto memory = memory_of(0, guest_size);
  const auto load = ld::load_bzimage(memory, *image);
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
  BOOST_TEST(load->load_address.raw() == 0x1000000U);
  BOOST_TEST(load->entry_64.raw() == 0x1000200U);
  const auto& h = load->header;
  BOOST_TEST(load->kernel_end.raw() == 0x1000000U + h.init_size);
  const auto loaded = guest_bytes(memory, load->load_address.raw(), load->size_loaded);
  BOOST_TEST(std::ranges::equal(loaded, std::span{*image}.subspan(h.setup_size, h.kernel_size)));
}

BOOST_AUTO_TEST_CASE(debian_bzimage_from_its_file_matches_the_bytes_load) {
  const auto path = kernel_dir() / "vmlinuz";
  const vmm::sys::unique_fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  const auto image = kernel_file("vmlinuz");
  if (!image || !fd.valid()) {
    return;
  }
  const auto memory = memory_of(0, guest_size);
  const auto load = ld::load_bzimage(memory, fd.borrow(), {.load_address = guest_address{0x200000}});
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
  const auto& h = load->header;
  BOOST_TEST(std::ranges::equal(guest_bytes(memory, 0x200000, h.kernel_size),
                                std::span{*image}.subspan(h.setup_size, h.kernel_size)));
}

BOOST_AUTO_TEST_CASE(debian_vmlinux_has_the_pvh_entry_note) {
  const auto vmlinux = kernel_file("vmlinux");
  if (!vmlinux) {
    return;
  }
  const auto entry = ld::find_pvh_entry(*vmlinux);
  BOOST_TEST_REQUIRE(entry.has_value(), describe(entry));
  BOOST_TEST_REQUIRE(entry->has_value());
  // pvh_start_xen lies in the first text pages, above the 16 MiB load address.
  BOOST_TEST((*entry)->raw() > 0x1000000U);
  BOOST_TEST((*entry)->raw() < 0x1100000U);
}

BOOST_AUTO_TEST_CASE(debian_vmlinux_loads_with_entries_inside_its_segments) {
  const auto vmlinux = kernel_file("vmlinux");
  if (!vmlinux) {
    return;
  }
  const auto memory = memory_of(0, guest_size);
  const auto load = ld::load_elf(memory, *vmlinux);
  BOOST_TEST_REQUIRE(load.has_value(), describe(load));
  BOOST_TEST(load->entry.raw() == 0x1000000U);
  BOOST_TEST_REQUIRE(load->pvh_entry.has_value());
  BOOST_TEST(load->lowest.raw() == 0x1000000U);
  BOOST_TEST(load->segments.size() >= 3U);
  BOOST_TEST(load->kernel_end.raw() < guest_size);
}

BOOST_AUTO_TEST_SUITE_END()
