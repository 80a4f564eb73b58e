// guest_region: every backing (anonymous, file, memfd, hugetlb, guest_memfd, foreign memory) and every option
// (read_only, guard_pages, track_dirty, populate, dont_dump), each proven on the real mapping: a forked child that
// touches a guard page or writes a read-only region dies of SIGSEGV, and /proc/self/smaps shows huge pages, resident
// pages and the dont-dump flag.
#include <boost/test/unit_test.hpp>

#include "byte_printing.hpp"
#include "huge_pages.hpp"

#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>

import std;
import vmm.sys;
import vmm.memory;
import vmm.testing;

namespace mem = vmm::memory;
namespace sys = vmm::sys;
using mem::guest_address;
using mem::guest_region;
using mem::region_address;
using mem::region_kind;
using vmm::memory_test::huge_page_pool_guard;
using vmm::memory_test::pool_counter;
using vmm::memory_test::two_mib_pool;
using vmm::testing::error_of;
using vmm::testing::wait_status_of_child;

namespace {

const std::uint64_t page = sys::page_size();
// Sixteen base pages: small, but more than one page so offsets inside a region mean something.
const std::uint64_t region_size = 16 * page;
// The huge page size every x86-64 host offers.
constexpr std::uint64_t two_mib = std::uint64_t{2} << 20U;

auto anonymous(std::uint64_t start, std::uint64_t size, const mem::region_options& options = {})
    -> std::shared_ptr<guest_region> {
  auto region = guest_region::anonymous(guest_address{start}, size, options);
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  return std::move(*region);
}

auto memory_of(std::shared_ptr<const guest_region> region) -> mem::guest_memory {
  auto memory = mem::guest_memory::create({std::move(region)});
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  return std::move(*memory);
}

// A temporary file of `size` bytes, byte i holding i % 251 (a pattern that does not repeat at page boundaries).
auto patterned_file(std::uint64_t size) -> sys::temp_file {
  auto file = sys::temp_file::create("region-");
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::byte>(i % 251);
  }
  const std::array buffers{sys::io_buffer{.base = bytes.data(), .length = bytes.size()}};
  BOOST_TEST_REQUIRE(sys::pwritev(file->fd(), buffers, 0).value_or(0) == bytes.size());
  return std::move(*file);
}

auto file_bytes(sys::borrowed_fd fd, std::uint64_t offset, std::size_t n) -> std::vector<std::byte> {
  std::vector<std::byte> bytes(n);
  const std::array buffers{sys::io_buffer{.base = bytes.data(), .length = bytes.size()}};
  BOOST_TEST_REQUIRE(sys::preadv(fd, buffers, offset).value_or(0) == n);
  return bytes;
}

