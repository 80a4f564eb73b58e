module;
#include <cmath>  // ::lgamma_r: std::lgamma writes the global signgam
module vmm.bench.stats;
import std;
import vmm.sys;

namespace vmm::bench::stats {
namespace {

class category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.bench.stats"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::too_few_samples:
        return "A sample is empty; every statistic needs at least one observation per sample";
      case errc::non_finite_sample:
        return "A sample holds NaN or an infinity";
      case errc::invalid_confidence:
        return "Confidence level must lie strictly between 0 and 1";
      case errc::invalid_rate:
        return "False discovery rate q must lie in (0, 1]";
      case errc::invalid_p_value:
        return "A p-value is NaN or outside [0, 1]";
      case errc::zero_resamples:
        return "A bootstrap needs at least one resample";
      case errc::zero_base_median:
        return "Median of the base sample (or of a base resample) is 0, so the ratio is undefined";
      case errc::unpaired_samples:
        return "Paired samples must have the same size";
      case errc::non_positive_sample:
        return "A ratio of paired samples needs values greater than 0";
    }
    return "Unknown vmm.bench.stats error " + std::to_string(value);
  }
};

// The largest sample size (each side) for which the exact null distribution of U is used. C(60, 30) < 2^64, so the
// counts are exact in x86-64's 64-bit-mantissa long double, and the table stays small (31 x 1831).
constexpr std::size_t exact_limit = 30;

auto check_sample(std::span<const double> sample) -> vmm::result<void> {
  if (sample.empty()) {
    return vmm::failure(errc::too_few_samples);
  }
  if (!std::ranges::all_of(sample, [](double x) { return std::isfinite(x); })) {
    return vmm::failure(errc::non_finite_sample);
  }
  return {};
}

// Median of a non-empty buffer that may be reordered.
auto median_in_place(std::span<double> values) -> double {
  const auto mid = values.size() / 2;
  const auto upper_it = values.begin() + static_cast<std::ptrdiff_t>(mid);
  std::ranges::nth_element(values, upper_it);
  const double upper = *upper_it;
  if (values.size() % 2 != 0) {
    return upper;
  }
  const double lower = *std::ranges::max_element(values.begin(), upper_it);
  return std::midpoint(lower, upper);
}

// P(U <= u) and P(U >= u) under the null hypothesis for tie-free samples of sizes n1 and n2, by counting the n1-subsets
// of the ranks {1..n} by rank sum W (U = W - n1 (n1 + 1) / 2): a 0/1 knapsack over the ranks.
auto exact_tails(std::size_t n1, std::size_t n2, std::size_t u) -> std::pair<long double, long double> {
  const std::size_t n = n1 + n2;
  const std::size_t max_sum = n * (n + 1) / 2;
  std::vector<std::vector<long double>> ways(n1 + 1, std::vector<long double>(max_sum + 1, 0.0L));
  ways[0][0] = 1.0L;
  for (std::size_t rank = 1; rank <= n; ++rank) {
    for (std::size_t k = std::min(rank, n1); k >= 1; --k) {
      for (std::size_t sum = max_sum; sum >= rank; --sum) {
        ways[k][sum] += ways[k - 1][sum - rank];
      }
    }
  }
  const std::size_t offset = n1 * (n1 + 1) / 2;
  long double total = 0.0L;
  long double at_most = 0.0L;
  long double at_least = 0.0L;
  for (std::size_t v = 0; v <= n1 * n2; ++v) {
    const long double count = ways[n1][v + offset];
    total += count;
    if (v <= u) {
      at_most += count;
    }
    if (v >= u) {
      at_least += count;
    }
  }
  return {at_most / total, at_least / total};
}

// The q-quantile of sorted values, interpolating linearly between order statistics (Hyndman–Fan type 7).
auto quantile_sorted(std::span<const double> sorted, double q) -> double {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const double floor_position = std::floor(position);
  const auto index = static_cast<std::size_t>(floor_position);
  if (index + 1 >= sorted.size()) {
    return sorted.back();
  }
  return std::lerp(sorted[index], sorted[index + 1], position - floor_position);
}

// A uniform index in [0, bound) from the 64-bit engine, by rejection: discard draws below 2^64 mod bound so every
// residue is equally likely. std::uniform_int_distribution is not used because its algorithm is up to the library.
auto draw_index(std::mt19937_64& engine, std::size_t bound) -> std::size_t {
  const auto range = static_cast<std::uint64_t>(bound);
  const std::uint64_t threshold = (std::uint64_t{0} - range) % range;
  while (true) {
    const std::uint64_t draw = engine();
    if (draw >= threshold) {
      return static_cast<std::size_t>(draw % range);
    }
  }
}

