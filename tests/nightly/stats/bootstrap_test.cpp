// bootstrap_ratio_of_medians: bounds known by construction (every resampled median lies between a sample's smallest
// and largest value), degenerate samples whose every resample is the same, and determinism for a seed.
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.stats;

namespace stats = vmm::bench::stats;
namespace tt = boost::test_tools;

namespace {

// Base timings 100 +/- 1 (median 100), head timings 110 +/- 1 (median 110): head is 10 % slower.
constexpr std::array base_100{99.0, 99.5, 100.0, 100.5, 101.0, 99.2, 100.8, 99.9, 100.1};
constexpr std::array head_110{109.0, 109.5, 110.0, 110.5, 111.0, 109.2, 110.8, 109.9, 110.1};
constexpr std::uint64_t seed = 20240601;

}  // namespace

BOOST_AUTO_TEST_SUITE(bootstrap)

BOOST_AUTO_TEST_CASE(separated_samples_bracket_the_true_ratio) {
  // Every resampled ratio lies in [109/101, 111/99] = [1.0792, 1.1212], inside [1.07, 1.13].
  const auto r = stats::bootstrap_ratio_of_medians(base_100, head_110, 0.95, 2000, seed).value();
  BOOST_TEST(r.ratio == 1.1, tt::tolerance(1e-12));
  BOOST_TEST(r.low >= 1.07);
  BOOST_TEST(r.high <= 1.13);
  BOOST_TEST(r.low <= r.ratio);
  BOOST_TEST(r.ratio <= r.high);
}

BOOST_AUTO_TEST_CASE(identical_samples_give_ratio_exactly_one) {
  const std::array sample{10.0, 11.0, 12.0, 13.0, 14.0};
  const auto r = stats::bootstrap_ratio_of_medians(sample, sample, 0.95, 2000, seed).value();
  BOOST_TEST(r.ratio == 1.0);
  BOOST_TEST(r.low <= 1.0);
  BOOST_TEST(r.high >= 1.0);
}

BOOST_AUTO_TEST_CASE(single_values_give_a_zero_width_interval) {
  // Every resample of {5} is {5} and of {10} is {10}: all ratios are 2.
  const std::array base{5.0};
  const std::array head{10.0};
  const auto r = stats::bootstrap_ratio_of_medians(base, head, 0.9, 100, seed).value();
  BOOST_TEST(r.ratio == 2.0);
  BOOST_TEST(r.low == 2.0);
  BOOST_TEST(r.high == 2.0);
}

BOOST_AUTO_TEST_CASE(constant_samples_give_a_zero_width_interval) {
  const std::array base{4.0, 4.0, 4.0, 4.0};
  const std::array head{3.0, 3.0, 3.0};
  const auto r = stats::bootstrap_ratio_of_medians(base, head, 0.99, 500, seed).value();
  BOOST_TEST(r.ratio == 0.75);
  BOOST_TEST(r.low == 0.75);
  BOOST_TEST(r.high == 0.75);
}

BOOST_AUTO_TEST_CASE(same_seed_gives_identical_results) {
  const auto first = stats::bootstrap_ratio_of_medians(base_100, head_110, 0.95, 1000, seed).value();
  const auto second = stats::bootstrap_ratio_of_medians(base_100, head_110, 0.95, 1000, seed).value();
  BOOST_TEST(first.ratio == second.ratio);
  BOOST_TEST(first.low == second.low);
  BOOST_TEST(first.high == second.high);
}

BOOST_AUTO_TEST_CASE(higher_confidence_gives_a_wider_or_equal_interval) {
  // Same seed, so the same sorted ratios: the 99 % quantiles lie outside (or on) the 80 % ones.
  const auto narrow = stats::bootstrap_ratio_of_medians(base_100, head_110, 0.80, 1000, seed).value();
  const auto wide = stats::bootstrap_ratio_of_medians(base_100, head_110, 0.99, 1000, seed).value();
  BOOST_TEST(wide.low <= narrow.low);
  BOOST_TEST(wide.high >= narrow.high);
}

BOOST_AUTO_TEST_CASE(faster_head_gives_a_ratio_below_one) {
  // Head 90 +/- 1 against base 100 +/- 1: every resampled ratio lies in [89/101, 91/99] = [0.8812, 0.9192].
  const std::array head_90{89.0, 89.5, 90.0, 90.5, 91.0, 89.2, 90.8, 89.9, 90.1};
  const auto r = stats::bootstrap_ratio_of_medians(base_100, head_90, 0.95, 2000, seed).value();
  BOOST_TEST(r.ratio == 0.9, tt::tolerance(1e-12));
  BOOST_TEST(r.low >= 89.0 / 101.0);
  BOOST_TEST(r.high <= 91.0 / 99.0);
}

BOOST_AUTO_TEST_SUITE_END()