// Whether a forked child that reads (or writes) the byte at `address` is killed by SIGSEGV.
auto touching_faults(std::byte* address, bool write) -> bool {
  const int status = wait_status_of_child([address, write] {
    static_cast<void>(std::signal(SIGSEGV, SIG_DFL));  // Boost.Test's handler would turn the fault into a report
    volatile std::byte* target = address;
    if (write) {
      *target = std::byte{1};
    } else {
      static_cast<void>(*target);
    }
  });
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

// The /proc/self/smaps entry (header line and fields) of the mapping that contains `address`; empty when none does.
auto smaps_entry(const void* address) -> std::string {
  const auto wanted = reinterpret_cast<std::uintptr_t>(address);  // NOLINT(*-reinterpret-cast)
  std::ifstream smaps{"/proc/self/smaps"};
  std::string line;
  std::string entry;
  bool inside = false;
  while (std::getline(smaps, line)) {
    // A header line starts with the range, "7f12a0000000-7f12a0200000 rw-s ..."; field lines with "Name:".
    std::uintptr_t low = 0;
    std::uintptr_t high = 0;
    const auto dash = line.find('-');
    const auto space = line.find(' ');
    const bool header =
        dash != std::string::npos && space != std::string::npos && dash < space &&
        std::from_chars(line.data(), line.data() + dash, low, 16).ptr == line.data() + dash &&
        std::from_chars(line.data() + dash + 1, line.data() + space, high, 16).ptr == line.data() + space;
    if (header) {
      if (inside) {
        return entry;
      }
      inside = low <= wanted && wanted < high;
      entry = line + "\n";
    } else if (inside) {
      entry += line + "\n";
    }
  }
  return inside ? entry : std::string{};
}

// The value of field `name` ("Rss", "KernelPageSize") of an smaps entry, in kB (0 when absent).
auto smaps_kb(const std::string& entry, std::string_view name) -> std::uint64_t {
  const auto at = entry.find(std::string{"\n"} + std::string{name} + ":");
  if (at == std::string::npos) {
    return 0;
  }
  std::istringstream fields{entry.substr(at + name.size() + 2)};
  std::uint64_t kb = 0;
  fields >> kb;
  return kb;
}

// The mapping's permissions from its smaps header ("rw-p", "---p").
auto smaps_permissions(const std::string& entry) -> std::string {
  std::istringstream header{entry};
  std::string range;
  std::string permissions;
  header >> range >> permissions;
  return permissions;
}

// The flags of the VmFlags line, each followed by a space ("rd wr mr mw me dd ").
auto smaps_flags(const std::string& entry) -> std::string {
  const auto at = entry.find("\nVmFlags:");
  if (at == std::string::npos) {
    return {};
  }
  const auto end = entry.find('\n', at + 1);
  return entry.substr(at + 9, end - (at + 9)) + " ";
}

// A new KVM VM, or why there is none (no /dev/kvm, no permission, KVM_CREATE_VM refused).
auto create_vm() -> vmm::result<sys::unique_fd> {
  auto kvm = vmm::testing::open_kvm();
  if (!kvm) {
    return std::unexpected(kvm.error());
  }
  constexpr auto kvm_create_vm = sys::io(0xAE, 0x01);  // KVM_CREATE_VM, argument: the machine type (0: default)
  auto vm = sys::ioctl_with_val(*kvm, kvm_create_vm, 0);
  if (!vm) {
    return std::unexpected(vm.error());
  }
  return sys::unique_fd{*vm};
}

// A guest_memfd region of `size` bytes, or nullptr after printing why this host cannot make one.
auto guest_memfd_region_or_skip(std::uint64_t size, const mem::region_options& options = {})
    -> std::shared_ptr<guest_region> {
  const auto vm = create_vm();
  if (!vm) {
    BOOST_TEST_MESSAGE("skipped: no KVM VM can be created here: " << vmm::testing::describe(vm));
    return nullptr;
  }
  auto region = guest_region::guest_memfd(guest_address{0x100000}, size, *vm, options);
  if (error_of(region) == make_error_code(mem::errc::guest_memfd_unsupported)) {
    BOOST_TEST_MESSAGE("skipped: this kernel cannot create host-mappable guest_memfd memory");
    return nullptr;
  }
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  return std::move(*region);  // the region holds the guest_memfd, which keeps the VM alive
}

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_region)

// --- anonymous ---

BOOST_AUTO_TEST_CASE(anonymous_region_reports_its_layout_and_backing) {
  const auto region = anonymous(0x100000, region_size);
  BOOST_TEST(region->start().raw() == 0x100000U);
  BOOST_TEST(region->size() == region_size);
  BOOST_TEST(region->last().raw() == 0x100000 + region_size - 1);
  BOOST_TEST((region->range() == mem::guest_range{.start = guest_address{0x100000}, .size = region_size}));
  BOOST_TEST((region->kind() == region_kind::anonymous));
  BOOST_TEST(!region->read_only());
  BOOST_TEST(!region->has_guard_pages());
  BOOST_TEST(region->backing_page_size() == page);
  BOOST_TEST(!region->file().has_value());
  BOOST_TEST(!region->guest_memfd().has_value());
  BOOST_TEST(region->bitmap() == nullptr);
}