void resample(std::span<const double> from, std::span<double> into, std::mt19937_64& engine) {
  for (double& slot : into) {
    slot = from[draw_index(engine, from.size())];
  }
}

// log Γ(x) without touching the global signgam, so concurrent callers do not race.
auto log_gamma(double x) -> double {
  int sign = 0;
  return ::lgamma_r(x, &sign);
}

// `nonzero` (sorted by absolute value) ranked with ties given their average rank: adds the ranks of the positive
// values to w_plus and returns the tie correction, the sum of t^3 - t over the runs of t tied values.
auto rank_positive(std::span<const double> nonzero, double& w_plus) -> double {
  const std::size_t count = nonzero.size();
  double tie_term = 0.0;
  for (std::size_t first = 0; first < count;) {
    std::size_t last = first + 1;
    while (last < count && std::abs(nonzero[last]) == std::abs(nonzero[first])) {
      ++last;
    }
    const auto run = static_cast<double>(last - first);
    const double average_rank = (static_cast<double>(first + 1) + static_cast<double>(last)) / 2.0;
    for (std::size_t i = first; i < last; ++i) {
      if (nonzero[i] > 0.0) {
        w_plus += average_rank;
      }
    }
    tie_term += run * run * run - run;
    first = last;
  }
  return tie_term;
}

// The exact two-sided p-value of W+ = w_plus (an integer: no ties) over `count` nonzero differences.
auto exact_signed_rank_p(std::size_t count, double w_plus) -> double {
  // The null distribution of W+: every subset of the ranks 1..n is equally likely to be the positive ones.
  const std::size_t max_sum = count * (count + 1) / 2;
  std::vector<long double> ways(max_sum + 1, 0.0L);
  ways[0] = 1.0L;
  for (std::size_t rank = 1; rank <= count; ++rank) {
    for (std::size_t sum = max_sum; sum >= rank; --sum) {
      ways[sum] += ways[sum - rank];
    }
  }
  // Without ties W+ is an integer, so the conversion is exact.
  const auto w = static_cast<std::size_t>(w_plus);
  long double total = 0.0L;
  long double at_most = 0.0L;
  long double at_least = 0.0L;
  for (std::size_t v = 0; v <= max_sum; ++v) {
    total += ways[v];
    at_most += v <= w ? ways[v] : 0.0L;
    at_least += v >= w ? ways[v] : 0.0L;
  }
  return std::min(1.0, static_cast<double>(2.0L * std::min(at_most, at_least) / total));
}

}  // namespace

auto stats_category() noexcept -> const std::error_category& {
  static const category instance;
  return instance;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), stats_category()};
}

auto median(std::span<const double> sample) -> vmm::result<double> {
  if (auto valid = check_sample(sample); !valid) {
    return std::unexpected(valid.error());
  }
  std::vector<double> values(sample.begin(), sample.end());
  return median_in_place(values);
}

auto mann_whitney_u(std::span<const double> a, std::span<const double> b) -> vmm::result<mann_whitney_result> {
  if (auto valid = check_sample(a); !valid) {
    return std::unexpected(valid.error());
  }
  if (auto valid = check_sample(b); !valid) {
    return std::unexpected(valid.error());
  }
  struct observation {
    double value;
    bool from_a;
  };
  std::vector<observation> pooled;
  pooled.reserve(a.size() + b.size());
  for (const double x : a) {
    pooled.push_back({.value = x, .from_a = true});
  }
  for (const double x : b) {
    pooled.push_back({.value = x, .from_a = false});
  }
  std::ranges::sort(pooled, {}, &observation::value);

  // Average ranks over runs of equal values; sum(t^3 - t) over those runs for the variance.
  double rank_sum_a = 0.0;
  double tie_term = 0.0;
  for (std::size_t first = 0; first < pooled.size();) {
    std::size_t last = first + 1;
    while (last < pooled.size() && pooled[last].value == pooled[first].value) {
      ++last;
    }
    const auto run = static_cast<double>(last - first);
    const double average_rank = (static_cast<double>(first + 1) + static_cast<double>(last)) / 2.0;
    for (std::size_t i = first; i < last; ++i) {
      if (pooled[i].from_a) {
        rank_sum_a += average_rank;
      }
    }
    tie_term += run * run * run - run;
    first = last;
  }

  const auto n1 = static_cast<double>(a.size());
  const auto n2 = static_cast<double>(b.size());
  const double n = n1 + n2;
  const double u = rank_sum_a - (n1 * (n1 + 1.0) / 2.0);
  const double mean = n1 * n2 / 2.0;
  const double variance = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
  const double sigma = std::sqrt(std::max(variance, 0.0));
  const double distance = std::max(std::abs(u - mean) - 0.5, 0.0);
  const double z = sigma > 0.0 ? std::copysign(distance, u - mean) / sigma : 0.0;

  mann_whitney_result result{.u = u, .z = z, .p_value = 1.0, .exact = false};
  if (tie_term == 0.0 && a.size() <= exact_limit && b.size() <= exact_limit) {
    // Without ties U is an integer, so the conversion is exact.
    const auto [at_most, at_least] = exact_tails(a.size(), b.size(), static_cast<std::size_t>(u));
    result.p_value = std::min(1.0, static_cast<double>(2.0L * std::min(at_most, at_least)));
    result.exact = true;
  } else if (sigma > 0.0) {
    result.p_value = std::min(1.0, std::erfc(std::abs(z) / std::numbers::sqrt2));
  }
  return result;
}

