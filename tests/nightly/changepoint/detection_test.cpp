// e_divisive on synthetic histories with known change points: steps are found where they are, pure noise (normal and
// skewed) rarely yields one, a single outlier does not, and min_segment, significance and the seed do what they say.
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.changepoint;

namespace cp = vmm::bench::changepoint;

namespace {

// Normal deviates by Box–Muller from std::mt19937_64 (whose output the standard fixes; std::normal_distribution's
// algorithm is up to the library), so every series here is the same with every standard library.
class noise {
 public:
  explicit noise(std::uint64_t seed) : engine_{seed} {}

  // A uniform deviate in (0, 1): 53 random bits, offset by half a step so it is never 0.
  auto uniform() -> double { return (static_cast<double>(engine_() >> 11U) + 0.5) * 0x1.0p-53; }

  auto normal(double mean, double sd) -> double {
    const double radius = std::sqrt(-2.0 * std::log(uniform()));
    return mean + (sd * radius * std::cos(2.0 * std::numbers::pi * uniform()));
  }

 private:
  std::mt19937_64 engine_;
};

// `count` values of N(mean, sd^2), written {count, mean}.
struct level {
  constexpr level(std::size_t n, double m) : count{n}, mean{m} {}
  std::size_t count;
  double mean;
};

// Levels one after the other, all with the same standard deviation.
auto steps(std::uint64_t seed, std::initializer_list<level> levels, double sd) -> std::vector<double> {
  noise source{seed};
  std::vector<double> out;
  for (const level& l : levels) {
    for (std::size_t i = 0; i < l.count; ++i) {
      out.push_back(source.normal(l.mean, sd));
    }
  }
  return out;
}

auto indices(const std::vector<cp::change_point>& found) -> std::vector<std::size_t> {
  std::vector<std::size_t> out;
  out.reserve(found.size());
  for (const cp::change_point& c : found) {
    out.push_back(c.index);
  }
  return out;
}

// Seeds of the false-positive measurements: 200 series, so the 3 % bound (6 series) is ~3.5 standard deviations of
// the binomial count above the expected 1 % (2 series).
constexpr std::uint64_t noise_series = 200;
constexpr std::size_t max_false_positives = 6;

}  // namespace

BOOST_AUTO_TEST_SUITE(detection)

BOOST_AUTO_TEST_CASE(ten_sigma_step_is_found_at_its_exact_index) {
  // A 10 sigma step: the two halves do not overlap, so moving the split by one puts a value ~10 away from its group
  // into the other, which costs Q far more than noise can give. Hence the exact index, not +/- 1, for every seed.
  // (A seed may add a false positive inside a noise half, ~1 % per test: the noise cases below measure that.)
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const auto found = cp::e_divisive(steps(seed, {{40, 100.0}, {40, 110.0}}, 1.0)).value();
    const auto step = std::ranges::find(found, 40U, &cp::change_point::index);
    BOOST_TEST_REQUIRE((step != found.end()), "seed " << seed);
    BOOST_TEST(step->p_value <= 0.01);
  }
}

BOOST_AUTO_TEST_CASE(one_step_has_its_segments_means_and_medians) {
  const auto found = cp::e_divisive(steps(1, {{40, 100.0}, {40, 110.0}}, 1.0)).value();
  BOOST_TEST_REQUIRE(found.size() == 1U);
  BOOST_TEST(found[0].index == 40U);
  // Means of 40 draws have sd 1 / sqrt(40) = 0.16, medians 1.25 / sqrt(40) = 0.2: 0.6 and 1 are 3.8 and 5 sd.
  BOOST_TEST(std::abs(found[0].before_mean - 100.0) < 0.6);
  BOOST_TEST(std::abs(found[0].after_mean - 110.0) < 0.6);
  BOOST_TEST(std::abs(found[0].before_median - 100.0) < 1.0);
  BOOST_TEST(std::abs(found[0].after_median - 110.0) < 1.0);
}

