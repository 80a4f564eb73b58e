// Bad input gets the exact error: NaN and infinities in the series, each option outside its range (and the edges of
// each range accepted), options checked before the series. Also the category's name and messages.
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.changepoint;
import vmm.testing;

namespace cp = vmm::bench::changepoint;
using vmm::testing::error_of;

namespace {

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();
// Long enough for two segments of the default min_segment, with a step, so valid options give a valid result.
constexpr std::array good{1.0, 1.1, 0.9, 1.0, 5.0, 5.1, 4.9, 5.0};

auto code(cp::errc e) -> std::error_code {
  return make_error_code(e);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(negative)

BOOST_AUTO_TEST_CASE(non_finite_value_returns_non_finite_value) {
  for (const double bad : {not_a_number, infinity, -infinity}) {
    auto series = good;
    series[5] = bad;
    BOOST_TEST(error_of(cp::e_divisive(series)) == code(cp::errc::non_finite_value), "value " << bad);
  }
}

BOOST_AUTO_TEST_CASE(non_finite_value_in_a_series_too_short_to_split_is_still_rejected) {
  const std::array series{1.0, not_a_number};
  BOOST_TEST(error_of(cp::e_divisive(series)) == code(cp::errc::non_finite_value));
}

BOOST_AUTO_TEST_CASE(significance_outside_zero_one_returns_invalid_significance) {
  for (const double significance : {0.0, -0.01, std::nextafter(1.0, 2.0), not_a_number, infinity}) {
    BOOST_TEST(error_of(cp::e_divisive(good, {.significance = significance})) == code(cp::errc::invalid_significance),
               "significance " << significance);
  }
  BOOST_TEST(cp::e_divisive(good, {.significance = 1.0}).has_value());
  BOOST_TEST(cp::e_divisive(good, {.significance = std::numeric_limits<double>::min()}).has_value());
}

BOOST_AUTO_TEST_CASE(zero_permutations_returns_zero_permutations) {
  BOOST_TEST(error_of(cp::e_divisive(good, {.permutations = 0})) == code(cp::errc::zero_permutations));
  BOOST_TEST(cp::e_divisive(good, {.permutations = 1}).has_value());
}

BOOST_AUTO_TEST_CASE(min_segment_below_two_returns_invalid_min_segment) {
  for (const std::size_t min_segment : {0UZ, 1UZ}) {
    BOOST_TEST(error_of(cp::e_divisive(good, {.min_segment = min_segment})) == code(cp::errc::invalid_min_segment),
               "min_segment " << min_segment);
  }
  BOOST_TEST(cp::e_divisive(good, {.min_segment = 2}).has_value());
  // Huge values are valid and leave nothing to split; 2 * min_segment would wrap around to 0 or 2^64 - 2.
  constexpr auto most = std::numeric_limits<std::size_t>::max();
  for (const std::size_t min_segment : {most / 2, (most / 2) + 1, most}) {
    BOOST_TEST(cp::e_divisive(good, {.min_segment = min_segment}).value().empty(), "min_segment " << min_segment);
  }
}

BOOST_AUTO_TEST_CASE(alpha_outside_zero_two_returns_invalid_alpha) {
  for (const double alpha : {0.0, 2.0, -1.0, 3.0, not_a_number, infinity}) {
    BOOST_TEST(error_of(cp::e_divisive(good, {.alpha = alpha})) == code(cp::errc::invalid_alpha), "alpha " << alpha);
  }
  BOOST_TEST(cp::e_divisive(good, {.alpha = std::nextafter(2.0, 0.0)}).has_value());
  BOOST_TEST(cp::e_divisive(good, {.alpha = std::numeric_limits<double>::min()}).has_value());
}

BOOST_AUTO_TEST_CASE(options_are_checked_in_order_before_the_series) {
  const std::array bad_series{not_a_number, 1.0, 2.0, 3.0, 4.0, 5.0};
  BOOST_TEST(error_of(cp::e_divisive(bad_series, {.significance = 0.0, .permutations = 0})) ==
             code(cp::errc::invalid_significance));
  BOOST_TEST(error_of(cp::e_divisive(bad_series, {.permutations = 0, .min_segment = 0})) ==
             code(cp::errc::zero_permutations));
  BOOST_TEST(error_of(cp::e_divisive(bad_series, {.min_segment = 0, .alpha = 0.0})) ==
             code(cp::errc::invalid_min_segment));
  BOOST_TEST(error_of(cp::e_divisive(bad_series, {.alpha = 0.0})) == code(cp::errc::invalid_alpha));
}

BOOST_AUTO_TEST_CASE(category_is_named_after_the_module_and_every_code_has_a_message) {
  BOOST_TEST(std::string_view{cp::changepoint_category().name()} == "vmm.bench.changepoint");
  for (const auto e : {cp::errc::non_finite_value, cp::errc::invalid_significance, cp::errc::invalid_min_segment,
                       cp::errc::zero_permutations, cp::errc::invalid_alpha}) {
    BOOST_TEST(code(e).message().find("Unknown") == std::string::npos);
    BOOST_TEST(&code(e).category() == &cp::changepoint_category());
  }
  BOOST_TEST(code(static_cast<cp::errc>(99)).message() == "Unknown vmm.bench.changepoint error 99");
}

BOOST_AUTO_TEST_SUITE_END()
