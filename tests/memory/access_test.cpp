// guest_memory as an address space: snapshots (create, insert, remove, lookup) and every accessor, within a region,
// across adjacent regions and up to a gap: read/write (partial), read_exact/write_all, objects, atomics, slices,
// scatter-gather lists, and fd transfers through pipes, /dev/zero, /dev/null and files.
#include <boost/test/unit_test.hpp>

#include "byte_printing.hpp"

#include <fcntl.h>

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

// The layout most cases use: a = [0, 4p) and b = [4p, 8p) are adjacent, then a gap, then c = [16p, 18p).
const std::uint64_t a_start = 0;
const std::uint64_t b_start = 4 * page;
const std::uint64_t gap_start = 8 * page;
const std::uint64_t c_start = 16 * page;
const std::uint64_t c_end = 18 * page;

// How long the kick cases keep kicking a thread that waits on a pipe (it must not return meanwhile).
constexpr std::chrono::milliseconds kick_patience{50};

struct three_regions {
  std::shared_ptr<guest_region> a;
  std::shared_ptr<guest_region> b;
  std::shared_ptr<guest_region> c;
  mem::guest_memory memory;
};

auto region(std::uint64_t start, std::uint64_t size, const mem::region_options& options = {})
    -> std::shared_ptr<guest_region> {
  auto made = guest_region::anonymous(guest_address{start}, size, options);
  BOOST_TEST_REQUIRE(made.has_value(), vmm::testing::describe(made));
  return std::move(*made);
}

auto make_layout(const mem::region_options& b_options = {}) -> three_regions {
  three_regions l{.a = region(a_start, b_start - a_start),
                  .b = region(b_start, gap_start - b_start, b_options),
                  .c = region(c_start, c_end - c_start),
                  .memory = {}};
  auto memory = mem::guest_memory::create({l.c, l.a, l.b});  // any order
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  l.memory = std::move(*memory);
  return l;
}

// The bytes 1, 2, 3, ... (mod 256) of length n.
auto counting(std::size_t n) -> std::vector<std::byte> {
  std::vector<std::byte> bytes(n);
  for (std::size_t i = 0; i < n; ++i) {
    bytes[i] = static_cast<std::byte>((i + 1) % 256);
  }
  return bytes;
}

// The n bytes at guest address `address` straight from the host mappings of `l`'s regions (not through the API
// under test).
auto host_bytes(const three_regions& l, std::uint64_t address, std::size_t n) -> std::vector<std::byte> {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t at = address + i;
    const auto& r = at < b_start ? *l.a : at < gap_start ? *l.b : *l.c;
    out.push_back(r.host_address()[at - r.start().raw()]);
  }
  return out;
}

auto pipe() -> std::pair<sys::unique_fd, sys::unique_fd> {
  auto made = sys::make_pipe();
  BOOST_TEST_REQUIRE(made.has_value(), vmm::testing::describe(made));
  return std::move(*made);
}

auto drain(sys::borrowed_fd fd, std::size_t n) -> std::vector<std::byte> {
  std::vector<std::byte> out(n);
  std::size_t done = 0;
  while (done < n) {
    const auto got = sys::read(fd, std::span{out}.subspan(done));
    BOOST_TEST_REQUIRE(got.value_or(0) > 0U, vmm::testing::describe(got));
    done += *got;
  }
  return out;
}

auto open_device(const char* path, int flags) -> sys::unique_fd {
  sys::unique_fd fd{::open(path, flags | O_CLOEXEC)};
  BOOST_TEST_REQUIRE(fd.valid(), path);
  return fd;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_access)

// --- snapshots and lookup ---

BOOST_AUTO_TEST_CASE(empty_memory_has_no_region_and_no_byte) {
  const mem::guest_memory memory;
  std::array<std::byte, 1> out{};
  BOOST_TEST(memory.region_count() == 0U);
  BOOST_TEST(memory.total_size() == 0U);
  BOOST_TEST(memory.find_region(guest_address{0}) == nullptr);
  BOOST_TEST(!memory.contains(guest_address{0}));
  BOOST_TEST(error_of(memory.read_exact(guest_address{0}, out)) == make_error_code(mem::errc::out_of_range));
}

