// The paired statistics of the PR gate: Wilcoxon signed-rank against an exact published value and an independently
// computed normal approximation, and the bootstrap median of per-pair ratios, including the property the gate relies
// on (a drift shared by both members of a pair cancels).
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.stats;
import vmm.testing;

namespace stats = vmm::bench::stats;
using vmm::testing::error_of;

BOOST_AUTO_TEST_SUITE(paired)

// SciPy's documentation example for scipy.stats.wilcoxon (Darwin's plant heights): statistic min(W+, W-) = 24, exact
// two-sided p = 0.041259765625 (= 1352 / 32768). Checked here by enumerating all 2^15 sign patterns as well.
BOOST_AUTO_TEST_CASE(signed_rank_matches_the_published_exact_example) {
  const std::array d{6.0, 8.0, 14.0, 16.0, 23.0, 24.0, 28.0, 29.0, 41.0, -48.0, 49.0, 56.0, 60.0, -67.0, 75.0};

  const auto r = stats::wilcoxon_signed_rank(d);

  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->w_plus == 96.0);  // 120 - 24
  BOOST_TEST(r->n == 15U);
  BOOST_TEST(r->exact);
  BOOST_TEST(r->p_value == 0.041259765625);
  BOOST_TEST(r->z > 0.0);
}

BOOST_AUTO_TEST_CASE(signed_rank_is_antisymmetric) {
  const std::array d{6.0, 8.0, 14.0, 16.0, 23.0, 24.0, 28.0, 29.0, 41.0, -48.0, 49.0, 56.0, 60.0, -67.0, 75.0};
  std::array<double, d.size()> negated{};
  std::ranges::transform(d, negated.begin(), std::negate{});

  const auto a = stats::wilcoxon_signed_rank(d);
  const auto b = stats::wilcoxon_signed_rank(negated);

  BOOST_TEST_REQUIRE((a.has_value() && b.has_value()));
  BOOST_TEST(b->w_plus == 24.0);
  BOOST_TEST(b->p_value == a->p_value);
  BOOST_TEST(b->z == -a->z);
}

// With ties and zeros: zeros are dropped, tied |d| get average ranks, and the normal approximation uses the tie
// correction. Expected values computed separately (Python, from the textbook formulas): n = 35, W+ = 564.5,
// z = 4.079774964184821, p = 4.507931933034864e-05.
BOOST_AUTO_TEST_CASE(signed_rank_with_ties_and_zeros_uses_the_corrected_normal_approximation) {
  std::vector<double> d{0.5, -0.5, 1.0, 1.0, 1.0, -2.0, 2.5, 3.0, -3.0, 3.0};
  for (int i = 0; i < 25; ++i) {
    d.push_back(0.1 * static_cast<double>(i + 1));
  }
  d.push_back(0.0);
  d.push_back(0.0);

  const auto r = stats::wilcoxon_signed_rank(d);

  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->n == 35U);
  BOOST_TEST(r->w_plus == 564.5);
  BOOST_TEST(!r->exact);
  BOOST_TEST(r->z == 4.079774964184821, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(r->p_value == 4.507931933034864e-05, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(signed_rank_of_all_zero_differences_finds_nothing) {
  const std::array d{0.0, 0.0, 0.0};

  const auto r = stats::wilcoxon_signed_rank(d);

  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->n == 0U);
  BOOST_TEST(r->p_value == 1.0);
  BOOST_TEST(r->z == 0.0);
}

BOOST_AUTO_TEST_CASE(signed_rank_exact_smallest_p_for_n_5_is_one_sixteenth) {
  // All five positive: P(W+ >= 15) = 1 / 32, two-sided 1 / 16.
  const std::array d{1.0, 2.0, 3.0, 4.0, 5.0};

  const auto r = stats::wilcoxon_signed_rank(d);

  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->w_plus == 15.0);
  BOOST_TEST(r->p_value == 0.0625);
}

BOOST_AUTO_TEST_CASE(signed_rank_rejects_bad_input) {
  const std::array<double, 0> empty{};
  const std::array with_nan{1.0, std::numeric_limits<double>::quiet_NaN()};

  BOOST_TEST((error_of(stats::wilcoxon_signed_rank(empty)) == make_error_code(stats::errc::too_few_samples)));
  BOOST_TEST((error_of(stats::wilcoxon_signed_rank(with_nan)) == make_error_code(stats::errc::non_finite_sample)));
}