BOOST_AUTO_TEST_CASE(anonymous_region_is_page_aligned_zeroed_host_memory) {
  const auto region = anonymous(0, region_size);
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(region->host_address()) % page == 0U);  // NOLINT(*-reinterpret-cast)
  BOOST_TEST(region->host_address()[0] == std::byte{0});
  BOOST_TEST(region->host_address()[region_size - 1] == std::byte{0});
}

BOOST_AUTO_TEST_CASE(region_contains_exactly_its_addresses) {
  const auto region = anonymous(0x10000, region_size);
  BOOST_TEST(region->contains(guest_address{0x10000}));
  BOOST_TEST(region->contains(guest_address{0x10000 + region_size - 1}));
  BOOST_TEST(!region->contains(guest_address{0x10000 + region_size}));
  BOOST_TEST(!region->contains(guest_address{0xffff}));
}

BOOST_AUTO_TEST_CASE(to_region_address_gives_the_offset_inside_or_nothing) {
  const auto region = anonymous(0x10000, region_size);
  BOOST_TEST((region->to_region_address(guest_address{0x10010}) == region_address{0x10}));
  BOOST_TEST(!region->to_region_address(guest_address{0x10000 + region_size}).has_value());
  BOOST_TEST(!region->to_region_address(guest_address{0}).has_value());
}

BOOST_AUTO_TEST_CASE(slice_of_a_region_starts_at_the_offset) {
  const auto region = anonymous(0x10000, region_size);
  const auto slice = region->slice(region_address{0x20}, 0x10, mem::access::write);
  BOOST_TEST_REQUIRE(slice.has_value(), vmm::testing::describe(slice));
  BOOST_TEST(slice->data() == region->host_address() + 0x20);
  BOOST_TEST(slice->size() == 0x10U);
  BOOST_TEST(slice->writable());
}

BOOST_AUTO_TEST_CASE(as_slice_covers_the_whole_region) {
  const auto region = anonymous(0x10000, region_size);
  const auto slice = region->as_slice(mem::access::read);
  BOOST_TEST_REQUIRE(slice.has_value(), vmm::testing::describe(slice));
  BOOST_TEST(slice->data() == region->host_address());
  BOOST_TEST(slice->size() == region_size);
  BOOST_TEST(!slice->writable());
}

BOOST_AUTO_TEST_CASE(region_ending_at_the_top_of_the_address_space_works) {
  const std::uint64_t start = std::numeric_limits<std::uint64_t>::max() - page + 1;
  const auto region = anonymous(start, page);
  BOOST_TEST(region->last().raw() == std::numeric_limits<std::uint64_t>::max());
  const auto memory = memory_of(region);
  BOOST_TEST_REQUIRE(memory.write_obj<std::uint8_t>(region->last(), 0x7f).has_value());
  BOOST_TEST(memory.read_obj<std::uint8_t>(region->last()).value() == 0x7fU);
}

BOOST_AUTO_TEST_CASE(track_dirty_gives_a_clear_bitmap_of_the_region_pages) {
  const auto region = anonymous(0, region_size, {.track_dirty = true});
  BOOST_TEST_REQUIRE(region->bitmap() != nullptr);
  BOOST_TEST(region->bitmap()->page_count() == region_size / mem::dirty_bitmap::page_size);
  BOOST_TEST(region->bitmap()->dirty_count() == 0U);
}

BOOST_AUTO_TEST_CASE(read_only_region_is_mapped_without_write_permission) {
  const auto region = anonymous(0, region_size, {.read_only = true});
  BOOST_TEST(region->read_only());
  BOOST_TEST(smaps_permissions(smaps_entry(region->host_address())).starts_with("r--"));
  BOOST_TEST(touching_faults(region->host_address(), true));
  BOOST_TEST(!touching_faults(region->host_address(), false));
}

BOOST_AUTO_TEST_CASE(populate_faults_every_page_in_up_front) {
  // Guard pages keep the kernel from merging the region's mapping with a neighbour whose pages would count too.
  const auto region = anonymous(0, region_size, {.guard_pages = true, .populate = true});
  BOOST_TEST(smaps_kb(smaps_entry(region->host_address()), "Rss") * 1024 == region_size);
}

