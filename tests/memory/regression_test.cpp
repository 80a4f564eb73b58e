// One case per advisory or bug that vmm.memory is designed to rule out, named after it: torn virtio ring indexes
// (CVE-2020-13759), slices shorter than the access they serve (CVE-2023-41051), guest ranges that wrap at 2^64, lost
// dirty marks, and the bugs these tests found in vmm.memory itself.
#include <boost/test/unit_test.hpp>

#include "byte_printing.hpp"

#include <csignal>
#include <sys/wait.h>

import std;
import vmm.sys;
import vmm.memory;
import vmm.testing;

namespace mem = vmm::memory;
namespace sys = vmm::sys;
using mem::guest_address;
using mem::guest_region;
using vmm::testing::error_of;

namespace {

const std::uint64_t page = sys::page_size();
constexpr std::uint64_t max_address = std::numeric_limits<std::uint64_t>::max();

// How often the racing threads of the torn-index cases write and read: enough for a byte-wise copy to be caught
// many times over, bounded so the case always ends.
constexpr int race_iterations = 200'000;

// A virtio-style ring index at a 2-aligned (not 4-aligned) guest address, so the copy must pick its 2-byte access.
const guest_address ring_index{0x102};

auto memory_with(std::vector<std::shared_ptr<const guest_region>> regions) -> mem::guest_memory {
  auto memory = mem::guest_memory::create(std::move(regions));
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  return std::move(*memory);
}

auto region(std::uint64_t start, std::uint64_t size, const mem::region_options& options = {})
    -> std::shared_ptr<guest_region> {
  auto made = guest_region::anonymous(guest_address{start}, size, options);
  BOOST_TEST_REQUIRE(made.has_value(), vmm::testing::describe(made));
  return std::move(*made);
}

// The k-th value the writer stores: both bytes equal (0x0000, 0x0101, ... 0xffff), so a reader that sees two
// different bytes saw half of one store and half of another.
auto equal_bytes(int k) -> std::uint16_t {
  return static_cast<std::uint16_t>(0x0101 * (k % 256));
}

auto is_torn(std::uint16_t value) -> bool {
  return (value & 0xffU) != (value >> 8U);
}

// Reads the index race_iterations times, cycling through read_obj, load and read_exact; returns how many reads saw a
// torn value (or failed).
auto torn_reads(const mem::guest_memory& memory) -> int {
  int torn = 0;
  for (int i = 0; i < race_iterations; ++i) {
    std::uint16_t value = 0;
    if (i % 3 == 0) {
      value = memory.read_obj<std::uint16_t>(ring_index).value_or(0x00ff);
    } else if (i % 3 == 1) {
      value = memory.load<std::uint16_t>(ring_index, std::memory_order_acquire).value_or(0x00ff);
    } else {
      std::array<std::byte, 2> bytes{std::byte{0xff}, std::byte{0x00}};
      static_cast<void>(memory.read_exact(ring_index, bytes));
      value = std::bit_cast<std::uint16_t>(bytes);
    }
    torn += is_torn(value) ? 1 : 0;
  }
  return torn;
}

// Runs `write_one(k)` race_iterations times on one thread while another thread counts torn reads; returns the count.
template <class Write>
auto race(const mem::guest_memory& memory, Write write_one) -> int {
  int torn = 0;
  std::atomic<bool> reading{false};
  std::thread reader{[&] {
    reading.store(true);
    torn = torn_reads(memory);
  }};
  while (!reading.load()) {  // the writes start only once the reader runs, so the two overlap
    std::this_thread::yield();
  }
  for (int k = 0; k < race_iterations; ++k) {
    write_one(k);
  }
  reader.join();
  return torn;
}

// Whether a forked child running `body` is killed by SIGSEGV.
auto dies_of_sigsegv(const std::function<void()>& body) -> bool {
  const int status = vmm::testing::wait_status_of_child([&body] {
    static_cast<void>(std::signal(SIGSEGV, SIG_DFL));
    body();
  });
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_regression)

// --- CVE-2020-13759: a virtio ring index copied byte by byte, seen torn by the other side ---

BOOST_AUTO_TEST_CASE(cve_2020_13759_ring_index_written_with_write_obj_is_never_read_torn) {
  const auto memory = memory_with({region(0, page)});
  const int torn = race(memory, [&](int k) { static_cast<void>(memory.write_obj(ring_index, equal_bytes(k))); });
  BOOST_TEST(torn == 0);
}

BOOST_AUTO_TEST_CASE(cve_2020_13759_ring_index_written_with_store_is_never_read_torn) {
  const auto memory = memory_with({region(0, page)});
  const int torn = race(
      memory, [&](int k) { static_cast<void>(memory.store(ring_index, equal_bytes(k), std::memory_order_release)); });
  BOOST_TEST(torn == 0);
}

BOOST_AUTO_TEST_CASE(cve_2020_13759_ring_index_written_with_write_all_of_two_bytes_is_never_read_torn) {
  const auto memory = memory_with({region(0, page)});
  const int torn = race(memory, [&](int k) {
    const auto bytes = std::bit_cast<std::array<std::byte, 2>>(equal_bytes(k));
    static_cast<void>(memory.write_all(ring_index, bytes));
  });
  BOOST_TEST(torn == 0);
}

BOOST_AUTO_TEST_CASE(cve_2020_13759_ring_index_written_through_a_slice_is_never_read_torn) {
  const auto memory = memory_with({region(0, page)});
  const auto slice = memory.get_slice(ring_index, 2, mem::access::write);
  BOOST_TEST_REQUIRE(slice.has_value(), vmm::testing::describe(slice));
  const int torn = race(memory, [&](int k) {
    const auto bytes = std::bit_cast<std::array<std::byte, 2>>(equal_bytes(k));
    static_cast<void>(slice->copy_from(bytes));
  });
  BOOST_TEST(torn == 0);
}

// --- CVE-2023-41051: a slice shorter than the access it serves let a guest length reach past the region ---

BOOST_AUTO_TEST_CASE(cve_2023_41051_guest_length_past_the_region_end_is_refused_and_nothing_is_written) {
  // The region has guard pages: a copy that ignored the length check would die of SIGSEGV, not return an error.
  const auto guarded = region(0x10000, 2 * page, {.guard_pages = true});
  const auto memory = memory_with({guarded});
  const std::vector<std::byte> guest_buffer(2 * page, std::byte{0x41});
  const guest_address descriptor_address{0x10000 + page};  // the guest says: 2 pages from the last page
  BOOST_TEST(error_of(memory.write_all(descriptor_address, guest_buffer)) == make_error_code(mem::errc::out_of_range));
  BOOST_TEST(error_of(memory.get_slice(descriptor_address, 2 * page, mem::access::write)) ==
             make_error_code(mem::errc::out_of_range));
  BOOST_TEST(error_of(memory.get_slices(descriptor_address, 2 * page, mem::access::write)) ==
             make_error_code(mem::errc::out_of_range));
  BOOST_TEST(guarded->host_address()[page] == std::byte{0});
  BOOST_TEST(guarded->host_address()[(2 * page) - 1] == std::byte{0});
}

BOOST_AUTO_TEST_CASE(cve_2023_41051_slice_shorter_than_the_object_refuses_the_object) {
  const auto memory = memory_with({region(0, page)});
  const auto slice = memory.get_slice(guest_address{page - 8}, 4, mem::access::write);  // 4 bytes, not 8
  BOOST_TEST_REQUIRE(slice.has_value(), vmm::testing::describe(slice));
  BOOST_TEST(error_of(slice->read_obj<std::uint64_t>(0)) == make_error_code(mem::errc::out_of_range));
  BOOST_TEST(error_of(slice->write_obj<std::uint64_t>(0, ~std::uint64_t{0})) ==
             make_error_code(mem::errc::out_of_range));
  BOOST_TEST(error_of(slice->load<std::uint64_t>(0, std::memory_order_relaxed)) ==
             make_error_code(mem::errc::out_of_range));
  BOOST_TEST(error_of(slice->subslice(2, 4)) == make_error_code(mem::errc::out_of_range));
  BOOST_TEST(memory.read_obj<std::uint64_t>(guest_address{page - 8}).value() == 0U);
}

BOOST_AUTO_TEST_CASE(cve_2023_41051_huge_guest_length_is_an_error_not_a_crash) {
  const auto guarded = region(0, page, {.guard_pages = true});
  const auto memory = memory_with({guarded});
  const auto huge = std::uint64_t{1} << 63U;
  BOOST_TEST(error_of(memory.get_slice(guest_address{0}, huge, mem::access::write)) ==
             make_error_code(mem::errc::out_of_range));
  BOOST_TEST(error_of(memory.get_slice(guest_address{8}, max_address, mem::access::write)) ==
             make_error_code(mem::errc::address_overflow));
  BOOST_TEST(error_of(memory.mark_dirty(guest_address{0}, huge)) == make_error_code(mem::errc::out_of_range));
  BOOST_TEST(error_of(guarded->slice(mem::region_address{8}, max_address, mem::access::read)) ==
             make_error_code(mem::errc::out_of_range));
}

BOOST_AUTO_TEST_CASE(guard_page_catches_a_copy_that_bypasses_the_checks) {
  // What the guard pages are for: a VMM bug that writes past the region through its host address faults at once.
  const auto guarded = region(0, page, {.guard_pages = true});
  std::byte* host = guarded->host_address();
  BOOST_TEST(dies_of_sigsegv([host] { std::memset(host, 0x41, 2 * sys::page_size()); }));
}

// --- wrap-around at 2^64 ---

BOOST_AUTO_TEST_CASE(range_wrapping_past_2_64_is_refused_not_continued_at_address_zero) {
  // Memory at both ends of the address space: a wrapped range would read the end and then the start.
  const auto low = region(0, page);
  const auto high = region(max_address - page + 1, page);
  const auto memory = memory_with({low, high});
  std::array<std::byte, 16> out{};
  out.fill(std::byte{0xee});
  BOOST_TEST(error_of(memory.read_exact(guest_address{max_address - 7}, out)) ==
             make_error_code(mem::errc::address_overflow));
  BOOST_TEST(error_of(memory.write_all(guest_address{max_address - 7}, out)) ==
             make_error_code(mem::errc::address_overflow));
  BOOST_TEST(!memory.contains_range(guest_address{max_address - 7}, 16));
  BOOST_TEST(out[0] == std::byte{0xee});
  BOOST_TEST(low->host_address()[0] == std::byte{0});
}

// --- dirty marks lost between migration rounds ---

BOOST_AUTO_TEST_CASE(page_written_while_the_bitmap_is_taken_is_never_lost) {
  // A writer marks 4096 pages once each while the migration thread takes the bitmap 500 times; every page must show
  // up in some round or in the final take.
  constexpr std::uint64_t pages = 4096;
  mem::dirty_bitmap bitmap{pages * mem::dirty_bitmap::page_size};
  std::vector<std::uint64_t> seen(bitmap.word_count(), 0);
  std::thread writer{[&bitmap] {
    for (std::uint64_t p = 0; p < pages; ++p) {
      bitmap.mark(p * mem::dirty_bitmap::page_size, 1);
    }
  }};
  for (int round = 0; round < 500; ++round) {
    const auto taken = bitmap.take();
    std::ranges::transform(seen, taken, seen.begin(), std::bit_or<>{});
  }
  writer.join();
  std::ranges::transform(seen, bitmap.take(), seen.begin(), std::bit_or<>{});
  BOOST_TEST(std::ranges::all_of(seen, [](std::uint64_t w) { return w == ~std::uint64_t{0}; }));
}

// --- bugs found by these tests ---

BOOST_AUTO_TEST_CASE(dirty_bitmap_mark_with_a_length_that_wraps_marks_to_the_last_page) {
  // mark() clips a range that runs past the bitmap; offset + length - 1 wrapped past 2^64 made the last page lie
  // before the first, and nothing was marked.
  mem::dirty_bitmap bitmap{8 * mem::dirty_bitmap::page_size};
  bitmap.mark(mem::dirty_bitmap::page_size, max_address);
  BOOST_TEST(bitmap.snapshot() == std::vector<std::uint64_t>{0b11111110});
  BOOST_TEST(bitmap.is_range_dirty(7 * mem::dirty_bitmap::page_size, max_address));
  bitmap.reset(2 * mem::dirty_bitmap::page_size, max_address);
  BOOST_TEST(bitmap.snapshot() == std::vector<std::uint64_t>{0b10});
}

BOOST_AUTO_TEST_CASE(bool_is_not_byte_valued_so_a_guest_byte_of_2_never_becomes_a_bool) {
  // read_obj<bool> compiled, and a guest that stored 2 there handed the VMM a bool that is neither true nor false
  // (undefined behaviour); atomic_value already refused bool for that reason.
  BOOST_TEST(!mem::byte_valued<bool>);
  BOOST_TEST(!mem::byte_valued<const bool>);
  BOOST_TEST(!mem::atomic_value<bool>);
  BOOST_TEST(mem::byte_valued<std::uint8_t>);
}

BOOST_AUTO_TEST_CASE(guest_memfd_descriptor_is_close_on_exec) {
  // KVM_CREATE_GUEST_MEMFD returns an fd without O_CLOEXEC: kept as it is, the guest's memory would be inherited by
  // every program the VMM executes.
  auto kvm = vmm::testing::open_kvm();
  if (!kvm) {
    BOOST_TEST_MESSAGE("skipped: /dev/kvm cannot be opened here: " << vmm::testing::describe(kvm));
    return;
  }
  constexpr auto kvm_create_vm = sys::io(0xAE, 0x01);
  const auto vm = sys::ioctl_with_val(*kvm, kvm_create_vm, 0);
  BOOST_TEST_REQUIRE(vm.has_value(), vmm::testing::describe(vm));
  const sys::unique_fd vm_fd{*vm};
  const auto made = guest_region::guest_memfd(guest_address{0}, page, vm_fd);
  if (error_of(made) == make_error_code(mem::errc::guest_memfd_unsupported)) {
    BOOST_TEST_MESSAGE("skipped: this kernel cannot create host-mappable guest_memfd memory");
    return;
  }
  BOOST_TEST_REQUIRE(made.has_value(), vmm::testing::describe(made));
  BOOST_TEST(vmm::testing::is_close_on_exec((*made)->guest_memfd()->fd));
}

BOOST_AUTO_TEST_SUITE_END()