BOOST_AUTO_TEST_CASE(create_sorts_the_regions_by_start) {
  const auto l = make_layout();
  BOOST_TEST(l.memory.region_count() == 3U);
  BOOST_TEST(l.memory.regions()[0] == l.a);
  BOOST_TEST(l.memory.regions()[1] == l.b);
  BOOST_TEST(l.memory.regions()[2] == l.c);
}

BOOST_AUTO_TEST_CASE(total_size_is_the_sum_of_the_region_sizes) {
  const auto l = make_layout();
  BOOST_TEST(l.memory.total_size() == 10 * page);
}

BOOST_AUTO_TEST_CASE(find_region_returns_the_region_holding_the_address) {
  const auto l = make_layout();
  BOOST_TEST(l.memory.find_region(guest_address{a_start}) == l.a.get());
  BOOST_TEST(l.memory.find_region(guest_address{b_start - 1}) == l.a.get());
  BOOST_TEST(l.memory.find_region(guest_address{b_start}) == l.b.get());
  BOOST_TEST(l.memory.find_region(guest_address{gap_start - 1}) == l.b.get());
  BOOST_TEST(l.memory.find_region(guest_address{c_end - 1}) == l.c.get());
}

BOOST_AUTO_TEST_CASE(find_region_in_a_gap_or_beyond_the_last_region_returns_null) {
  const auto l = make_layout();
  BOOST_TEST(l.memory.find_region(guest_address{gap_start}) == nullptr);
  BOOST_TEST(l.memory.find_region(guest_address{c_start - 1}) == nullptr);
  BOOST_TEST(l.memory.find_region(guest_address{c_end}) == nullptr);
  BOOST_TEST(l.memory.find_region(guest_address{std::numeric_limits<std::uint64_t>::max()}) == nullptr);
  BOOST_TEST(!l.memory.contains(guest_address{gap_start}));
  BOOST_TEST(l.memory.contains(guest_address{c_start}));
}

BOOST_AUTO_TEST_CASE(lookup_finds_every_region_of_many) {
  // 64 one-page regions at every other page: the binary search must land on each, and on no gap.
  std::vector<std::shared_ptr<const guest_region>> regions;
  for (std::uint64_t i = 0; i < 64; ++i) {
    regions.push_back(region(2 * i * page, page));
  }
  const auto memory = mem::guest_memory::create(regions);
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  for (std::uint64_t i = 0; i < 64; ++i) {
    BOOST_TEST(memory->find_region(guest_address{(2 * i * page) + 1}) == regions[i].get());
    BOOST_TEST(memory->find_region(guest_address{((2 * i) + 1) * page}) == nullptr);
  }
}

BOOST_AUTO_TEST_CASE(contains_range_within_one_region_or_across_adjacent_ones_is_true) {
  const auto l = make_layout();
  BOOST_TEST(l.memory.contains_range(guest_address{a_start}, page));
  BOOST_TEST(l.memory.contains_range(guest_address{a_start}, gap_start));
  BOOST_TEST(l.memory.contains_range(guest_address{c_start}, c_end - c_start));
}

BOOST_AUTO_TEST_CASE(contains_range_reaching_into_a_gap_is_false) {
  const auto l = make_layout();
  BOOST_TEST(!l.memory.contains_range(guest_address{gap_start - 1}, 2));
  BOOST_TEST(!l.memory.contains_range(guest_address{c_end - 1}, 2));
  BOOST_TEST(!l.memory.contains_range(guest_address{a_start}, c_end));
}

BOOST_AUTO_TEST_CASE(empty_range_is_contained_anywhere_and_a_wrapping_one_nowhere) {
  const auto l = make_layout();
  BOOST_TEST(l.memory.contains_range(guest_address{gap_start}, 0));
  BOOST_TEST(!l.memory.contains_range(guest_address{a_start + 1}, std::numeric_limits<std::uint64_t>::max()));
}