BOOST_AUTO_TEST_CASE(two_steps_up_then_down_are_both_found) {
  const auto found = cp::e_divisive(steps(2, {{40, 100.0}, {40, 110.0}, {40, 95.0}}, 1.0)).value();
  BOOST_TEST(indices(found) == (std::vector<std::size_t>{40, 80}), boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(found.size() == 2U);
  BOOST_TEST(std::abs(found[0].before_mean - 100.0) < 0.6);
  BOOST_TEST(std::abs(found[0].after_mean - 110.0) < 0.6);
  BOOST_TEST(std::abs(found[1].before_mean - 110.0) < 0.6);
  BOOST_TEST(std::abs(found[1].after_mean - 95.0) < 0.6);
}

BOOST_AUTO_TEST_CASE(change_points_are_sorted_by_index_not_by_discovery) {
  // The 20 step at 80 has the larger statistic (1144 against 354 for the 10 step at 40) and is split first, then
  // the one at 40, then (this seed) a false positive at 58 in the noise of the middle level.
  const auto found = indices(cp::e_divisive(steps(3, {{40, 100.0}, {40, 110.0}, {40, 130.0}}, 1.0)).value());
  BOOST_TEST(std::ranges::is_sorted(found));
  BOOST_TEST(std::ranges::contains(found, 40U));
  BOOST_TEST(std::ranges::contains(found, 80U));
}

BOOST_AUTO_TEST_CASE(five_percent_step_in_two_percent_noise_is_found_near_its_index) {
  // 100 -> 105 in noise of sd 2: a 2.5 sigma step. Over 500 seeds it was always found, 97 % of the time within
  // +/- 2 of the true index; demand every one of 50 found (p <= 0.01) and 90 % within +/- 2.
  std::size_t near = 0;
  for (std::uint64_t seed = 100; seed < 150; ++seed) {
    const auto found = cp::e_divisive(steps(seed, {{40, 100.0}, {40, 105.0}}, 2.0)).value();
    BOOST_TEST_REQUIRE(!found.empty(), "seed " << seed);
    const auto closest = std::ranges::min(
        found, {}, [](const cp::change_point& c) { return std::abs(static_cast<long>(c.index) - 40L); });
    BOOST_TEST(closest.p_value <= 0.01);
    BOOST_TEST(closest.after_mean > closest.before_mean);
    if (std::abs(static_cast<long>(closest.index) - 40L) <= 2) {
      ++near;
    }
  }
  BOOST_TEST(near >= 45U);
}

BOOST_AUTO_TEST_CASE(pure_normal_noise_has_at_most_three_percent_false_positives) {
  std::size_t false_positives = 0;
  for (std::uint64_t seed = 0; seed < noise_series; ++seed) {
    const auto series = steps(1000 + seed, {{60, 100.0}}, 1.0);
    if (!cp::e_divisive(series, {.seed = seed}).value().empty()) {
      ++false_positives;
    }
  }
  BOOST_TEST_MESSAGE("normal noise: " << false_positives << " of " << noise_series << " series had a change point");
  BOOST_TEST(false_positives <= max_false_positives);
}

BOOST_AUTO_TEST_CASE(skewed_noise_with_outliers_has_at_most_three_percent_false_positives) {
  // Benchmark timings are right-skewed with occasional slow outliers: 100 + Exp(1), and one value in 20 tripled.
  // The permutation test assumes only exchangeability, so its rate is the same as for normal noise.
  std::size_t false_positives = 0;
  for (std::uint64_t seed = 0; seed < noise_series; ++seed) {
    noise source{5000 + seed};
    std::vector<double> series;
    for (int i = 0; i < 60; ++i) {
      const double value = 100.0 - std::log(source.uniform());
      series.push_back(source.uniform() < 0.05 ? 3.0 * value : value);
    }
    if (!cp::e_divisive(series, {.seed = seed}).value().empty()) {
      ++false_positives;
    }
  }
  BOOST_TEST_MESSAGE("skewed noise: " << false_positives << " of " << noise_series << " series had a change point");
  BOOST_TEST(false_positives <= max_false_positives);
}

BOOST_AUTO_TEST_CASE(one_huge_outlier_is_not_a_change_point) {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    auto series = steps(seed, {{60, 100.0}}, 1.0);
    series[30] = 1000.0;
    BOOST_TEST(cp::e_divisive(series).value().empty(), "seed " << seed);
  }
}

BOOST_AUTO_TEST_CASE(min_segment_keeps_an_outlier_from_being_cut_out_even_when_every_split_is_kept) {
  // Significance 1 keeps every candidate, so the series is cut as finely as min_segment allows: still no two change
  // points closer than 3, so none isolate the outlier at 30 (a pair 30, 31 would).
  auto series = steps(4, {{60, 100.0}}, 1.0);
  series[30] = 1000.0;
  const auto found = cp::e_divisive(series, {.significance = 1.0, .permutations = 1, .min_segment = 3}).value();
  BOOST_TEST_REQUIRE(found.size() >= 2U);
  BOOST_TEST(found.front().index >= 3U);
  BOOST_TEST(found.back().index <= 57U);
  for (std::size_t k = 1; k < found.size(); ++k) {
    BOOST_TEST(found[k].index - found[k - 1].index >= 3U,
               "between " << found[k - 1].index << " and " << found[k].index);
  }
}

