// dirty_bitmap on its own: page granularity, marking and clearing ranges across 64-bit words, snapshot and take in
// KVM's dirty-log layout, merging a KVM log, and concurrent marking.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.memory;
import vmm.testing;

namespace mem = vmm::memory;
using mem::dirty_bitmap;
using vmm::testing::error_of;

namespace {

constexpr std::uint64_t page = dirty_bitmap::page_size;

// 130 pages: two full 64-bit words and two pages of a third, so ranges can cross word boundaries and the last word
// is partial.
constexpr std::uint64_t pages = 130;

// The dirty-log word for pages (64 * word + i) for each i in `bits`.
auto word_of(std::initializer_list<unsigned> bits) -> std::uint64_t {
  std::uint64_t word = 0;
  for (const unsigned bit : bits) {
    word |= std::uint64_t{1} << bit;
  }
  return word;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_dirty_bitmap)

BOOST_AUTO_TEST_CASE(new_bitmap_has_no_dirty_page) {
  const dirty_bitmap bitmap{pages * page};
  BOOST_TEST(bitmap.page_count() == pages);
  BOOST_TEST(bitmap.word_count() == 3U);
  BOOST_TEST(bitmap.dirty_count() == 0U);
  BOOST_TEST(bitmap.snapshot() == std::vector<std::uint64_t>(3, 0));
}

BOOST_AUTO_TEST_CASE(size_is_rounded_up_to_whole_pages) {
  const dirty_bitmap bitmap{page + 1};
  BOOST_TEST(bitmap.page_count() == 2U);
  BOOST_TEST(bitmap.word_count() == 1U);
}

BOOST_AUTO_TEST_CASE(bitmap_of_zero_bytes_tracks_nothing) {
  dirty_bitmap bitmap{0};
  bitmap.mark(0, page);
  BOOST_TEST(bitmap.page_count() == 0U);
  BOOST_TEST(bitmap.word_count() == 0U);
  BOOST_TEST(bitmap.dirty_count() == 0U);
  BOOST_TEST(!bitmap.is_dirty(0));
  BOOST_TEST(bitmap.take().empty());
}

BOOST_AUTO_TEST_CASE(marking_one_byte_marks_its_page_only) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark((5 * page) + 17, 1);
  BOOST_TEST(bitmap.is_dirty(5));
  BOOST_TEST(!bitmap.is_dirty(4));
  BOOST_TEST(!bitmap.is_dirty(6));
  BOOST_TEST(bitmap.dirty_count() == 1U);
}

BOOST_AUTO_TEST_CASE(marking_a_range_marks_every_page_it_touches) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark((2 * page) - 1, page + 2);  // the last byte of page 1, all of page 2, the first byte of page 3
  BOOST_TEST(bitmap.snapshot() == (std::vector<std::uint64_t>{word_of({1, 2, 3}), 0, 0}));
}

BOOST_AUTO_TEST_CASE(marking_across_a_word_boundary_sets_bits_in_both_words) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(62 * page, 4 * page);  // pages 62..65
  BOOST_TEST(bitmap.snapshot() == (std::vector<std::uint64_t>{word_of({62, 63}), word_of({0, 1}), 0}));
}

BOOST_AUTO_TEST_CASE(marking_whole_words_sets_every_bit) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(0, pages * page);
  const std::uint64_t all = ~std::uint64_t{0};
  BOOST_TEST(bitmap.snapshot() == (std::vector<std::uint64_t>{all, all, word_of({0, 1})}));
  BOOST_TEST(bitmap.dirty_count() == pages);
}

BOOST_AUTO_TEST_CASE(marking_zero_bytes_marks_nothing) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(3 * page, 0);
  BOOST_TEST(bitmap.dirty_count() == 0U);
}

BOOST_AUTO_TEST_CASE(marking_past_the_end_is_ignored) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(pages * page, page);
  BOOST_TEST(bitmap.dirty_count() == 0U);
}

BOOST_AUTO_TEST_CASE(marking_a_range_that_runs_past_the_end_marks_up_to_the_last_page) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark((pages - 1) * page, 10 * page);
  BOOST_TEST(bitmap.is_dirty(pages - 1));
  BOOST_TEST(bitmap.dirty_count() == 1U);
}

BOOST_AUTO_TEST_CASE(page_beyond_the_bitmap_is_never_dirty) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(0, pages * page);
  BOOST_TEST(!bitmap.is_dirty(pages));
}

BOOST_AUTO_TEST_CASE(range_is_dirty_when_any_page_it_touches_is_marked) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(70 * page, 1);
  BOOST_TEST(bitmap.is_range_dirty(60 * page, 11 * page));  // pages 60..70, two words
  BOOST_TEST(bitmap.is_range_dirty((70 * page) + 100, 1));
  BOOST_TEST(!bitmap.is_range_dirty(60 * page, 10 * page));  // pages 60..69
  BOOST_TEST(!bitmap.is_range_dirty(71 * page, 50 * page));
}

BOOST_AUTO_TEST_CASE(empty_or_outside_range_is_never_dirty) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(0, pages * page);
  BOOST_TEST(!bitmap.is_range_dirty(0, 0));
  BOOST_TEST(!bitmap.is_range_dirty(pages * page, page));
}