BOOST_AUTO_TEST_CASE(without_populate_untouched_pages_are_not_resident) {
  const auto region = anonymous(0, region_size, {.guard_pages = true});  // an unmerged mapping, as above
  BOOST_TEST(smaps_kb(smaps_entry(region->host_address()), "Rss") == 0U);
}

BOOST_AUTO_TEST_CASE(dont_dump_leaves_the_region_out_of_core_dumps) {
  const auto region = anonymous(0, region_size, {.dont_dump = true});
  BOOST_TEST(smaps_flags(smaps_entry(region->host_address())).contains(" dd "));
}

BOOST_AUTO_TEST_CASE(without_dont_dump_the_region_is_dumped) {
  const auto region = anonymous(0, region_size);
  const auto flags = smaps_flags(smaps_entry(region->host_address()));
  BOOST_TEST(!flags.empty());
  BOOST_TEST(!flags.contains(" dd "));
}

BOOST_AUTO_TEST_CASE(dont_dump_with_guard_pages_marks_the_region_itself) {
  const auto region = anonymous(0, region_size, {.guard_pages = true, .dont_dump = true});
  BOOST_TEST(smaps_flags(smaps_entry(region->host_address())).contains(" dd "));
}

BOOST_AUTO_TEST_CASE(destroying_the_last_owner_unmaps_the_memory) {
  auto region = anonymous(0, region_size);
  const std::byte* host = region->host_address();
  BOOST_TEST_REQUIRE(!smaps_entry(host).empty());
  region.reset();
  BOOST_TEST(smaps_entry(host).empty());
}

// --- guard pages ---

BOOST_AUTO_TEST_CASE(guard_pages_surround_an_anonymous_region) {
  const auto region = anonymous(0, region_size, {.guard_pages = true});
  BOOST_TEST(region->has_guard_pages());
  BOOST_TEST(smaps_permissions(smaps_entry(region->host_address() - 1)) == "---p");
  BOOST_TEST(smaps_permissions(smaps_entry(region->host_address() + region_size)) == "---p");
}

BOOST_AUTO_TEST_CASE(touching_the_page_before_a_guarded_region_raises_sigsegv) {
  const auto region = anonymous(0, region_size, {.guard_pages = true});
  BOOST_TEST(touching_faults(region->host_address() - 1, false));
}

BOOST_AUTO_TEST_CASE(touching_the_page_after_a_guarded_region_raises_sigsegv) {
  const auto region = anonymous(0, region_size, {.guard_pages = true});
  BOOST_TEST(touching_faults(region->host_address() + region_size, false));
}

BOOST_AUTO_TEST_CASE(guarded_region_itself_is_usable_to_its_first_and_last_byte) {
  const auto region = anonymous(0, region_size, {.guard_pages = true});
  BOOST_TEST(!touching_faults(region->host_address(), true));
  BOOST_TEST(!touching_faults(region->host_address() + region_size - 1, true));
}

BOOST_AUTO_TEST_CASE(guard_pages_surround_a_memfd_region) {
  auto region = guest_region::memfd(guest_address{0}, region_size, {.guard_pages = true});
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  BOOST_TEST(touching_faults((*region)->host_address() - 1, false));
  BOOST_TEST(touching_faults((*region)->host_address() + region_size, false));
}

BOOST_AUTO_TEST_CASE(guard_pages_surround_a_file_region) {
  const auto file = patterned_file(region_size);
  auto region = guest_region::from_file(guest_address{0}, region_size, file.fd(), 0, {.guard_pages = true});
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  BOOST_TEST((*region)->host_address()[1] == std::byte{1});
  BOOST_TEST(touching_faults((*region)->host_address() - 1, false));
  BOOST_TEST(touching_faults((*region)->host_address() + region_size, false));
}

// --- files ---