BOOST_AUTO_TEST_CASE(anonymous_layout_makes_one_region_per_range) {
  const std::array layout{mem::guest_range{.start = guest_address{0x100000}, .size = page},
                          mem::guest_range{.start = guest_address{0}, .size = 2 * page}};
  const auto memory = mem::guest_memory::anonymous(layout, {.track_dirty = true});
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  BOOST_TEST(memory->region_count() == 2U);
  BOOST_TEST(memory->regions()[0]->start().raw() == 0U);
  BOOST_TEST(memory->regions()[1]->start().raw() == 0x100000U);
  BOOST_TEST(memory->regions()[1]->bitmap() != nullptr);
  BOOST_TEST(memory->total_size() == 3 * page);
}

BOOST_AUTO_TEST_CASE(insert_returns_a_new_snapshot_and_leaves_the_old_one_unchanged) {
  const auto l = make_layout();
  const auto extra = region(0x100000, page);
  const auto bigger = l.memory.insert(extra);
  BOOST_TEST_REQUIRE(bigger.has_value(), vmm::testing::describe(bigger));
  BOOST_TEST(bigger->region_count() == 4U);
  BOOST_TEST(bigger->find_region(guest_address{0x100000}) == extra.get());
  BOOST_TEST(l.memory.region_count() == 3U);
  BOOST_TEST(l.memory.find_region(guest_address{0x100000}) == nullptr);
}

BOOST_AUTO_TEST_CASE(insert_into_a_gap_keeps_the_order) {
  const auto l = make_layout();
  const auto filler = region(gap_start, c_start - gap_start);
  const auto filled = l.memory.insert(filler);
  BOOST_TEST_REQUIRE(filled.has_value(), vmm::testing::describe(filled));
  BOOST_TEST(filled->regions()[2] == filler);
  BOOST_TEST(filled->contains_range(guest_address{a_start}, c_end));
}

BOOST_AUTO_TEST_CASE(remove_returns_the_snapshot_without_the_region_and_the_region) {
  const auto l = make_layout();
  const auto removal = l.memory.remove(guest_address{b_start}, gap_start - b_start);
  BOOST_TEST_REQUIRE(removal.has_value(), vmm::testing::describe(removal));
  BOOST_TEST(removal->region == l.b);
  BOOST_TEST(removal->memory.region_count() == 2U);
  BOOST_TEST(removal->memory.find_region(guest_address{b_start}) == nullptr);
  BOOST_TEST(removal->memory.total_size() == 6 * page);
  BOOST_TEST(l.memory.find_region(guest_address{b_start}) == l.b.get());
}

// --- bytes ---

BOOST_AUTO_TEST_CASE(write_all_then_read_exact_round_trips_inside_a_region) {
  const auto l = make_layout();
  const auto in = counting(100);
  BOOST_TEST_REQUIRE(l.memory.write_all(guest_address{c_start + 10}, in).has_value());
  std::vector<std::byte> out(100);
  BOOST_TEST_REQUIRE(l.memory.read_exact(guest_address{c_start + 10}, out).has_value());
  BOOST_TEST(out == in);
  BOOST_TEST(host_bytes(l, c_start + 10, 100) == in);
}

BOOST_AUTO_TEST_CASE(write_all_and_read_exact_cross_adjacent_regions) {
  const auto l = make_layout();
  const auto in = counting(16);
  BOOST_TEST_REQUIRE(l.memory.write_all(guest_address{b_start - 8}, in).has_value());
  BOOST_TEST(host_bytes(l, b_start - 8, 16) == in);
  std::vector<std::byte> out(16);
  BOOST_TEST_REQUIRE(l.memory.read_exact(guest_address{b_start - 8}, out).has_value());
  BOOST_TEST(out == in);
}

BOOST_AUTO_TEST_CASE(small_write_across_a_region_boundary_lands_in_both_regions) {
  const auto l = make_layout();
  const auto in = counting(4);
  BOOST_TEST_REQUIRE(l.memory.write_all(guest_address{b_start - 1}, in).has_value());
  BOOST_TEST(l.a->host_address()[b_start - 1] == std::byte{1});
  BOOST_TEST(l.b->host_address()[0] == std::byte{2});
  BOOST_TEST(l.b->host_address()[2] == std::byte{4});
}

