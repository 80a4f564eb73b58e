// benjamini_hochberg against the example of Benjamini & Hochberg (1995, section 4.1) and adjusted p-values worked by
// hand: adjusted_(i) = min over k >= i of p_(k) * m / k, capped at 1.
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.stats;

namespace stats = vmm::bench::stats;
namespace tt = boost::test_tools;

namespace {

// The 15 p-values of Benjamini & Hochberg (1995), ascending. At q = 0.05 the largest k with p_(k) <= k * 0.05 / 15
// is k = 4 (0.0095 <= 0.01333; 0.0201 > 0.01667 and every later p_(k) is above k/300 too).
constexpr std::array bh_1995{0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
                             0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000};

}  // namespace

BOOST_AUTO_TEST_SUITE(benjamini_hochberg)

BOOST_AUTO_TEST_CASE(classic_example_rejects_the_four_smallest) {
  const auto decisions = stats::benjamini_hochberg(bh_1995, 0.05).value();
  BOOST_TEST_REQUIRE(decisions.size() == 15U);
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    BOOST_TEST(decisions[i].rejected == (i < 4), "p-value " << i);
  }
}

BOOST_AUTO_TEST_CASE(classic_example_adjusted_values) {
  // p_(k) * 15 / k: 0.0015 0.003 0.0095 0.035625 0.0603 0.0695 0.0638571 0.0645 0.0765 0.486 0.581182 0.714875
  // 0.753231 0.813214 1; the running minimum from the top gives the adjusted values below.
  const std::array expected{0.0015,
                            0.003,
                            0.0095,
                            0.035625,
                            0.0603,
                            0.0298 * 15.0 / 7.0,
                            0.0298 * 15.0 / 7.0,
                            0.0645,
                            0.0765,
                            0.486,
                            0.4262 * 15.0 / 11.0,
                            0.714875,
                            0.6528 * 15.0 / 13.0,
                            0.759 * 15.0 / 14.0,
                            1.0};
  const auto decisions = stats::benjamini_hochberg(bh_1995, 0.05).value();
  BOOST_TEST_REQUIRE(decisions.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    BOOST_TEST(decisions[i].adjusted == expected[i], tt::tolerance(1e-12));
  }
}

BOOST_AUTO_TEST_CASE(adjusted_values_come_back_in_input_order) {
  // Sorted 0.005, 0.01, 0.03, 0.04 (m = 4): p * m / k = 0.02, 0.02, 0.04, 0.04; running minimum from the top leaves
  // them unchanged. In input order: 0.01 -> 0.02, 0.04 -> 0.04, 0.03 -> 0.04, 0.005 -> 0.02.
  const std::array p{0.01, 0.04, 0.03, 0.005};
  const auto decisions = stats::benjamini_hochberg(p, 0.05).value();
  BOOST_TEST_REQUIRE(decisions.size() == 4U);
  BOOST_TEST(decisions[0].adjusted == 0.02, tt::tolerance(1e-12));
  BOOST_TEST(decisions[1].adjusted == 0.04, tt::tolerance(1e-12));
  BOOST_TEST(decisions[2].adjusted == 0.04, tt::tolerance(1e-12));
  BOOST_TEST(decisions[3].adjusted == 0.02, tt::tolerance(1e-12));
  // Every p_(k) <= k * 0.05 / 4 (0.005 <= 0.0125, ..., 0.04 <= 0.05): all four rejected.
  for (const auto& d : decisions) {
    BOOST_TEST(d.rejected);
  }
}

BOOST_AUTO_TEST_CASE(step_up_rejects_below_a_larger_passing_rank) {
  // Sorted 0.01, 0.04, 0.045 (m = 3, q = 0.05): thresholds 0.0167, 0.0333, 0.05. p_(2) = 0.04 fails its own
  // threshold but p_(3) = 0.045 passes, so the step-up rejects all three. Adjusted: min(0.03, 0.06, 0.045) = 0.03,
  // min(0.06, 0.045) = 0.045, 0.045.
  const std::array p{0.045, 0.01, 0.04};
  const auto decisions = stats::benjamini_hochberg(p, 0.05).value();
  BOOST_TEST(decisions[0].rejected);
  BOOST_TEST(decisions[1].rejected);
  BOOST_TEST(decisions[2].rejected);
  BOOST_TEST(decisions[0].adjusted == 0.045, tt::tolerance(1e-12));
  BOOST_TEST(decisions[1].adjusted == 0.03, tt::tolerance(1e-12));
  BOOST_TEST(decisions[2].adjusted == 0.045, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(adjusted_values_are_monotone_in_p) {
  const auto decisions = stats::benjamini_hochberg(bh_1995, 0.05).value();
  for (std::size_t i = 1; i < decisions.size(); ++i) {
    BOOST_TEST(decisions[i - 1].adjusted <= decisions[i].adjusted, "rank " << i);
  }
}

BOOST_AUTO_TEST_CASE(adjusted_values_are_capped_at_one) {
  // Sorted 0.9, 1.0 (m = 2): 0.9 * 2 = 1.8 is capped by the running minimum 1.0 * 2 / 2 = 1.
  const std::array p{1.0, 0.9};
  const auto decisions = stats::benjamini_hochberg(p, 1.0).value();
  BOOST_TEST(decisions[0].adjusted == 1.0);
  BOOST_TEST(decisions[1].adjusted == 1.0);
  // q = 1 rejects everything: p_(2) = 1 <= 2 * 1 / 2.
  BOOST_TEST(decisions[0].rejected);
  BOOST_TEST(decisions[1].rejected);
}

BOOST_AUTO_TEST_CASE(equal_p_values_get_equal_decisions) {
  // Sorted 0.01, 0.01, 0.5 (m = 3): 0.01 <= 2 * 0.05 / 3 rejects both; adjusted min(0.03, 0.015) = 0.015 for both.
  const std::array p{0.01, 0.5, 0.01};
  const auto decisions = stats::benjamini_hochberg(p, 0.05).value();
  BOOST_TEST(decisions[0].rejected);
  BOOST_TEST(!decisions[1].rejected);
  BOOST_TEST(decisions[2].rejected);
  BOOST_TEST(decisions[0].adjusted == 0.015, tt::tolerance(1e-12));
  BOOST_TEST(decisions[2].adjusted == 0.015, tt::tolerance(1e-12));
  BOOST_TEST(decisions[1].adjusted == 0.5, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(nothing_significant_rejects_nothing) {
  const std::array p{0.2, 0.5, 0.9};
  const auto decisions = stats::benjamini_hochberg(p, 0.05).value();
  for (const auto& d : decisions) {
    BOOST_TEST(!d.rejected);
  }
}

BOOST_AUTO_TEST_CASE(empty_input_gives_empty_result) {
  const auto decisions = stats::benjamini_hochberg({}, 0.05);
  BOOST_TEST_REQUIRE(decisions.has_value());
  BOOST_TEST(decisions->empty());
}

BOOST_AUTO_TEST_SUITE_END()
