// Dirty tracking through guest_memory: every writing API marks exactly the pages it wrote (at offsets relative to
// each region), reads mark nothing, and the marks can be reset, taken and merged with a KVM dirty log.
#include <boost/test/unit_test.hpp>

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

// Dirty pages are counted in the bitmap's 4 KiB pages; regions are laid out in the same unit.
constexpr std::uint64_t page = mem::dirty_bitmap::page_size;

// a = [0, 4p) and b = [4p, 8p) are adjacent and tracked; c = [16p, 18p) is not tracked.
constexpr std::uint64_t a_start = 0;
constexpr std::uint64_t b_start = 4 * page;
constexpr std::uint64_t b_end = 8 * page;
constexpr std::uint64_t c_start = 16 * page;
constexpr std::uint64_t c_end = 18 * page;

struct tracked_layout {
  std::shared_ptr<guest_region> a;
  std::shared_ptr<guest_region> b;
  std::shared_ptr<guest_region> c;
  mem::guest_memory memory;
};

auto region(std::uint64_t start, std::uint64_t size, const mem::region_options& options)
    -> std::shared_ptr<guest_region> {
  auto made = guest_region::anonymous(guest_address{start}, size, options);
  BOOST_TEST_REQUIRE(made.has_value(), vmm::testing::describe(made));
  return std::move(*made);
}

auto make_layout() -> tracked_layout {
  tracked_layout l{.a = region(a_start, b_start - a_start, {.track_dirty = true}),
                   .b = region(b_start, b_end - b_start, {.track_dirty = true}),
                   .c = region(c_start, c_end - c_start, {}),
                   .memory = {}};
  auto memory = mem::guest_memory::create({l.a, l.b, l.c});
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  l.memory = std::move(*memory);
  return l;
}

// The dirty pages of `r`, by index inside the region.
auto dirty_pages(const guest_region& r) -> std::vector<std::uint64_t> {
  std::vector<std::uint64_t> pages;
  for (std::uint64_t p = 0; p < r.bitmap()->page_count(); ++p) {
    if (r.bitmap()->is_dirty(p)) {
      pages.push_back(p);
    }
  }
  return pages;
}

using pages = std::vector<std::uint64_t>;

auto pipe_holding(std::size_t n) -> std::pair<sys::unique_fd, sys::unique_fd> {
  auto made = sys::make_pipe();
  BOOST_TEST_REQUIRE(made.has_value(), vmm::testing::describe(made));
  const std::vector<std::byte> bytes(n, std::byte{0x42});
  BOOST_TEST_REQUIRE(sys::write(made->second, bytes).value_or(0) == n);
  return std::move(*made);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_dirty)

// --- every writing API marks what it wrote ---

BOOST_AUTO_TEST_CASE(write_marks_the_pages_it_wrote) {
  const auto l = make_layout();
  const std::vector<std::byte> in(2, std::byte{1});
  BOOST_TEST(l.memory.write(guest_address{(2 * page) - 1}, in).value() == 2U);
  BOOST_TEST(dirty_pages(*l.a) == (pages{1, 2}));
  BOOST_TEST(dirty_pages(*l.b).empty());
}

BOOST_AUTO_TEST_CASE(partial_write_marks_only_the_prefix_it_wrote) {
  const auto l = make_layout();
  const std::vector<std::byte> in(page, std::byte{1});
  BOOST_TEST(l.memory.write(guest_address{b_end - 16}, in).value() == 16U);
  BOOST_TEST(dirty_pages(*l.b) == (pages{3}));
  BOOST_TEST(dirty_pages(*l.a).empty());
}

BOOST_AUTO_TEST_CASE(write_all_across_regions_marks_each_region_at_its_own_offsets) {
  const auto l = make_layout();
  const std::vector<std::byte> in(page, std::byte{1});
  BOOST_TEST_REQUIRE(l.memory.write_all(guest_address{b_start - (page / 2)}, in).has_value());
  BOOST_TEST(dirty_pages(*l.a) == (pages{3}));
  BOOST_TEST(dirty_pages(*l.b) == (pages{0}));
}

BOOST_AUTO_TEST_CASE(write_obj_marks_the_page_of_the_object) {
  const auto l = make_layout();
  BOOST_TEST_REQUIRE(l.memory.write_obj<std::uint32_t>(guest_address{b_start + (2 * page) + 8}, 5).has_value());
  BOOST_TEST(dirty_pages(*l.b) == (pages{2}));
}