BOOST_AUTO_TEST_CASE(read_and_write_inside_a_region_transfer_everything) {
  const auto l = make_layout();
  const auto in = counting(64);
  BOOST_TEST(l.memory.write(guest_address{a_start}, in).value() == 64U);
  std::vector<std::byte> out(64);
  BOOST_TEST(l.memory.read(guest_address{a_start}, out).value() == 64U);
  BOOST_TEST(out == in);
}

BOOST_AUTO_TEST_CASE(read_copies_the_mapped_prefix_up_to_a_gap) {
  const auto l = make_layout();
  const auto in = counting(16);
  BOOST_TEST_REQUIRE(l.memory.write_all(guest_address{gap_start - 16}, in).has_value());
  std::vector<std::byte> out(64, std::byte{0xee});
  BOOST_TEST(l.memory.read(guest_address{gap_start - 16}, out).value() == 16U);
  BOOST_TEST(std::vector(out.begin(), out.begin() + 16) == in);
  BOOST_TEST(out[16] == std::byte{0xee});
}

BOOST_AUTO_TEST_CASE(read_across_adjacent_regions_continues_to_the_gap) {
  const auto l = make_layout();
  std::vector<std::byte> out(c_end);
  BOOST_TEST(l.memory.read(guest_address{a_start}, out).value() == gap_start);
}

BOOST_AUTO_TEST_CASE(write_copies_the_mapped_prefix_up_to_a_gap) {
  const auto l = make_layout();
  const auto in = counting(64);
  BOOST_TEST(l.memory.write(guest_address{gap_start - 8}, in).value() == 8U);
  BOOST_TEST(host_bytes(l, gap_start - 8, 8) == std::vector(in.begin(), in.begin() + 8));
}

BOOST_AUTO_TEST_CASE(write_stops_where_a_read_only_region_begins) {
  const auto l = make_layout({.read_only = true});
  const auto in = counting(64);
  BOOST_TEST(l.memory.write(guest_address{b_start - 4}, in).value() == 4U);
  BOOST_TEST(host_bytes(l, b_start - 4, 4) == std::vector(in.begin(), in.begin() + 4));
  BOOST_TEST(host_bytes(l, b_start, 1) == std::vector<std::byte>{std::byte{0}});
}

BOOST_AUTO_TEST_CASE(read_only_region_can_be_read) {
  const auto l = make_layout({.read_only = true});
  std::vector<std::byte> out(2 * page, std::byte{0xee});
  BOOST_TEST_REQUIRE(l.memory.read_exact(guest_address{b_start - page}, out).has_value());
  BOOST_TEST(out == std::vector<std::byte>(2 * page));
  BOOST_TEST(l.memory.load<std::uint64_t>(guest_address{b_start}, std::memory_order_acquire).value() == 0U);
}

BOOST_AUTO_TEST_CASE(empty_transfers_succeed_anywhere_and_touch_nothing) {
  const auto l = make_layout();
  BOOST_TEST(l.memory.read(guest_address{gap_start}, {}).value() == 0U);
  BOOST_TEST(l.memory.write(guest_address{gap_start}, {}).value() == 0U);
  BOOST_TEST(l.memory.read_exact(guest_address{gap_start}, {}).has_value());
  BOOST_TEST(l.memory.write_all(guest_address{gap_start}, {}).has_value());
}

// --- objects and atomics ---

BOOST_AUTO_TEST_CASE(write_obj_then_read_obj_round_trips_a_structure) {
  struct descriptor {
    std::uint64_t address;
    std::uint32_t length;
    std::uint16_t flags;
    std::uint16_t next;
  };
  const auto l = make_layout();
  const descriptor d{.address = 0x1234'5678'9abc, .length = 0x200, .flags = 3, .next = 7};
  BOOST_TEST_REQUIRE(l.memory.write_obj(guest_address{c_start + 0x40}, d).has_value());
  const auto back = l.memory.read_obj<descriptor>(guest_address{c_start + 0x40});
  BOOST_TEST_REQUIRE(back.has_value(), vmm::testing::describe(back));
  BOOST_TEST(back->address == d.address);
  BOOST_TEST(back->length == d.length);
  BOOST_TEST(back->flags == d.flags);
  BOOST_TEST(back->next == d.next);
}

