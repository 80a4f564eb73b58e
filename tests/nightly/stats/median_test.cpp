// median: odd and even counts, one value, input order does not matter.
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.stats;

namespace stats = vmm::bench::stats;

BOOST_AUTO_TEST_SUITE(median)

BOOST_AUTO_TEST_CASE(odd_count_returns_the_middle_value) {
  const std::array sample{3.0, 1.0, 2.0};
  BOOST_TEST(stats::median(sample).value() == 2.0);
}

BOOST_AUTO_TEST_CASE(even_count_returns_the_mean_of_the_middle_two) {
  const std::array sample{4.0, 1.0, 3.0, 2.0};
  BOOST_TEST(stats::median(sample).value() == 2.5);
}

BOOST_AUTO_TEST_CASE(single_value_is_its_own_median) {
  const std::array sample{7.0};
  BOOST_TEST(stats::median(sample).value() == 7.0);
}

BOOST_AUTO_TEST_CASE(duplicates_are_counted) {
  const std::array sample{5.0, 1.0, 5.0, 5.0, 2.0};
  BOOST_TEST(stats::median(sample).value() == 5.0);
}

BOOST_AUTO_TEST_SUITE_END()
