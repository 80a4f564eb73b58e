// Bad input gets the exact error: empty samples, NaN and infinities, confidence levels and rates outside their
// ranges, p-values outside [0, 1], zero resamples, a zero base median. Also the category's name and messages.
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.stats;
import vmm.testing;

namespace stats = vmm::bench::stats;
using vmm::testing::error_of;

namespace {

constexpr std::array good{1.0, 2.0, 3.0};
constexpr std::array<double, 0> empty{};
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();
constexpr std::array with_nan{1.0, not_a_number, 3.0};
constexpr std::array with_inf{1.0, 2.0, infinity};
constexpr std::array with_minus_inf{-infinity, 2.0, 3.0};
constexpr std::uint64_t seed = 7;

auto code(stats::errc e) -> std::error_code {
  return make_error_code(e);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(negative)

BOOST_AUTO_TEST_CASE(median_of_empty_returns_too_few_samples) {
  BOOST_TEST(error_of(stats::median(empty)) == code(stats::errc::too_few_samples));
}

BOOST_AUTO_TEST_CASE(median_of_non_finite_returns_non_finite_sample) {
  BOOST_TEST(error_of(stats::median(with_nan)) == code(stats::errc::non_finite_sample));
  BOOST_TEST(error_of(stats::median(with_inf)) == code(stats::errc::non_finite_sample));
  BOOST_TEST(error_of(stats::median(with_minus_inf)) == code(stats::errc::non_finite_sample));
}

BOOST_AUTO_TEST_CASE(mann_whitney_with_an_empty_sample_returns_too_few_samples) {
  BOOST_TEST(error_of(stats::mann_whitney_u(empty, good)) == code(stats::errc::too_few_samples));
  BOOST_TEST(error_of(stats::mann_whitney_u(good, empty)) == code(stats::errc::too_few_samples));
}

BOOST_AUTO_TEST_CASE(mann_whitney_with_non_finite_returns_non_finite_sample) {
  BOOST_TEST(error_of(stats::mann_whitney_u(with_nan, good)) == code(stats::errc::non_finite_sample));
  BOOST_TEST(error_of(stats::mann_whitney_u(good, with_inf)) == code(stats::errc::non_finite_sample));
}

BOOST_AUTO_TEST_CASE(bootstrap_with_an_empty_sample_returns_too_few_samples) {
  BOOST_TEST(error_of(stats::bootstrap_ratio_of_medians(empty, good, 0.95, 100, seed)) ==
             code(stats::errc::too_few_samples));
  BOOST_TEST(error_of(stats::bootstrap_ratio_of_medians(good, empty, 0.95, 100, seed)) ==
             code(stats::errc::too_few_samples));
}

BOOST_AUTO_TEST_CASE(bootstrap_with_non_finite_returns_non_finite_sample) {
  BOOST_TEST(error_of(stats::bootstrap_ratio_of_medians(with_nan, good, 0.95, 100, seed)) ==
             code(stats::errc::non_finite_sample));
  BOOST_TEST(error_of(stats::bootstrap_ratio_of_medians(good, with_inf, 0.95, 100, seed)) ==
             code(stats::errc::non_finite_sample));
}

BOOST_AUTO_TEST_CASE(bootstrap_with_confidence_outside_zero_one_returns_invalid_confidence) {
  for (const double confidence : {0.0, 1.0, -0.5, 1.5, not_a_number, infinity}) {
    BOOST_TEST(error_of(stats::bootstrap_ratio_of_medians(good, good, confidence, 100, seed)) ==
                   code(stats::errc::invalid_confidence),
               "confidence " << confidence);
  }
}

BOOST_AUTO_TEST_CASE(bootstrap_with_zero_resamples_returns_zero_resamples) {
  BOOST_TEST(error_of(stats::bootstrap_ratio_of_medians(good, good, 0.95, 0, seed)) ==
             code(stats::errc::zero_resamples));
}

BOOST_AUTO_TEST_CASE(bootstrap_with_zero_base_median_returns_zero_base_median) {
  const std::array zero_median{-1.0, 0.0, 1.0};
  BOOST_TEST(error_of(stats::bootstrap_ratio_of_medians(zero_median, good, 0.95, 100, seed)) ==
             code(stats::errc::zero_base_median));
}

BOOST_AUTO_TEST_CASE(bootstrap_with_a_zero_median_resample_returns_zero_base_median) {
  // Median 1, but a resample draws two or three zeros with probability 7/27; over 1000 resamples one does.
  const std::array base{0.0, 1.0, 1.0};
  BOOST_TEST(error_of(stats::bootstrap_ratio_of_medians(base, good, 0.95, 1000, seed)) ==
             code(stats::errc::zero_base_median));
}

BOOST_AUTO_TEST_CASE(bh_with_p_outside_zero_one_returns_invalid_p_value) {
  for (const double bad : {-0.01, 1.01, not_a_number, infinity}) {
    const std::array p{0.01, bad, 0.5};
    BOOST_TEST(error_of(stats::benjamini_hochberg(p, 0.05)) == code(stats::errc::invalid_p_value), "p " << bad);
  }
}

BOOST_AUTO_TEST_CASE(bh_with_q_outside_zero_one_returns_invalid_rate) {
  const std::array p{0.01, 0.5};
  for (const double q : {0.0, -0.05, 1.5, not_a_number}) {
    BOOST_TEST(error_of(stats::benjamini_hochberg(p, q)) == code(stats::errc::invalid_rate), "q " << q);
  }
}

BOOST_AUTO_TEST_CASE(category_is_named_after_the_module_and_every_code_has_a_message) {
  BOOST_TEST(std::string_view{stats::stats_category().name()} == "vmm.bench.stats");
  for (const auto e : {stats::errc::too_few_samples, stats::errc::non_finite_sample, stats::errc::invalid_confidence,
                       stats::errc::invalid_rate, stats::errc::invalid_p_value, stats::errc::zero_resamples,
                       stats::errc::zero_base_median}) {
    BOOST_TEST(code(e).message().find("Unknown") == std::string::npos);
  }
  BOOST_TEST(code(static_cast<stats::errc>(99)).message() == "Unknown vmm.bench.stats error 99");
}

BOOST_AUTO_TEST_SUITE_END()