BOOST_AUTO_TEST_CASE(object_straddling_adjacent_regions_is_read_and_written_whole) {
  const auto l = make_layout();
  BOOST_TEST_REQUIRE(l.memory.write_obj<std::uint64_t>(guest_address{b_start - 3}, 0x0807060504030201).has_value());
  BOOST_TEST(host_bytes(l, b_start - 3, 3) == (std::vector<std::byte>{std::byte{1}, std::byte{2}, std::byte{3}}));
  BOOST_TEST(l.memory.read_obj<std::uint64_t>(guest_address{b_start - 3}).value() == 0x0807060504030201U);
}

BOOST_AUTO_TEST_CASE(store_then_load_round_trips_every_width_and_order) {
  const auto l = make_layout();
  const guest_address at{c_start + 0x80};
  BOOST_TEST_REQUIRE(l.memory.store<std::uint8_t>(at, 0x11, std::memory_order_relaxed).has_value());
  BOOST_TEST(l.memory.load<std::uint8_t>(at, std::memory_order_relaxed).value() == 0x11U);
  BOOST_TEST_REQUIRE(l.memory.store<std::uint16_t>(at, 0x2222, std::memory_order_release).has_value());
  BOOST_TEST(l.memory.load<std::uint16_t>(at, std::memory_order_acquire).value() == 0x2222U);
  BOOST_TEST_REQUIRE(l.memory.store<std::uint32_t>(at, 0x33333333, std::memory_order_seq_cst).has_value());
  BOOST_TEST(l.memory.load<std::uint32_t>(at, std::memory_order_seq_cst).value() == 0x33333333U);
  BOOST_TEST_REQUIRE(l.memory.store<std::int64_t>(at, -2, std::memory_order_release).has_value());
  BOOST_TEST(l.memory.load<std::int64_t>(at, std::memory_order_acquire).value() == -2);
  BOOST_TEST(l.memory.read_obj<std::uint64_t>(at).value() == 0xfffffffffffffffeU);
}

BOOST_AUTO_TEST_CASE(atomic_at_the_last_aligned_slot_of_a_region_succeeds) {
  const auto l = make_layout();
  BOOST_TEST(l.memory.store<std::uint64_t>(guest_address{gap_start - 8}, 9, std::memory_order_relaxed).has_value());
  BOOST_TEST(l.memory.load<std::uint64_t>(guest_address{gap_start - 8}, std::memory_order_relaxed).value() == 9U);
}

// --- slices and scatter-gather lists ---

BOOST_AUTO_TEST_CASE(get_slice_inside_a_region_views_its_host_memory) {
  const auto l = make_layout();
  const auto slice = l.memory.get_slice(guest_address{b_start + 0x10}, 0x20, mem::access::write);
  BOOST_TEST_REQUIRE(slice.has_value(), vmm::testing::describe(slice));
  BOOST_TEST(slice->data() == l.b->host_address() + 0x10);
  BOOST_TEST(slice->size() == 0x20U);
  BOOST_TEST(slice->writable());
}

BOOST_AUTO_TEST_CASE(get_slice_of_a_whole_region_is_allowed) {
  const auto l = make_layout();
  const auto slice = l.memory.get_slice(guest_address{c_start}, c_end - c_start, mem::access::read);
  BOOST_TEST_REQUIRE(slice.has_value(), vmm::testing::describe(slice));
  BOOST_TEST(slice->size() == c_end - c_start);
}

BOOST_AUTO_TEST_CASE(get_slice_of_zero_bytes_at_a_mapped_address_is_empty) {
  const auto l = make_layout();
  const auto slice = l.memory.get_slice(guest_address{c_start + 5}, 0, mem::access::read);
  BOOST_TEST_REQUIRE(slice.has_value(), vmm::testing::describe(slice));
  BOOST_TEST(slice->empty());
}