BOOST_AUTO_TEST_CASE(store_marks_the_page_of_the_value) {
  const auto l = make_layout();
  BOOST_TEST_REQUIRE(l.memory.store<std::uint16_t>(guest_address{page + 2}, 5, std::memory_order_release).has_value());
  BOOST_TEST(dirty_pages(*l.a) == (pages{1}));
}

BOOST_AUTO_TEST_CASE(read_from_marks_only_the_bytes_the_fd_delivered) {
  const auto l = make_layout();
  const auto [read_end, write_end] = pipe_holding(10);
  BOOST_TEST(l.memory.read_from(guest_address{page - 5}, read_end, 3 * page).value() == 10U);
  BOOST_TEST(dirty_pages(*l.a) == (pages{0, 1}));
}

BOOST_AUTO_TEST_CASE(read_exact_from_marks_the_whole_range) {
  const auto l = make_layout();
  sys::unique_fd zero{::open("/dev/zero", O_RDONLY | O_CLOEXEC)};
  BOOST_TEST_REQUIRE(zero.valid());
  BOOST_TEST_REQUIRE(l.memory.read_exact_from(guest_address{(3 * page) + 1}, zero, 2 * page).has_value());
  BOOST_TEST(dirty_pages(*l.a) == (pages{3}));
  BOOST_TEST(dirty_pages(*l.b) == (pages{0, 1}));
}

BOOST_AUTO_TEST_CASE(writes_through_a_slice_from_get_slice_mark_the_region_pages) {
  const auto l = make_layout();
  const auto slice = l.memory.get_slice(guest_address{b_start + (2 * page) - 1}, 2, mem::access::write);
  BOOST_TEST_REQUIRE(slice.has_value(), vmm::testing::describe(slice));
  BOOST_TEST(dirty_pages(*l.b).empty());  // asking for write access writes nothing yet
  const std::array<std::byte, 2> in{std::byte{1}, std::byte{2}};
  BOOST_TEST(slice->copy_from(in) == 2U);
  BOOST_TEST(dirty_pages(*l.b) == (pages{1, 2}));
}

BOOST_AUTO_TEST_CASE(writes_through_slices_from_get_slices_mark_each_region) {
  const auto l = make_layout();
  const auto slices = l.memory.get_slices(guest_address{b_start - 1}, 2, mem::access::write);
  BOOST_TEST_REQUIRE(slices.has_value(), vmm::testing::describe(slices));
  for (const auto& slice : *slices) {
    slice.fill(std::byte{7});
  }
  BOOST_TEST(dirty_pages(*l.a) == (pages{3}));
  BOOST_TEST(dirty_pages(*l.b) == (pages{0}));
}

BOOST_AUTO_TEST_CASE(append_io_buffers_for_writing_marks_the_range_up_front) {
  const auto l = make_layout();
  std::vector<sys::io_buffer> buffers;
  BOOST_TEST_REQUIRE(
      l.memory.append_io_buffers(guest_address{(2 * page) + 1}, 3 * page, mem::access::write, buffers).has_value());
  BOOST_TEST(dirty_pages(*l.a) == (pages{2, 3}));
  BOOST_TEST(dirty_pages(*l.b) == (pages{0, 1}));
}

BOOST_AUTO_TEST_CASE(mark_dirty_marks_a_range_across_regions) {
  const auto l = make_layout();
  BOOST_TEST_REQUIRE(l.memory.mark_dirty(guest_address{(3 * page) + 10}, page).has_value());
  BOOST_TEST(dirty_pages(*l.a) == (pages{3}));
  BOOST_TEST(dirty_pages(*l.b) == (pages{0}));
}

BOOST_AUTO_TEST_CASE(mark_dirty_of_an_untracked_region_succeeds_and_does_nothing) {
  const auto l = make_layout();
  BOOST_TEST(l.memory.mark_dirty(guest_address{c_start}, c_end - c_start).has_value());
  BOOST_TEST(l.c->bitmap() == nullptr);
}

BOOST_AUTO_TEST_CASE(writes_to_an_untracked_region_succeed_without_a_bitmap) {
  const auto l = make_layout();
  BOOST_TEST(l.memory.write_obj<std::uint64_t>(guest_address{c_start}, 1).has_value());
  BOOST_TEST(l.memory.store<std::uint64_t>(guest_address{c_start + 8}, 1, std::memory_order_relaxed).has_value());
  BOOST_TEST(l.memory.write(guest_address{c_end - 1}, std::vector(4, std::byte{1})).value() == 1U);
}

// --- reads mark nothing ---