BOOST_AUTO_TEST_CASE(median_of_ratios_cancels_a_drift_shared_by_each_pair) {
  // The machine's speed swings by 40 % between rounds; head is exactly 5 % slower than base within every round.
  std::vector<double> base;
  std::vector<double> head;
  for (int i = 0; i < 30; ++i) {
    const double speed = i % 3 == 0 ? 1.4 : 1.0;
    base.push_back(100.0 * speed);
    head.push_back(105.0 * speed);
  }

  const auto paired = stats::bootstrap_median_of_ratios(base, head, 0.95, 500, 1);
  const auto unpaired = stats::bootstrap_ratio_of_medians(base, head, 0.95, 500, 1);

  BOOST_TEST_REQUIRE((paired.has_value() && unpaired.has_value()));
  BOOST_TEST(paired->ratio == 1.05, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(paired->low == 1.05, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(paired->high == 1.05, boost::test_tools::tolerance(1e-12));
  // The same data unpaired: the drift makes the interval far wider.
  BOOST_TEST(unpaired->high - unpaired->low > 0.3);
}

BOOST_AUTO_TEST_CASE(median_of_ratios_is_the_median_of_per_pair_ratios) {
  const std::array base{1.0, 2.0, 4.0, 8.0};
  const std::array head{1.1, 2.6, 4.8, 8.0};  // ratios 1.1, 1.3, 1.2, 1.0 → median 1.15

  const auto r = stats::bootstrap_median_of_ratios(base, head, 0.9, 1000, 3);

  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->ratio == 1.15, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(r->low >= 1.0);
  BOOST_TEST(r->high <= 1.3);
  BOOST_TEST(r->low < r->ratio);
  BOOST_TEST(r->high > r->ratio);
}

BOOST_AUTO_TEST_CASE(median_of_ratios_is_deterministic_for_a_seed) {
  const std::array base{1.0, 1.1, 0.9, 1.05, 0.95, 1.2};
  const std::array head{1.1, 1.0, 1.0, 1.2, 0.9, 1.3};

  const auto a = stats::bootstrap_median_of_ratios(base, head, 0.95, 300, 42);
  const auto b = stats::bootstrap_median_of_ratios(base, head, 0.95, 300, 42);

  BOOST_TEST_REQUIRE((a.has_value() && b.has_value()));
  BOOST_TEST(a->low == b->low);
  BOOST_TEST(a->high == b->high);
}

BOOST_AUTO_TEST_CASE(median_of_ratios_rejects_bad_input) {
  const std::array one{1.0};
  const std::array two{1.0, 2.0};
  const std::array zero{0.0};
  const std::array<double, 0> empty{};
  const std::array inf{std::numeric_limits<double>::infinity()};
  const auto code = [](stats::errc e) {
    return make_error_code(e);
  };

  BOOST_TEST(
      (error_of(stats::bootstrap_median_of_ratios(empty, empty, 0.95, 10, 1)) == code(stats::errc::too_few_samples)));
  BOOST_TEST(
      (error_of(stats::bootstrap_median_of_ratios(one, empty, 0.95, 10, 1)) == code(stats::errc::too_few_samples)));
  BOOST_TEST(
      (error_of(stats::bootstrap_median_of_ratios(one, two, 0.95, 10, 1)) == code(stats::errc::unpaired_samples)));
  BOOST_TEST(
      (error_of(stats::bootstrap_median_of_ratios(zero, one, 0.95, 10, 1)) == code(stats::errc::non_positive_sample)));
  BOOST_TEST(
      (error_of(stats::bootstrap_median_of_ratios(one, zero, 0.95, 10, 1)) == code(stats::errc::non_positive_sample)));
  BOOST_TEST(
      (error_of(stats::bootstrap_median_of_ratios(inf, one, 0.95, 10, 1)) == code(stats::errc::non_finite_sample)));
  BOOST_TEST(
      (error_of(stats::bootstrap_median_of_ratios(one, one, 1.0, 10, 1)) == code(stats::errc::invalid_confidence)));
  BOOST_TEST((error_of(stats::bootstrap_median_of_ratios(one, one, 0.95, 0, 1)) == code(stats::errc::zero_resamples)));
  BOOST_TEST(stats::stats_category().message(static_cast<int>(stats::errc::unpaired_samples)) ==
             "Paired samples must have the same size");
  BOOST_TEST(stats::stats_category().message(static_cast<int>(stats::errc::non_positive_sample)) ==
             "A ratio of paired samples needs values greater than 0");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sign)

BOOST_AUTO_TEST_CASE(sign_test_matches_binomial_tails) {
  // 9 of 10 positive: 2 * (C(10,0) + C(10,1)) / 1024 = 22 / 1024.
  const std::array d{1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, -100.0};
  const auto r = stats::sign_test(d);

  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->positive == 9U);
  BOOST_TEST(r->n == 10U);
  BOOST_TEST(r->p_value == 22.0 / 1024.0, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(sign_test_ignores_magnitudes_and_zeros) {
  // The same signs with one huge negative outlier and two zeros: the same p as above.
  const std::array d{1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, -1e300, 0.0, 0.0};
  const auto r = stats::sign_test(d);

  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->n == 10U);
  BOOST_TEST(r->p_value == 22.0 / 1024.0, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(sign_test_of_balanced_signs_is_one_and_of_30_positive_is_tiny) {
  const std::array balanced{1.0, -1.0, 2.0, -2.0};
  std::vector<double> all_positive(30, 0.01);

  const auto b = stats::sign_test(balanced);
  const auto p = stats::sign_test(all_positive);

  BOOST_TEST_REQUIRE((b.has_value() && p.has_value()));
  BOOST_TEST(b->p_value == 1.0);
  BOOST_TEST(p->p_value == std::ldexp(2.0, -30), boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(sign_test_of_zeros_finds_nothing_and_rejects_bad_input) {
  const std::array zeros{0.0, 0.0};
  const std::array<double, 0> empty{};
  const std::array with_nan{std::numeric_limits<double>::quiet_NaN()};

  BOOST_TEST(stats::sign_test(zeros).value().p_value == 1.0);
  BOOST_TEST((error_of(stats::sign_test(empty)) == make_error_code(stats::errc::too_few_samples)));
  BOOST_TEST((error_of(stats::sign_test(with_nan)) == make_error_code(stats::errc::non_finite_sample)));
}

BOOST_AUTO_TEST_SUITE_END()