BOOST_AUTO_TEST_CASE(get_slices_returns_one_slice_per_region_touched) {
  const auto l = make_layout();
  const auto slices = l.memory.get_slices(guest_address{b_start - 0x10}, 0x30, mem::access::write);
  BOOST_TEST_REQUIRE(slices.has_value(), vmm::testing::describe(slices));
  BOOST_TEST_REQUIRE(slices->size() == 2U);
  BOOST_TEST((*slices)[0].data() == l.a->host_address() + b_start - 0x10);
  BOOST_TEST((*slices)[0].size() == 0x10U);
  BOOST_TEST((*slices)[1].data() == l.b->host_address());
  BOOST_TEST((*slices)[1].size() == 0x20U);
  BOOST_TEST((*slices)[1].writable());
}

BOOST_AUTO_TEST_CASE(get_slices_of_zero_bytes_returns_no_slice) {
  const auto l = make_layout();
  const auto slices = l.memory.get_slices(guest_address{gap_start}, 0, mem::access::read);
  BOOST_TEST_REQUIRE(slices.has_value(), vmm::testing::describe(slices));
  BOOST_TEST(slices->empty());
}

BOOST_AUTO_TEST_CASE(append_io_buffers_appends_one_buffer_per_region_after_existing_entries) {
  const auto l = make_layout();
  std::array<std::byte, 4> header{};
  std::vector<sys::io_buffer> buffers{{.base = header.data(), .length = header.size()}};
  BOOST_TEST_REQUIRE(
      l.memory.append_io_buffers(guest_address{a_start + 8}, gap_start - 16, mem::access::read, buffers).has_value());
  BOOST_TEST_REQUIRE(buffers.size() == 3U);
  BOOST_TEST(buffers[0].base == static_cast<void*>(header.data()));
  BOOST_TEST(buffers[1].base == static_cast<void*>(l.a->host_address() + 8));
  BOOST_TEST(buffers[1].length == b_start - 8);
  BOOST_TEST(buffers[2].base == static_cast<void*>(l.b->host_address()));
  BOOST_TEST(buffers[2].length == gap_start - b_start - 8);
}

BOOST_AUTO_TEST_CASE(append_io_buffers_of_zero_bytes_appends_nothing) {
  const auto l = make_layout();
  std::vector<sys::io_buffer> buffers;
  BOOST_TEST(l.memory.append_io_buffers(guest_address{gap_start}, 0, mem::access::write, buffers).has_value());
  BOOST_TEST(buffers.empty());
}

// --- file descriptors ---

BOOST_AUTO_TEST_CASE(write_to_a_pipe_sends_the_guest_bytes) {
  const auto l = make_layout();
  const auto in = counting(32);
  BOOST_TEST_REQUIRE(l.memory.write_all(guest_address{b_start - 16}, in).has_value());
  const auto [read_end, write_end] = pipe();
  BOOST_TEST(l.memory.write_to(guest_address{b_start - 16}, write_end, 32).value() == 32U);
  BOOST_TEST(drain(read_end, 32) == in);
}

BOOST_AUTO_TEST_CASE(write_to_sends_only_the_mapped_prefix) {
  const auto l = make_layout();
  const auto [read_end, write_end] = pipe();
  BOOST_TEST(l.memory.write_to(guest_address{gap_start - 10}, write_end, 100).value() == 10U);
  BOOST_TEST(drain(read_end, 10) == std::vector<std::byte>(10));
}

BOOST_AUTO_TEST_CASE(write_to_of_zero_bytes_sends_nothing) {
  const auto l = make_layout();
  const auto [read_end, write_end] = pipe();
  BOOST_TEST(l.memory.write_to(guest_address{gap_start}, write_end, 0).value() == 0U);
}

BOOST_AUTO_TEST_CASE(write_all_to_a_pipe_sends_the_whole_range_across_regions) {
  const auto l = make_layout();
  const auto in = counting(3 * page);
  BOOST_TEST_REQUIRE(l.memory.write_all(guest_address{page}, in).has_value());
  const auto [read_end, write_end] = pipe();
  BOOST_TEST_REQUIRE(l.memory.write_all_to(guest_address{page}, write_end, 3 * page).has_value());
  BOOST_TEST(drain(read_end, 3 * page) == in);
}

BOOST_AUTO_TEST_CASE(write_all_to_dev_null_accepts_all_of_guest_memory) {
  const auto l = make_layout();
  const auto null = open_device("/dev/null", O_WRONLY);
  BOOST_TEST(l.memory.write_all_to(guest_address{a_start}, null, gap_start).has_value());
}