BOOST_AUTO_TEST_CASE(file_region_shows_the_file_contents) {
  const auto file = patterned_file(region_size);
  auto region = guest_region::from_file(guest_address{0x4000}, region_size, file.fd(), 0);
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  BOOST_TEST(((*region)->kind() == region_kind::file));
  BOOST_TEST((*region)->host_address()[250] == std::byte{250});
  BOOST_TEST((*region)->host_address()[251] == std::byte{0});
}

BOOST_AUTO_TEST_CASE(file_region_at_an_offset_maps_from_that_offset) {
  const auto file = patterned_file(4 * page);
  auto region = guest_region::from_file(guest_address{0}, page, file.fd(), 2 * page);
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  BOOST_TEST((*region)->host_address()[0] == static_cast<std::byte>((2 * page) % 251));
  BOOST_TEST_REQUIRE((*region)->file().has_value());
  BOOST_TEST((*region)->file()->offset == 2 * page);
}

BOOST_AUTO_TEST_CASE(writes_through_a_file_region_reach_the_file) {
  const auto file = patterned_file(region_size);
  auto region = guest_region::from_file(guest_address{0}, region_size, file.fd(), 0);
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  const auto memory = memory_of(*region);
  BOOST_TEST_REQUIRE(memory.write_obj<std::uint32_t>(guest_address{page}, 0xa1b2c3d4).has_value());
  BOOST_TEST(file_bytes(file.fd(), page, 4) ==
             (std::vector<std::byte>{std::byte{0xd4}, std::byte{0xc3}, std::byte{0xb2}, std::byte{0xa1}}));
}

BOOST_AUTO_TEST_CASE(file_region_keeps_its_own_close_on_exec_descriptor) {
  auto region = [] {
    const auto file = patterned_file(region_size);
    auto made = guest_region::from_file(guest_address{0}, region_size, file.fd(), 0);
    BOOST_TEST_REQUIRE(made.has_value(), vmm::testing::describe(made));
    BOOST_TEST(((*made)->file()->fd != file.fd()));
    return std::move(*made);
  }();  // the caller's descriptor is closed (and the file unlinked) here
  const auto own = region->file();
  BOOST_TEST_REQUIRE(own.has_value());
  BOOST_TEST(sys::is_open(own->fd));
  BOOST_TEST(vmm::testing::is_close_on_exec(own->fd));
  BOOST_TEST(file_bytes(own->fd, 7, 1) == std::vector<std::byte>{std::byte{7}});
}

BOOST_AUTO_TEST_CASE(read_only_file_region_maps_a_file_opened_read_only) {
  const auto file = patterned_file(region_size);
  const sys::unique_fd read_only{::open(file.path().c_str(), O_RDONLY | O_CLOEXEC)};
  BOOST_TEST_REQUIRE(read_only.valid());
  auto region = guest_region::from_file(guest_address{0}, region_size, read_only, 0, {.read_only = true});
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  BOOST_TEST((*region)->read_only());
  BOOST_TEST((*region)->host_address()[3] == std::byte{3});
}

BOOST_AUTO_TEST_CASE(character_device_is_mapped_without_a_size_check) {
  // /dev/zero has no size: a shared mapping of it is zeroed shared memory.
  const sys::unique_fd zero{::open("/dev/zero", O_RDWR | O_CLOEXEC)};
  BOOST_TEST_REQUIRE(zero.valid());
  auto region = guest_region::from_file(guest_address{0}, region_size, zero, 0);
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  const auto memory = memory_of(*region);
  BOOST_TEST(memory.write_obj<std::uint64_t>(guest_address{8}, 1).has_value());
  BOOST_TEST(memory.read_obj<std::uint64_t>(guest_address{0}).value() == 0U);
}

// --- memfd ---

BOOST_AUTO_TEST_CASE(memfd_region_has_a_close_on_exec_file_at_offset_zero) {
  auto region = guest_region::memfd(guest_address{0x8000}, region_size);
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  BOOST_TEST(((*region)->kind() == region_kind::memfd));
  const auto file = (*region)->file();
  BOOST_TEST_REQUIRE(file.has_value());
  BOOST_TEST(file->offset == 0U);
  BOOST_TEST(vmm::testing::is_close_on_exec(file->fd));
  BOOST_TEST(sys::status(file->fd).value().size == region_size);
  BOOST_TEST(!(*region)->guest_memfd().has_value());
}