auto bootstrap_ratio_of_medians(std::span<const double> base, std::span<const double> head, double confidence,
                                std::size_t resamples, std::uint64_t seed) -> vmm::result<ratio_interval> {
  if (auto valid = check_sample(base); !valid) {
    return std::unexpected(valid.error());
  }
  if (auto valid = check_sample(head); !valid) {
    return std::unexpected(valid.error());
  }
  // NOLINTNEXTLINE(readability-simplify-boolean-expr): the negated form is what rejects NaN
  if (!(confidence > 0.0 && confidence < 1.0)) {
    return vmm::failure(errc::invalid_confidence);
  }
  if (resamples == 0) {
    return vmm::failure(errc::zero_resamples);
  }
  std::vector<double> base_buffer(base.begin(), base.end());
  std::vector<double> head_buffer(head.begin(), head.end());
  const double base_median = median_in_place(base_buffer);
  if (base_median == 0.0) {
    return vmm::failure(errc::zero_base_median);
  }
  const double ratio = median_in_place(head_buffer) / base_median;

  std::mt19937_64 engine{seed};
  std::vector<double> ratios;
  ratios.reserve(resamples);
  for (std::size_t r = 0; r < resamples; ++r) {
    resample(base, base_buffer, engine);
    resample(head, head_buffer, engine);
    const double resampled_base = median_in_place(base_buffer);
    if (resampled_base == 0.0) {
      return vmm::failure(errc::zero_base_median);
    }
    ratios.push_back(median_in_place(head_buffer) / resampled_base);
  }
  std::ranges::sort(ratios);
  const double tail = (1.0 - confidence) / 2.0;
  return ratio_interval{
      .ratio = ratio, .low = quantile_sorted(ratios, tail), .high = quantile_sorted(ratios, 1.0 - tail)};
}

auto wilcoxon_signed_rank(std::span<const double> differences) -> vmm::result<signed_rank_result> {
  if (auto valid = check_sample(differences); !valid) {
    return std::unexpected(valid.error());
  }
  std::vector<double> nonzero;
  for (const double d : differences) {
    if (d != 0.0) {
      nonzero.push_back(d);
    }
  }
  std::ranges::sort(nonzero, {}, [](double d) { return std::abs(d); });
  const std::size_t count = nonzero.size();
  signed_rank_result result{.w_plus = 0.0, .n = count, .z = 0.0, .p_value = 1.0, .exact = false};
  if (count == 0) {
    return result;
  }
  const double tie_term = rank_positive(nonzero, result.w_plus);
  const auto n = static_cast<double>(count);
  const double mean = n * (n + 1.0) / 4.0;
  const double variance = (n * (n + 1.0) * (2.0 * n + 1.0) / 24.0) - (tie_term / 48.0);
  const double sigma = std::sqrt(std::max(variance, 0.0));
  const double distance = std::max(std::abs(result.w_plus - mean) - 0.5, 0.0);
  result.z = sigma > 0.0 ? std::copysign(distance, result.w_plus - mean) / sigma : 0.0;
  if (tie_term == 0.0 && count <= exact_limit) {
    result.p_value = exact_signed_rank_p(count, result.w_plus);
    result.exact = true;
  } else if (sigma > 0.0) {
    result.p_value = std::min(1.0, std::erfc(std::abs(result.z) / std::numbers::sqrt2));
  }
  return result;
}