BOOST_AUTO_TEST_CASE(reads_of_every_kind_mark_nothing) {
  const auto l = make_layout();
  std::vector<std::byte> out(2 * page);
  BOOST_TEST(l.memory.read(guest_address{b_start - page}, out).has_value());
  BOOST_TEST(l.memory.read_exact(guest_address{b_start - page}, out).has_value());
  BOOST_TEST(l.memory.read_obj<std::uint64_t>(guest_address{b_start - 4}).has_value());
  BOOST_TEST(l.memory.load<std::uint64_t>(guest_address{b_start}, std::memory_order_acquire).has_value());
  BOOST_TEST(l.memory.get_slices(guest_address{a_start}, b_end, mem::access::read).has_value());
  std::vector<sys::io_buffer> buffers;
  BOOST_TEST(l.memory.append_io_buffers(guest_address{a_start}, b_end, mem::access::read, buffers).has_value());
  sys::unique_fd null{::open("/dev/null", O_WRONLY | O_CLOEXEC)};
  BOOST_TEST_REQUIRE(null.valid());
  BOOST_TEST(l.memory.write_to(guest_address{a_start}, null, b_end).has_value());
  BOOST_TEST(l.memory.write_all_to(guest_address{a_start}, null, b_end).has_value());
  BOOST_TEST(l.a->bitmap()->dirty_count() == 0U);
  BOOST_TEST(l.b->bitmap()->dirty_count() == 0U);
}

// --- reset, take, merge ---

BOOST_AUTO_TEST_CASE(reset_of_a_range_clears_only_those_pages) {
  const auto l = make_layout();
  BOOST_TEST_REQUIRE(l.memory.mark_dirty(guest_address{a_start}, b_start).has_value());
  l.a->bitmap()->reset(page, 2 * page);
  BOOST_TEST(dirty_pages(*l.a) == (pages{0, 3}));
}

BOOST_AUTO_TEST_CASE(take_hands_over_the_marks_in_kvm_layout_and_clears_them) {
  const auto l = make_layout();
  BOOST_TEST_REQUIRE(l.memory.write_obj<std::uint8_t>(guest_address{b_start + page}, 1).has_value());
  BOOST_TEST_REQUIRE(l.memory.write_obj<std::uint8_t>(guest_address{b_start + (3 * page)}, 1).has_value());
  BOOST_TEST(l.b->bitmap()->take() == std::vector<std::uint64_t>{0b1010});
  BOOST_TEST(dirty_pages(*l.b).empty());
}

BOOST_AUTO_TEST_CASE(page_written_after_take_is_marked_again) {
  const auto l = make_layout();
  BOOST_TEST_REQUIRE(l.memory.write_obj<std::uint8_t>(guest_address{b_start}, 1).has_value());
  static_cast<void>(l.b->bitmap()->take());
  BOOST_TEST_REQUIRE(l.memory.write_obj<std::uint8_t>(guest_address{b_start}, 2).has_value());
  BOOST_TEST(l.b->bitmap()->take() == std::vector<std::uint64_t>{0b1});
}

BOOST_AUTO_TEST_CASE(merged_kvm_log_and_vmm_writes_end_up_in_one_bitmap) {
  // KVM_GET_DIRTY_LOG reports the pages the guest wrote: here pages 0 and 2 of region b.
  const auto l = make_layout();
  const std::vector<std::uint64_t> kvm_log{0b0101};
  BOOST_TEST_REQUIRE(l.memory.write_obj<std::uint8_t>(guest_address{b_start + (3 * page)}, 1).has_value());
  BOOST_TEST_REQUIRE(l.b->bitmap()->merge(kvm_log).has_value());
  BOOST_TEST(dirty_pages(*l.b) == (pages{0, 2, 3}));
}

BOOST_AUTO_TEST_CASE(merging_a_log_of_another_region_size_returns_bitmap_size_mismatch) {
  const auto l = make_layout();
  const std::vector<std::uint64_t> two_words{0b1, 0b1};  // region b has 4 pages: one word
  const std::vector<std::uint64_t> beyond{0b10000};      // page 4 of a 4-page region
  BOOST_TEST(error_of(l.b->bitmap()->merge(two_words)) == make_error_code(mem::errc::bitmap_size_mismatch));
  BOOST_TEST(error_of(l.b->bitmap()->merge(beyond)) == make_error_code(mem::errc::bitmap_size_mismatch));
  BOOST_TEST(dirty_pages(*l.b).empty());
}

BOOST_AUTO_TEST_SUITE_END()