BOOST_AUTO_TEST_CASE(memfd_size_is_sealed_against_shrinking_and_growing) {
  auto region = guest_region::memfd(guest_address{0}, region_size);
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  const auto fd = (*region)->file()->fd;
  BOOST_TEST(error_of(sys::truncate(fd, page)) == vmm::testing::os_error(EPERM));
  BOOST_TEST(error_of(sys::truncate(fd, 2 * region_size)) == vmm::testing::os_error(EPERM));
}

BOOST_AUTO_TEST_CASE(memfd_region_memory_is_shared_through_its_file) {
  // What a vhost-user backend sees when it maps the fd it was sent.
  auto region = guest_region::memfd(guest_address{0}, region_size);
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  const auto memory = memory_of(*region);
  BOOST_TEST_REQUIRE(memory.write_obj<std::uint16_t>(guest_address{3 * page}, 0xbeef).has_value());
  BOOST_TEST(file_bytes((*region)->file()->fd, 3 * page, 2) ==
             (std::vector<std::byte>{std::byte{0xef}, std::byte{0xbe}}));
}

// --- hugetlb ---

BOOST_AUTO_TEST_CASE(hugetlb_region_is_backed_by_2_mib_pages) {
  const huge_page_pool_guard pool{1};
  if (!pool.usable()) {
    BOOST_TEST_MESSAGE("skipped: the 2 MiB huge page pool cannot be grown here (" << two_mib_pool / "nr_hugepages"
                                                                                  << ")");
    return;
  }
  auto region = guest_region::hugetlb(guest_address{0x40000000}, two_mib, two_mib);
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  BOOST_TEST(((*region)->kind() == region_kind::hugetlb));
  BOOST_TEST((*region)->backing_page_size() == two_mib);
  BOOST_TEST((*region)->file().has_value());
  BOOST_TEST(reinterpret_cast<std::uintptr_t>((*region)->host_address()) % two_mib == 0U);  // NOLINT
  const auto memory = memory_of(*region);
  BOOST_TEST_REQUIRE(memory.write_obj<std::uint64_t>(guest_address{0x40000000 + two_mib - 8}, 42).has_value());
  BOOST_TEST(memory.read_obj<std::uint64_t>(guest_address{0x40000000 + two_mib - 8}).value() == 42U);
  BOOST_TEST(smaps_kb(smaps_entry((*region)->host_address()), "KernelPageSize") == 2048U);
}

BOOST_AUTO_TEST_CASE(hugetlb_region_reserves_its_pages_when_it_is_made) {
  const huge_page_pool_guard pool{1};
  if (!pool.usable()) {
    BOOST_TEST_MESSAGE("skipped: the 2 MiB huge page pool cannot be grown here (" << two_mib_pool / "nr_hugepages"
                                                                                  << ")");
    return;
  }
  const auto reserved_before = pool_counter("resv_hugepages");
  auto region = guest_region::hugetlb(guest_address{0}, two_mib, two_mib);
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  BOOST_TEST(pool_counter("resv_hugepages") == reserved_before + 1);
}

BOOST_AUTO_TEST_CASE(hugetlb_region_with_guard_pages_is_guarded_and_huge_page_aligned) {
  const huge_page_pool_guard pool{1};
  if (!pool.usable()) {
    BOOST_TEST_MESSAGE("skipped: the 2 MiB huge page pool cannot be grown here (" << two_mib_pool / "nr_hugepages"
                                                                                  << ")");
    return;
  }
  auto region = guest_region::hugetlb(guest_address{0}, two_mib, two_mib, {.guard_pages = true, .dont_dump = true});
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  std::byte* host = (*region)->host_address();
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(host) % two_mib == 0U);  // NOLINT(*-reinterpret-cast)
  BOOST_TEST(smaps_kb(smaps_entry(host), "KernelPageSize") == 2048U);
  BOOST_TEST(smaps_permissions(smaps_entry(host - 1)) == "---p");
  BOOST_TEST(smaps_permissions(smaps_entry(host + two_mib)) == "---p");
  BOOST_TEST(touching_faults(host - 1, false));
  BOOST_TEST(touching_faults(host + two_mib, false));
}