auto sign_test(std::span<const double> differences) -> vmm::result<sign_test_result> {
  if (auto valid = check_sample(differences); !valid) {
    return std::unexpected(valid.error());
  }
  sign_test_result result{.positive = 0, .n = 0, .p_value = 1.0};
  for (const double d : differences) {
    result.n += d != 0.0 ? 1 : 0;
    result.positive += d > 0.0 ? 1 : 0;
  }
  if (result.n == 0) {
    return result;
  }
  // P(X <= k) for X ~ Binomial(n, 1/2), summing C(n, i) / 2^n in log space so that large n cannot overflow.
  const std::size_t k = std::min(result.positive, result.n - result.positive);
  const auto n = static_cast<double>(result.n);
  long double tail = 0.0L;
  for (std::size_t i = 0; i <= k; ++i) {
    const auto x = static_cast<double>(i);
    const double log_term = log_gamma(n + 1.0) - log_gamma(x + 1.0) - log_gamma(n - x + 1.0) - (n * std::numbers::ln2);
    tail += std::exp(static_cast<long double>(log_term));
  }
  result.p_value = std::min(1.0, static_cast<double>(2.0L * tail));
  return result;
}

auto bootstrap_median_of_ratios(std::span<const double> base, std::span<const double> head, double confidence,
                                std::size_t resamples, std::uint64_t seed) -> vmm::result<ratio_interval> {
  if (auto valid = check_sample(base); !valid) {
    return std::unexpected(valid.error());
  }
  if (auto valid = check_sample(head); !valid) {
    return std::unexpected(valid.error());
  }
  if (base.size() != head.size()) {
    return vmm::failure(errc::unpaired_samples);
  }
  if (std::ranges::any_of(base, [](double x) { return x <= 0.0; }) ||
      std::ranges::any_of(head, [](double x) { return x <= 0.0; })) {
    return vmm::failure(errc::non_positive_sample);
  }
  // NOLINTNEXTLINE(readability-simplify-boolean-expr): the negated form is what rejects NaN
  if (!(confidence > 0.0 && confidence < 1.0)) {
    return vmm::failure(errc::invalid_confidence);
  }
  if (resamples == 0) {
    return vmm::failure(errc::zero_resamples);
  }
  std::vector<double> pair_ratios(base.size());
  for (std::size_t i = 0; i < base.size(); ++i) {
    pair_ratios[i] = head[i] / base[i];
  }
  std::vector<double> buffer(pair_ratios);
  const double ratio = median_in_place(buffer);
  std::mt19937_64 engine{seed};
  std::vector<double> medians;
  medians.reserve(resamples);
  for (std::size_t r = 0; r < resamples; ++r) {
    resample(pair_ratios, buffer, engine);
    medians.push_back(median_in_place(buffer));
  }
  std::ranges::sort(medians);
  const double tail = (1.0 - confidence) / 2.0;
  return ratio_interval{
      .ratio = ratio, .low = quantile_sorted(medians, tail), .high = quantile_sorted(medians, 1.0 - tail)};
}

auto benjamini_hochberg(std::span<const double> p_values, double q) -> vmm::result<std::vector<bh_decision>> {
  // NOLINTNEXTLINE(readability-simplify-boolean-expr): the negated form is what rejects NaN
  if (!(q > 0.0 && q <= 1.0)) {
    return vmm::failure(errc::invalid_rate);
  }
  if (!std::ranges::all_of(p_values, [](double p) { return p >= 0.0 && p <= 1.0; })) {
    return vmm::failure(errc::invalid_p_value);
  }
  const std::size_t m = p_values.size();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), std::size_t{0});  // NOLINT(modernize-use-ranges): not in libc++ 19
  std::ranges::stable_sort(order, {}, [&](std::size_t i) { return p_values[i]; });

  // Step-up: the largest rank k (1-based) with p_(k) <= k q / m; every p <= p_(k) is rejected.
  const auto count = static_cast<double>(m);
  std::optional<double> threshold;
  for (std::size_t k = m; k >= 1; --k) {
    const double p = p_values[order[k - 1]];
    if (p <= static_cast<double>(k) * q / count) {
      threshold = p;
      break;
    }
  }

  std::vector<bh_decision> decisions(m);
  double running_min = 1.0;
  for (std::size_t k = m; k >= 1; --k) {
    const std::size_t index = order[k - 1];
    const double p = p_values[index];
    running_min = std::min(running_min, p * count / static_cast<double>(k));
    decisions[index] = {.adjusted = running_min, .rejected = threshold.has_value() && p <= *threshold};
  }
  return decisions;
}

}  // namespace vmm::bench::stats
