// The statistic e_divisive reports, against values computed by hand; the segment means and medians; how the result
// moves with the series' scale and offset; degenerate series (empty, short, constant, tied) and huge values.
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.changepoint;

namespace cp = vmm::bench::changepoint;
namespace tt = boost::test_tools;

namespace {

// Keep every candidate split (p <= 1 always holds), with one permutation: the tests below are about the statistic
// and the segments, not the test of significance.
constexpr cp::options every_split{.significance = 1.0, .permutations = 1, .min_segment = 2};

// `count` values that step from `low` to `high` halfway, with a small deterministic ripple (0, 0.1, 0.2, ...) so
// that no shuffle reproduces the statistic.
auto ripple_step(std::size_t count, double low, double high) -> std::vector<double> {
  std::vector<double> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back((i < count / 2 ? low : high) + (0.1 * static_cast<double>(i % 7)));
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(statistic)

BOOST_AUTO_TEST_CASE(q_of_a_five_value_series_matches_the_hand_computation) {
  // Z = {1, 2, 6, 8, 9}, alpha 1, min_segment 2: tau is 2 or 3.
  //   tau = 2: X = {1, 2}, Y = {6, 8, 9}, m = 2, n = 3.
  //     between: |1-6| + |1-8| + |1-9| + |2-6| + |2-8| + |2-9| = 5 + 7 + 8 + 4 + 6 + 7 = 37, times 2 / (m n) = 37 / 3
  //     within X: |1-2| / C(2,2) = 1;  within Y: (|6-8| + |6-9| + |8-9|) / C(3,2) = 6 / 3 = 2
  //     Q = m n / (m + n) * (37/3 - 1 - 2) = 6/5 * 28/3 = 11.2
  //   tau = 3: X = {1, 2, 6}, Y = {8, 9}: between 7 + 8 + 6 + 7 + 2 + 3 = 33, times 2/6 = 11; within X 10/3, Y 1;
  //     Q = 6/5 * (11 - 10/3 - 1) = 8.
  // So the split is at index 2 with Q = 11.2; the segments {1, 2} and {6, 8, 9} are too short to split again.
  const std::array series{1.0, 2.0, 6.0, 8.0, 9.0};
  const auto found = cp::e_divisive(series, every_split).value();
  BOOST_TEST_REQUIRE(found.size() == 1U);
  BOOST_TEST(found[0].index == 2U);
  BOOST_TEST(found[0].statistic == 11.2, tt::tolerance(1e-12));
  BOOST_TEST(found[0].before_mean == 1.5, tt::tolerance(1e-12));
  BOOST_TEST(found[0].after_mean == 23.0 / 3.0, tt::tolerance(1e-12));
  BOOST_TEST(found[0].before_median == 1.5);
  BOOST_TEST(found[0].after_median == 8.0);
}

BOOST_AUTO_TEST_CASE(q_of_the_reversed_series_is_the_same_at_the_mirrored_index) {
  // {9, 8, 6, 2, 1}: the mirror image of the case above, so Q = 11.2 at tau = 3 (X = {9, 8, 6}, Y = {2, 1}).
  const std::array series{9.0, 8.0, 6.0, 2.0, 1.0};
  const auto found = cp::e_divisive(series, every_split).value();
  BOOST_TEST_REQUIRE(found.size() == 1U);
  BOOST_TEST(found[0].index == 3U);
  BOOST_TEST(found[0].statistic == 11.2, tt::tolerance(1e-12));
  BOOST_TEST(found[0].before_median == 8.0);
  BOOST_TEST(found[0].after_median == 1.5);
}

BOOST_AUTO_TEST_CASE(q_with_alpha_one_half_matches_the_hand_computation) {
  // Z = {0, 1, 5, 9}, alpha 0.5, min_segment 2: the only split is tau = 2, X = {0, 1}, Y = {5, 9}, m n / (m + n) = 1.
  //   between: sqrt 5 + sqrt 9 + sqrt 4 + sqrt 8 = 5 + sqrt 5 + 2 sqrt 2, times 2 / (m n) = 1/2
  //   within X: sqrt 1 = 1;  within Y: sqrt 4 = 2
  //   Q = (5 + sqrt 5 + 2 sqrt 2) / 2 - 3 = (sqrt 5 + 2 sqrt 2 - 1) / 2 = 2.0322...
  const std::array series{0.0, 1.0, 5.0, 9.0};
  auto opts = every_split;
  opts.alpha = 0.5;
  const auto found = cp::e_divisive(series, opts).value();
  BOOST_TEST_REQUIRE(found.size() == 1U);
  BOOST_TEST(found[0].index == 2U);
  BOOST_TEST(found[0].statistic == (std::sqrt(5.0) + (2.0 * std::sqrt(2.0)) - 1.0) / 2.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(q_with_ties_on_both_sides_matches_the_hand_computation) {
  // 20 values of 10 then 20 of 30: within-distances 0, every between-distance 20: Q = 20 * 20 / 40 * (2 / 400 *
  // 400 * 20) = 10 * 40 = 400. Both halves are constant, so their best splits have Q = 0 and every shuffle reaches
  // it (p = 1): the search stops after one change point.
  std::vector<double> series(20, 10.0);
  series.resize(40, 30.0);
  const auto found = cp::e_divisive(series).value();
  BOOST_TEST_REQUIRE(found.size() == 1U);
  BOOST_TEST(found[0].index == 20U);
  BOOST_TEST(found[0].statistic == 400.0, tt::tolerance(1e-12));
  BOOST_TEST(found[0].p_value == 1.0 / 200.0);
  BOOST_TEST(found[0].before_mean == 10.0);
  BOOST_TEST(found[0].after_mean == 30.0);
}

BOOST_AUTO_TEST_CASE(statistic_scales_with_the_series_and_ignores_an_offset) {
  // Q is built from |x - y|^alpha: multiplying the series by 1000 multiplies Q by 1000^alpha, adding 1e6 changes
  // nothing; the splits and the permutations (same seed), so the p-values, stay the same.
  const auto series = ripple_step(40, 10.0, 12.0);
  std::vector<double> moved;
  std::ranges::transform(series, std::back_inserter(moved), [](double x) { return (1000.0 * x) + 1e6; });
  for (const double alpha : {1.0, 0.5}) {
    const auto original = cp::e_divisive(series, {.alpha = alpha}).value();
    const auto scaled = cp::e_divisive(moved, {.alpha = alpha}).value();
    BOOST_TEST_REQUIRE(original.size() == 1U);
    BOOST_TEST_REQUIRE(scaled.size() == 1U);
    BOOST_TEST(scaled[0].index == original[0].index);
    BOOST_TEST(scaled[0].p_value == original[0].p_value);
    BOOST_TEST(scaled[0].statistic == original[0].statistic * std::pow(1000.0, alpha), tt::tolerance(1e-9));
    BOOST_TEST(scaled[0].before_mean == (1000.0 * original[0].before_mean) + 1e6, tt::tolerance(1e-12));
  }
}

BOOST_AUTO_TEST_CASE(values_near_the_largest_double_do_not_overflow_the_search) {
  // Every between-distance is 2e300, within-distances 0: Q = 20 * 20 / 40 * 2 / 400 * 400 * 2e300 = 4e301, finite.
  std::vector<double> large(20, 1e300);
  large.resize(40, 3e300);
  const auto found = cp::e_divisive(large).value();
  BOOST_TEST_REQUIRE(found.size() == 1U);
  BOOST_TEST(found[0].index == 20U);
  BOOST_TEST(found[0].statistic == 4e301, tt::tolerance(1e-12));
  BOOST_TEST(found[0].before_mean == 1e300, tt::tolerance(1e-12));
  BOOST_TEST(found[0].after_mean == 3e300, tt::tolerance(1e-12));

  // -1.5e308 to 1.5e308: a distance (3e308) is not representable, yet the split and the means are right; only the
  // statistic, in the series' units, overflows.
  std::vector<double> extreme(20, -1.5e308);
  extreme.resize(40, 1.5e308);
  const auto edge = cp::e_divisive(extreme).value();
  BOOST_TEST_REQUIRE(edge.size() == 1U);
  BOOST_TEST(edge[0].index == 20U);
  BOOST_TEST(edge[0].before_mean == -1.5e308);
  BOOST_TEST(edge[0].after_mean == 1.5e308);
  BOOST_TEST(edge[0].before_median == -1.5e308);
  BOOST_TEST(std::isinf(edge[0].statistic));
}

BOOST_AUTO_TEST_CASE(empty_series_has_no_change_points) {
  BOOST_TEST(cp::e_divisive(std::span<const double>{}).value().empty());
}

BOOST_AUTO_TEST_CASE(series_shorter_than_two_segments_has_no_change_points) {
  // 5 values cannot hold two segments of 3, whatever the step; 6 can.
  const std::array five{1.0, 1.0, 1.0, 100.0, 100.0};
  const std::array six{1.0, 1.0, 1.0, 100.0, 100.0, 100.0};
  BOOST_TEST(cp::e_divisive(five, {.significance = 1.0}).value().empty());
  const auto found = cp::e_divisive(six, {.significance = 1.0}).value();
  BOOST_TEST_REQUIRE(found.size() == 1U);
  BOOST_TEST(found[0].index == 3U);
}

BOOST_AUTO_TEST_CASE(constant_series_has_no_change_points) {
  // Every Q is 0 and every shuffle reaches it: p = 1.
  const std::vector<double> constant(100, 7.0);
  BOOST_TEST(cp::e_divisive(constant).value().empty());
  BOOST_TEST(cp::e_divisive(constant, {.min_segment = 2, .alpha = 1.5}).value().empty());
  const std::vector<double> zeros(10, 0.0);
  BOOST_TEST(cp::e_divisive(zeros).value().empty());
}

BOOST_AUTO_TEST_CASE(segment_statistics_describe_the_segments_after_every_split) {
  // Three levels, 10 / 20 / 40, 12 values each (ripple 0..0.6). The means belong to the final segments: the first
  // change point's after_mean is the middle segment's, not that of everything after it.
  std::vector<double> series;
  for (const double base : {10.0, 20.0, 40.0}) {
    for (std::size_t i = 0; i < 12; ++i) {
      series.push_back(base + (0.1 * static_cast<double>(i % 7)));
    }
  }
  // Ripple over 12 values: 0, .1, .2, .3, .4, .5, .6, 0, .1, .2, .3, .4 sums to 3.1; mean offset 3.1 / 12.
  const double offset = 3.1 / 12.0;
  const auto found = cp::e_divisive(series).value();
  BOOST_TEST_REQUIRE(found.size() == 2U);
  BOOST_TEST(found[0].index == 12U);
  BOOST_TEST(found[1].index == 24U);
  BOOST_TEST(found[0].before_mean == 10.0 + offset, tt::tolerance(1e-12));
  BOOST_TEST(found[0].after_mean == 20.0 + offset, tt::tolerance(1e-12));
  BOOST_TEST(found[1].before_mean == 20.0 + offset, tt::tolerance(1e-12));
  BOOST_TEST(found[1].after_mean == 40.0 + offset, tt::tolerance(1e-12));
  // Sorted ripple 0, 0, .1, .1, .2, .2, .3, .3, .4, .4, .5, .6: the middle two are .2 and .3.
  BOOST_TEST(found[0].before_median == 10.25, tt::tolerance(1e-12));
  BOOST_TEST(found[1].after_median == 40.25, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()