BOOST_AUTO_TEST_CASE(read_from_a_pipe_fills_guest_memory) {
  const auto l = make_layout();
  const auto in = counting(24);
  const auto [read_end, write_end] = pipe();
  BOOST_TEST_REQUIRE(sys::write(write_end, in).value_or(0) == 24U);
  BOOST_TEST(l.memory.read_from(guest_address{b_start - 12}, read_end, 24).value() == 24U);
  BOOST_TEST(host_bytes(l, b_start - 12, 24) == in);
}

BOOST_AUTO_TEST_CASE(read_from_fills_only_the_mapped_prefix) {
  const auto l = make_layout();
  const auto in = counting(24);
  const auto [read_end, write_end] = pipe();
  BOOST_TEST_REQUIRE(sys::write(write_end, in).value_or(0) == 24U);
  BOOST_TEST(l.memory.read_from(guest_address{gap_start - 8}, read_end, 24).value() == 8U);
  BOOST_TEST(host_bytes(l, gap_start - 8, 8) == std::vector(in.begin(), in.begin() + 8));
  BOOST_TEST(drain(read_end, 16) == std::vector(in.begin() + 8, in.end()));
}

BOOST_AUTO_TEST_CASE(read_from_at_end_of_file_returns_zero) {
  const auto l = make_layout();
  auto [read_end, write_end] = pipe();
  write_end.reset();
  BOOST_TEST(l.memory.read_from(guest_address{a_start}, read_end, 16).value() == 0U);
}

BOOST_AUTO_TEST_CASE(read_from_of_zero_bytes_reads_nothing) {
  const auto l = make_layout();
  const auto [read_end, write_end] = pipe();
  BOOST_TEST(l.memory.read_from(guest_address{gap_start}, read_end, 0).value() == 0U);
}

BOOST_AUTO_TEST_CASE(read_exact_from_dev_zero_zeroes_the_range) {
  const auto l = make_layout();
  BOOST_TEST_REQUIRE(
      l.memory.write_all(guest_address{b_start - page}, std::vector(2 * page, std::byte{0xff})).has_value());
  const auto zero = open_device("/dev/zero", O_RDONLY);
  BOOST_TEST_REQUIRE(l.memory.read_exact_from(guest_address{b_start - page}, zero, 2 * page).has_value());
  BOOST_TEST(host_bytes(l, b_start - page, 2 * page) == std::vector<std::byte>(2 * page));
}

BOOST_AUTO_TEST_CASE(read_exact_from_a_file_fills_the_range_across_regions) {
  const auto l = make_layout();
  auto file = sys::temp_file::create("access-");
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  const auto in = counting(2 * page);
  BOOST_TEST_REQUIRE(sys::write(file->fd(), in).value_or(0) == in.size());
  const auto reader = open_device(file->path().c_str(), O_RDONLY);
  BOOST_TEST_REQUIRE(l.memory.read_exact_from(guest_address{b_start - page}, reader, 2 * page).has_value());
  BOOST_TEST(host_bytes(l, b_start - page, 2 * page) == in);
}

BOOST_AUTO_TEST_CASE(read_exact_from_collects_short_reads_until_the_range_is_full) {
  // The writer delivers the bytes in three pieces; the reader may see each readv return early.
  const auto l = make_layout();
  const auto in = counting(3000);
  const auto [read_end, write_end] = pipe();
  std::thread writer{[&in, fd = write_end.borrow()] {
    for (std::size_t at = 0; at < in.size(); at += 1000) {
      static_cast<void>(sys::write(fd, std::span{in}.subspan(at, 1000)));
      std::this_thread::yield();
    }
  }};
  const auto done = l.memory.read_exact_from(guest_address{b_start - 1500}, read_end, 3000);
  writer.join();
  BOOST_TEST_REQUIRE(done.has_value(), vmm::testing::describe(done));
  BOOST_TEST(host_bytes(l, b_start - 1500, 3000) == in);
}

