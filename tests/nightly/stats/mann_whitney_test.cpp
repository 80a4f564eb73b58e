// mann_whitney_u against known values: exact p-values from the null distribution of U, enumerated independently
// (every n1-subset of the ranks 1..n listed with Python's itertools.combinations and counted by rank sum, or, for
// n1 = n2 = 30, Mann & Whitney's 1947 recursion f(m, n, u) = f(m - 1, n, u - n) + f(m, n - 1, u) in Python
// fractions); normal approximations worked by hand from the formula, with Python's math.erfc for the tail.
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.stats;

namespace stats = vmm::bench::stats;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_SUITE(mann_whitney_exact)

BOOST_AUTO_TEST_CASE(three_below_three_gives_p_one_tenth) {
  // U = 0; only 1 of the C(6,3) = 20 equally likely rank sets gives U <= 0, so p = 2 * 1/20 = 0.1.
  // z = (0 - 4.5 + 0.5) / sqrt(3 * 3 / 12 * 7) = -4 / sqrt(5.25) = -1.7457431218879391.
  const std::array a{1.0, 2.0, 3.0};
  const std::array b{4.0, 5.0, 6.0};
  const auto r = stats::mann_whitney_u(a, b).value();
  BOOST_TEST(r.exact);
  BOOST_TEST(r.u == 0.0);
  BOOST_TEST(r.p_value == 0.1, tt::tolerance(1e-12));
  BOOST_TEST(r.z == -1.7457431218879391, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(four_below_four_gives_p_two_seventieths) {
  // U = 0; 1 of C(8,4) = 70 rank sets, p = 2/70.
  const std::array a{1.0, 2.0, 3.0, 4.0};
  const std::array b{5.0, 6.0, 7.0, 8.0};
  const auto r = stats::mann_whitney_u(a, b).value();
  BOOST_TEST(r.exact);
  BOOST_TEST(r.u == 0.0);
  BOOST_TEST(r.p_value == 2.0 / 70.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(interleaved_samples_match_enumeration) {
  // U = 1 + 2 + 3 = 6 (3 > 2; 5 > 2, 4; 7 > 2, 4, 6). Enumeration: 24 of 70 rank sets give U <= 6, so p = 48/70.
  const std::array a{1.0, 3.0, 5.0, 7.0};
  const std::array b{2.0, 4.0, 6.0, 8.0};
  const auto r = stats::mann_whitney_u(a, b).value();
  BOOST_TEST(r.exact);
  BOOST_TEST(r.u == 6.0);
  BOOST_TEST(r.p_value == 48.0 / 70.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(unequal_sizes_match_enumeration) {
  // n1 = 3, n2 = 5: U_a = 1 + 5 + 5 = 11 (2.5 > 1; 9 and 11 > all five). Enumeration: 11 of C(8,3) = 56 rank sets
  // give U >= 11, so p = 2 * 11/56 = 11/28.
  const std::array a{2.5, 9.0, 11.0};
  const std::array b{1.0, 3.0, 4.0, 5.0, 6.0};
  const auto r = stats::mann_whitney_u(a, b).value();
  BOOST_TEST(r.exact);
  BOOST_TEST(r.u == 11.0);
  BOOST_TEST(r.p_value == 11.0 / 28.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(swapping_the_samples_gives_u_complement_and_same_p) {
  // U_a + U_b = n1 n2 = 15; the two-sided p does not depend on the order.
  const std::array a{2.5, 9.0, 11.0};
  const std::array b{1.0, 3.0, 4.0, 5.0, 6.0};
  const auto ab = stats::mann_whitney_u(a, b).value();
  const auto ba = stats::mann_whitney_u(b, a).value();
  BOOST_TEST(ab.u + ba.u == 15.0);
  BOOST_TEST(ba.u == 4.0);
  BOOST_TEST(ba.p_value == ab.p_value, tt::tolerance(1e-12));
  BOOST_TEST(ba.z == -ab.z, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(ten_by_ten_matches_enumeration) {
  // U = 32; enumeration of all C(20,10) = 184756 rank sets: 17581 give U <= 32, so p = 2 * 17581/184756.
  const std::array a{1.0, 2.0, 4.0, 5.0, 7.0, 8.0, 12.0, 14.0, 15.0, 19.0};
  const std::array b{3.0, 6.0, 9.0, 10.0, 11.0, 13.0, 16.0, 17.0, 18.0, 20.0};
  const auto r = stats::mann_whitney_u(a, b).value();
  BOOST_TEST(r.exact);
  BOOST_TEST(r.u == 32.0);
  BOOST_TEST(r.p_value == 2.0 * 17581.0 / 184756.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(five_below_seven_gives_p_one_over_396) {
  // U = 0; 1 of C(12,5) = 792 rank sets, p = 2/792 = 1/396.
  const std::array a{0.5, 1.5, 2.5, 3.5, 4.5};
  const std::array b{5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0};
  const auto r = stats::mann_whitney_u(a, b).value();
  BOOST_TEST(r.exact);
  BOOST_TEST(r.p_value == 1.0 / 396.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(thirty_by_thirty_complete_separation_gives_two_over_c_60_30) {
  // The largest exact case: one rank set of C(60,30) = 118264581564861424 gives U = 0, p = 2 / C(60,30).
  std::vector<double> a(30);
  std::vector<double> b(30);
  std::iota(a.begin(), a.end(), 0.0);
  std::iota(b.begin(), b.end(), 30.0);
  const auto r = stats::mann_whitney_u(a, b).value();
  BOOST_TEST(r.exact);
  BOOST_TEST(r.u == 0.0);
  BOOST_TEST(r.p_value == 2.0 / 118264581564861424.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(thirty_by_thirty_matches_the_mann_whitney_recursion) {
  // a = 0..19 and 40..49, b = 20..39 and 50..59: U = 10 * 20 = 200. Mann & Whitney's recursion (Python fractions):
  // P(U <= 200) = 2117748178251 / 29566145391215356, p = 2117748178251 / 14783072695607678.
  std::vector<double> a(30);
  std::vector<double> b(30);
  std::iota(a.begin(), a.begin() + 20, 0.0);
  std::iota(a.begin() + 20, a.end(), 40.0);
  std::iota(b.begin(), b.begin() + 20, 20.0);
  std::iota(b.begin() + 20, b.end(), 50.0);
  const auto r = stats::mann_whitney_u(a, b).value();
  BOOST_TEST(r.exact);
  BOOST_TEST(r.u == 200.0);
  BOOST_TEST(r.p_value == 0.00014325493906826433, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(u_at_its_mean_gives_p_one) {
  // U_a = 0 + 2 + 2 + 4 = 8 = n1 n2 / 2: the middle of a symmetric distribution, P(U <= 8) >= 1/2, p capped at 1.
  const std::array a{1.0, 4.0, 5.0, 8.0};
  const std::array b{2.0, 3.0, 6.0, 7.0};
  const auto r = stats::mann_whitney_u(a, b).value();
  BOOST_TEST(r.exact);
  BOOST_TEST(r.u == 8.0);
  BOOST_TEST(r.z == 0.0);
  BOOST_TEST(r.p_value == 1.0);
}

BOOST_AUTO_TEST_CASE(one_value_each_gives_p_one) {
  // n1 = n2 = 1, a > b: U = 1, distribution {0, 1} each with probability 1/2, p = min(1, 2 * 1/2) = 1.
  const std::array a{2.0};
  const std::array b{1.0};
  const auto r = stats::mann_whitney_u(a, b).value();
  BOOST_TEST(r.exact);
  BOOST_TEST(r.u == 1.0);
  BOOST_TEST(r.p_value == 1.0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(mann_whitney_normal)

BOOST_AUTO_TEST_CASE(ties_use_average_ranks_and_tie_corrected_variance) {
  // Pooled, sorted: 1a 2a 2a 2b 3a 3b 4b 4b 5a 6b (n = 10). Average ranks: 1 -> 1, 2s -> 3, 3s -> 5.5, 4s -> 7.5,
  // 5 -> 9, 6 -> 10. R_a = 1 + 3 + 3 + 5.5 + 9 = 21.5, U_a = 21.5 - 5 * 6 / 2 = 6.5.
  // Mean n1 n2 / 2 = 12.5. Ties t = 3, 2, 2: sum(t^3 - t) = 24 + 6 + 6 = 36.
  // Variance n1 n2 / 12 * ((n + 1) - 36 / (n (n - 1))) = 25/12 * (11 - 36/90) = 265/12 = 22.0833...
  // z = -(|6.5 - 12.5| - 0.5) / sqrt(265/12) = -5.5 / 4.6992907... = -1.1703893885176493.
  // p = erfc(|z| / sqrt 2) = 0.2418443040494631 (Python math.erfc).
  const std::array a{1.0, 2.0, 2.0, 3.0, 5.0};
  const std::array b{2.0, 3.0, 4.0, 4.0, 6.0};
  const auto r = stats::mann_whitney_u(a, b).value();
  BOOST_TEST(!r.exact);
  BOOST_TEST(r.u == 6.5);
  BOOST_TEST(r.z == -1.1703893885176493, tt::tolerance(1e-12));
  BOOST_TEST(r.p_value == 0.2418443040494631, tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(more_than_thirty_values_use_the_normal_approximation) {
  // n1 = 31, n2 = 30, complete separation, no ties: U = 0, mean 465, variance 31 * 30 / 12 * 62 = 4805,
  // z = -(465 - 0.5) / sqrt(4805) = -6.700990809991304, p = erfc(|z| / sqrt 2) = 2.0701106196976567e-11.
  std::vector<double> a(31);
  std::vector<double> b(30);
  std::iota(a.begin(), a.end(), 0.0);
  std::iota(b.begin(), b.end(), 31.0);
  const auto r = stats::mann_whitney_u(a, b).value();
  BOOST_TEST(!r.exact);
  BOOST_TEST(r.u == 0.0);
  BOOST_TEST(r.z == -6.700990809991304, tt::tolerance(1e-12));
  BOOST_TEST(r.p_value == 2.0701106196976567e-11, tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(all_values_equal_gives_z_zero_and_p_one) {
  // One tie group of n = 4: variance 1 * ... = 4/12 * (5 - 60/12) = 0, so there is no evidence either way.
  const std::array a{3.0, 3.0};
  const std::array b{3.0, 3.0};
  const auto r = stats::mann_whitney_u(a, b).value();
  BOOST_TEST(!r.exact);
  BOOST_TEST(r.u == 2.0);
  BOOST_TEST(r.z == 0.0);
  BOOST_TEST(r.p_value == 1.0);
}

BOOST_AUTO_TEST_SUITE_END()