BOOST_AUTO_TEST_CASE(reset_clears_only_the_pages_of_the_range) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(0, pages * page);
  bitmap.reset(63 * page, 3 * page);  // pages 63..65
  BOOST_TEST(!bitmap.is_dirty(63));
  BOOST_TEST(!bitmap.is_dirty(64));
  BOOST_TEST(!bitmap.is_dirty(65));
  BOOST_TEST(bitmap.is_dirty(62));
  BOOST_TEST(bitmap.is_dirty(66));
  BOOST_TEST(bitmap.dirty_count() == pages - 3);
}

BOOST_AUTO_TEST_CASE(reset_of_an_empty_or_outside_range_changes_nothing) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(0, pages * page);
  bitmap.reset(0, 0);
  bitmap.reset(pages * page, page);
  BOOST_TEST(bitmap.dirty_count() == pages);
}

BOOST_AUTO_TEST_CASE(reset_all_clears_every_page) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(0, pages * page);
  bitmap.reset_all();
  BOOST_TEST(bitmap.dirty_count() == 0U);
}

BOOST_AUTO_TEST_CASE(snapshot_leaves_the_marks_in_place) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(129 * page, 1);
  const auto first = bitmap.snapshot();
  BOOST_TEST(first == (std::vector<std::uint64_t>{0, 0, word_of({1})}));
  BOOST_TEST(bitmap.snapshot() == first);
}

BOOST_AUTO_TEST_CASE(take_returns_the_marks_and_clears_them) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(3 * page, 1);
  bitmap.mark(64 * page, 1);
  BOOST_TEST(bitmap.take() == (std::vector<std::uint64_t>{word_of({3}), word_of({0}), 0}));
  BOOST_TEST(bitmap.dirty_count() == 0U);
  BOOST_TEST(bitmap.take() == std::vector<std::uint64_t>(3, 0));
}

BOOST_AUTO_TEST_CASE(merge_ors_a_kvm_dirty_log_into_the_marks) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(1 * page, 1);
  const std::vector<std::uint64_t> log{word_of({1, 2}), word_of({63}), word_of({1})};
  BOOST_TEST_REQUIRE(bitmap.merge(log).has_value());
  BOOST_TEST(bitmap.snapshot() == log);
  BOOST_TEST(bitmap.is_dirty(127));
  BOOST_TEST(bitmap.is_dirty(129));
}

BOOST_AUTO_TEST_CASE(merge_into_a_bitmap_of_whole_words_accepts_every_bit) {
  dirty_bitmap bitmap{128 * page};
  const std::vector<std::uint64_t> log{0, ~std::uint64_t{0}};
  BOOST_TEST_REQUIRE(bitmap.merge(log).has_value());
  BOOST_TEST(bitmap.dirty_count() == 64U);
}

BOOST_AUTO_TEST_CASE(merge_of_a_log_with_another_word_count_returns_bitmap_size_mismatch) {
  dirty_bitmap bitmap{pages * page};
  bitmap.mark(0, 1);
  const std::vector<std::uint64_t> short_log{~std::uint64_t{0}, ~std::uint64_t{0}};
  const std::vector<std::uint64_t> long_log(4, ~std::uint64_t{0});
  BOOST_TEST(error_of(bitmap.merge(short_log)) == make_error_code(mem::errc::bitmap_size_mismatch));
  BOOST_TEST(error_of(bitmap.merge(long_log)) == make_error_code(mem::errc::bitmap_size_mismatch));
  BOOST_TEST(bitmap.snapshot() == (std::vector<std::uint64_t>{word_of({0}), 0, 0}));
}

BOOST_AUTO_TEST_CASE(merge_of_a_log_with_bits_beyond_the_last_page_returns_bitmap_size_mismatch) {
  dirty_bitmap bitmap{pages * page};
  const std::vector<std::uint64_t> log{word_of({0}), 0, word_of({2})};  // page 130 does not exist
  BOOST_TEST(error_of(bitmap.merge(log)) == make_error_code(mem::errc::bitmap_size_mismatch));
  BOOST_TEST(bitmap.dirty_count() == 0U);
}

BOOST_AUTO_TEST_CASE(concurrent_marks_of_pages_in_one_word_are_all_kept) {
  // Four threads each mark every fourth page once, so every word is written by all four at about the same time: an
  // OR that is not atomic would lose some of the bits.
  constexpr unsigned threads = 4;
  constexpr std::uint64_t many_pages = 64 * 1024;
  dirty_bitmap bitmap{many_pages * page};
  std::vector<std::thread> markers;
  for (unsigned t = 0; t < threads; ++t) {
    markers.emplace_back([&bitmap, t] {
      for (std::uint64_t p = t; p < many_pages; p += threads) {
        bitmap.mark(p * page, 1);
      }
    });
  }
  for (auto& marker : markers) {
    marker.join();
  }
  BOOST_TEST(bitmap.dirty_count() == many_pages);
}

BOOST_AUTO_TEST_SUITE_END()