BOOST_AUTO_TEST_CASE(read_exact_from_retries_when_a_kick_interrupts_it) {
  // A vCPU-style kick (a signal whose handler does nothing, no SA_RESTART) makes a blocked readv return EINTR;
  // read_exact_from must go back to reading, and only return once the range is full.
  const auto l = make_layout();
  const int kick = sys::default_kick_signal();
  BOOST_TEST_REQUIRE(sys::install_kick_handler(kick).has_value());
  const auto in = counting(16);
  const auto [read_end, write_end] = pipe();
  std::atomic<bool> returned{false};
  vmm::result<void> done;
  std::thread reader{[&, fd = read_end.borrow()] {
    done = l.memory.read_exact_from(guest_address{b_start - 8}, fd, 16);
    returned.store(true);
  }};
  const bool returned_before_any_data = vmm::testing::kick_until_returned(reader, kick, returned, kick_patience);
  BOOST_TEST_REQUIRE(sys::write(write_end, in).value_or(0) == 16U);
  reader.join();
  BOOST_TEST(!returned_before_any_data);
  BOOST_TEST_REQUIRE(done.has_value(), vmm::testing::describe(done));
  BOOST_TEST(host_bytes(l, b_start - 8, 16) == in);
}

BOOST_AUTO_TEST_CASE(write_all_to_retries_when_a_kick_interrupts_it) {
  // 32 pages are more than a pipe holds (64 KiB by default): the writer blocks on the full pipe, is kicked, and must
  // carry on once the pipe is drained.
  const int kick = sys::default_kick_signal();
  BOOST_TEST_REQUIRE(sys::install_kick_handler(kick).has_value());
  std::vector<std::shared_ptr<const guest_region>> regions{region(0, 32 * page)};
  const auto memory = mem::guest_memory::create(regions);
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  const auto in = counting(32 * page);
  BOOST_TEST_REQUIRE(memory->write_all(guest_address{0}, in).has_value());
  const auto [read_end, write_end] = pipe();
  std::atomic<bool> returned{false};
  vmm::result<void> done;
  std::thread writer{[&, fd = write_end.borrow()] {
    done = memory->write_all_to(guest_address{0}, fd, 32 * page);
    returned.store(true);
  }};
  const bool returned_while_the_pipe_was_full =
      vmm::testing::kick_until_returned(writer, kick, returned, kick_patience);
  const auto out = returned_while_the_pipe_was_full ? std::vector<std::byte>{} : drain(read_end, 32 * page);
  writer.join();
  BOOST_TEST(!returned_while_the_pipe_was_full);
  BOOST_TEST_REQUIRE(done.has_value(), vmm::testing::describe(done));
  BOOST_TEST((out == in));
}

BOOST_AUTO_TEST_CASE(read_exact_from_and_write_all_to_handle_more_buffers_than_one_readv_takes) {
  // 1100 adjacent one-page regions: the range needs 1100 buffers, and one readv/writev takes at most 1024.
  constexpr std::uint64_t count = 1100;
  std::vector<std::shared_ptr<const guest_region>> regions;
  for (std::uint64_t i = 0; i < count; ++i) {
    regions.push_back(region(i * page, page));
  }
  const auto memory = mem::guest_memory::create(regions);
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  const auto in = counting(count * page);
  BOOST_TEST_REQUIRE(memory->write_all(guest_address{0}, in).has_value());
  auto file = sys::temp_file::create("access-");
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  BOOST_TEST_REQUIRE(memory->write_all_to(guest_address{0}, file->fd(), count * page).has_value());
  BOOST_TEST(sys::status(file->fd()).value().size == count * page);
  const auto zero = open_device("/dev/zero", O_RDONLY);
  BOOST_TEST_REQUIRE(memory->read_exact_from(guest_address{0}, zero, count * page).has_value());
  const auto reader = open_device(file->path().c_str(), O_RDONLY);
  BOOST_TEST_REQUIRE(memory->read_exact_from(guest_address{0}, reader, count * page).has_value());
  std::vector<std::byte> out(count * page);
  BOOST_TEST_REQUIRE(memory->read_exact(guest_address{0}, out).has_value());
  BOOST_TEST((out == in));
}

BOOST_AUTO_TEST_SUITE_END()