BOOST_AUTO_TEST_CASE(step_closer_to_an_end_than_min_segment_is_reported_at_min_segment) {
  // The step is after index 1; a segment may not be shorter than 3, so the nearest split allowed is 3.
  const auto found = cp::e_divisive(steps(5, {{2, 100.0}, {58, 110.0}}, 1.0)).value();
  BOOST_TEST(indices(found) == (std::vector<std::size_t>{3}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(regression_in_the_last_three_commits_is_found) {
  // What vmm-bench detect is for: the newest commits got slower. A 5 sigma step 3 values from the end (the closest
  // min_segment allows) was found within +/- 1 for 100 of 100 seeds.
  for (std::uint64_t seed = 20; seed < 30; ++seed) {
    const auto found = cp::e_divisive(steps(seed, {{77, 100.0}, {3, 105.0}}, 1.0)).value();
    BOOST_TEST_REQUIRE(!found.empty(), "seed " << seed);
    BOOST_TEST(found.back().index >= 76U);
    BOOST_TEST(found.back().after_mean > found.back().before_mean + 3.0);
  }
}

BOOST_AUTO_TEST_CASE(temporary_excursion_is_found_unless_min_segment_is_longer) {
  // 20 values at 110 inside 100s: both edges found with min_segment 3; with min_segment 25 the excursion would need
  // a segment of 20, so at most one edge can be a change point.
  const auto series = steps(6, {{30, 100.0}, {20, 110.0}, {30, 100.0}}, 1.0);
  BOOST_TEST(indices(cp::e_divisive(series).value()) == (std::vector<std::size_t>{30, 50}),
             boost::test_tools::per_element());
  const auto coarse = indices(cp::e_divisive(series, {.min_segment = 25}).value());
  BOOST_TEST(!(std::ranges::contains(coarse, 30U) && std::ranges::contains(coarse, 50U)));
}

BOOST_AUTO_TEST_CASE(distance_exponent_one_half_also_finds_the_step) {
  const auto found = cp::e_divisive(steps(7, {{40, 100.0}, {40, 110.0}}, 1.0), {.alpha = 0.5}).value();
  BOOST_TEST(indices(found) == (std::vector<std::size_t>{40}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(series_too_long_for_the_distance_matrix_still_finds_the_step) {
  // 2100 values are over the 2048 the pairwise distances are stored for, so alpha 0.5 computes them in each scan.
  // min_segment 1000 leaves one round of splits; one permutation and significance 0.5 keep it cheap.
  const auto found = cp::e_divisive(steps(8, {{1050, 100.0}, {1050, 110.0}}, 1.0),
                                    {.significance = 0.5, .permutations = 1, .min_segment = 1000, .alpha = 0.5})
                         .value();
  BOOST_TEST(indices(found) == (std::vector<std::size_t>{1050}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(fast_path_and_pairwise_path_agree) {
  // alpha = 1 uses the O(N log N) Fenwick sums; the next double below 1 takes the pairwise O(N^2) path, whose
  // distances differ from |x - y| by a relative 1e-16 * ln|x - y|.
  const auto series = steps(9, {{30, 100.0}, {30, 104.0}, {30, 98.0}, {30, 101.0}}, 1.0);
  const auto fast = cp::e_divisive(series).value();
  const auto pairwise = cp::e_divisive(series, {.alpha = std::nextafter(1.0, 0.0)}).value();
  BOOST_TEST(fast.size() >= 2U);
  BOOST_TEST_REQUIRE(fast.size() == pairwise.size());
  for (std::size_t k = 0; k < fast.size(); ++k) {
    BOOST_TEST(fast[k].index == pairwise[k].index);
    BOOST_TEST(fast[k].p_value == pairwise[k].p_value);
    BOOST_TEST(fast[k].statistic == pairwise[k].statistic, boost::test_tools::tolerance(1e-9));
  }
}

BOOST_AUTO_TEST_CASE(same_seed_gives_identical_results_and_another_seed_other_p_values) {
  // Significance 1 keeps every split of pure noise, so the p-values show the permutations drawn.
  const auto series = steps(10, {{40, 100.0}}, 1.0);
  const cp::options first{.significance = 1.0, .permutations = 19, .seed = 1};
  const cp::options second{.significance = 1.0, .permutations = 19, .seed = 2};
  const auto a = cp::e_divisive(series, first).value();
  const auto b = cp::e_divisive(series, first).value();
  const auto c = cp::e_divisive(series, second).value();
  BOOST_TEST_REQUIRE(a.size() == b.size());
  BOOST_TEST_REQUIRE(!a.empty());
  for (std::size_t k = 0; k < a.size(); ++k) {
    BOOST_TEST(a[k].index == b[k].index);
    BOOST_TEST(a[k].p_value == b[k].p_value);
    BOOST_TEST(a[k].statistic == b[k].statistic);
    BOOST_TEST(a[k].before_mean == b[k].before_mean);
    BOOST_TEST(a[k].after_median == b[k].after_median);
  }
  std::vector<double> p_first;
  std::vector<double> p_second;
  std::ranges::transform(a, std::back_inserter(p_first), &cp::change_point::p_value);
  std::ranges::transform(c, std::back_inserter(p_second), &cp::change_point::p_value);
  BOOST_TEST((p_first != p_second));
}

BOOST_AUTO_TEST_CASE(unmistakable_step_gets_the_smallest_p_value_the_permutations_allow) {
  // No shuffle of a 10 sigma step comes near its statistic: p = (0 + 1) / (99 + 1) = 0.01, which is significant at
  // 0.01. With 49 permutations the smallest p is 1 / 50 = 0.02, so nothing can be significant at 0.01.
  const auto series = steps(11, {{40, 100.0}, {40, 110.0}}, 1.0);
  const auto found = cp::e_divisive(series, {.permutations = 99}).value();
  BOOST_TEST_REQUIRE(found.size() == 1U);
  BOOST_TEST(found[0].p_value == 0.01);
  BOOST_TEST(cp::e_divisive(series, {.permutations = 49}).value().empty());
}

BOOST_AUTO_TEST_SUITE_END()