// --- guest_memfd ---

BOOST_AUTO_TEST_CASE(guest_memfd_region_is_host_accessible_memory) {
  const auto region = guest_memfd_region_or_skip(region_size);
  if (region == nullptr) {
    return;
  }
  BOOST_TEST((region->kind() == region_kind::guest_memfd));
  const auto memory = memory_of(region);
  BOOST_TEST_REQUIRE(memory.write_obj<std::uint32_t>(guest_address{0x100000 + page + 4}, 0x600dcafe).has_value());
  BOOST_TEST(memory.read_obj<std::uint32_t>(guest_address{0x100000 + page + 4}).value() == 0x600dcafeU);
  BOOST_TEST(memory.read_obj<std::uint32_t>(guest_address{0x100000}).value() == 0U);
}

BOOST_AUTO_TEST_CASE(guest_memfd_region_gives_its_fd_and_offset_for_the_memory_slot) {
  const auto region = guest_memfd_region_or_skip(region_size);
  if (region == nullptr) {
    return;
  }
  const auto gmem = region->guest_memfd();
  BOOST_TEST_REQUIRE(gmem.has_value());
  BOOST_TEST(gmem->offset == 0U);
  BOOST_TEST(sys::is_open(gmem->fd));
  BOOST_TEST((region->file()->fd == gmem->fd));
  BOOST_TEST(sys::status(gmem->fd).value().size == region_size);
}

BOOST_AUTO_TEST_CASE(guest_memfd_region_with_guard_pages_is_guarded) {
  const auto region = guest_memfd_region_or_skip(region_size, {.guard_pages = true});
  if (region == nullptr) {
    return;
  }
  BOOST_TEST(region->has_guard_pages());
  BOOST_TEST(touching_faults(region->host_address() - 1, false));
  BOOST_TEST(touching_faults(region->host_address() + region_size, false));
}

// --- foreign memory ---

BOOST_AUTO_TEST_CASE(foreign_region_wraps_the_caller_memory) {
  auto host = sys::mapping::anonymous(region_size, {});
  BOOST_TEST_REQUIRE(host.has_value(), vmm::testing::describe(host));
  auto region = guest_region::from_host_memory(guest_address{0x20000}, std::span{host->data(), host->size()},
                                               {.guard_pages = true});
  BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  BOOST_TEST(((*region)->kind() == region_kind::foreign));
  BOOST_TEST((*region)->host_address() == host->data());
  BOOST_TEST((*region)->size() == region_size);
  BOOST_TEST(!(*region)->has_guard_pages());
  BOOST_TEST(!(*region)->file().has_value());
  const auto memory = memory_of(*region);
  BOOST_TEST_REQUIRE(memory.write_obj<std::uint8_t>(guest_address{0x20005}, 0x55).has_value());
  BOOST_TEST(host->data()[5] == std::byte{0x55});
}

BOOST_AUTO_TEST_CASE(destroying_a_foreign_region_leaves_the_memory_mapped) {
  auto host = sys::mapping::anonymous(region_size, {});
  BOOST_TEST_REQUIRE(host.has_value(), vmm::testing::describe(host));
  host->data()[5] = std::byte{0x55};
  {
    auto region = guest_region::from_host_memory(guest_address{0}, std::span{host->data(), host->size()});
    BOOST_TEST_REQUIRE(region.has_value(), vmm::testing::describe(region));
  }
  BOOST_TEST(!smaps_entry(host->data()).empty());
  BOOST_TEST(host->data()[5] == std::byte{0x55});
}

BOOST_AUTO_TEST_SUITE_END()
