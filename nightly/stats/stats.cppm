// vmm.bench.stats — the statistics behind the benchmark PR gate.
//
// A PR gate compares, for every benchmark, repeated timings of the base commit with repeated timings of the head
// commit, and must answer three questions without being fooled by noise:
//   - "Is head different?"  mann_whitney_u: a rank test that assumes no distribution (timings are skewed and
//     heavy-tailed), exact for small tie-free samples, normal approximation with tie correction otherwise.
//   - "By how much?"  bootstrap_ratio_of_medians: median(head) / median(base) with a percentile bootstrap confidence
//     interval, so a report says "1.08x [1.05, 1.11]" rather than a bare number. Deterministic for a seed.
//   - "Which of the many differences are real?"  benjamini_hochberg: one gate tests dozens of benchmarks at once;
//     controlling the false discovery rate across all of them keeps a noisy run from flagging a handful by chance.
//
// It deliberately does not read benchmark output, decide pass/fail thresholds, or print anything: vmm-bench does.
// Every function validates its input and returns vmm::result; none throws or allocates beyond its own buffers.
export module vmm.bench.stats;
import std;
import vmm.sys;

export namespace vmm::bench::stats {

/// Failures the statistics functions detect in their input.
enum class errc : std::uint8_t {
  too_few_samples = 1,  ///< a sample is empty (every function needs at least one observation per sample)
  non_finite_sample,    ///< a sample holds NaN or an infinity
  invalid_confidence,   ///< a confidence level is not strictly between 0 and 1
  invalid_rate,         ///< a false discovery rate q is not in (0, 1]
  invalid_p_value,      ///< a p-value is NaN or outside [0, 1]
  zero_resamples,       ///< a bootstrap was asked for zero resamples
  zero_base_median,     ///< the base median (of the sample or of a resample) is 0, so the ratio is undefined
  unpaired_samples,     ///< a paired function got samples of different sizes
  non_positive_sample,  ///< a ratio of paired samples needs positive values (a time of 0 or less)
};

/// The category of vmm::bench::stats::errc, named "vmm.bench.stats".
[[nodiscard]] auto stats_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from an errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

/// The median of `sample` (the mean of the two middle values for an even count).
/// Errors: too_few_samples when empty, non_finite_sample for NaN or infinities.
[[nodiscard]] auto median(std::span<const double> sample) -> vmm::result<double>;

/// The outcome of a two-sided Mann–Whitney U test.
struct mann_whitney_result {
  /// U for the first sample: the number of pairs (a_i, b_j) with a_i > b_j, ties counting one half. The U of the
  /// second sample is n1 * n2 - u.
  double u;
  /// The standardised statistic (u - n1 n2 / 2 -/+ 0.5) / sigma, with continuity correction 0.5 towards the mean
  /// (0 when |u - mean| <= 0.5) and the tie-corrected sigma^2 = n1 n2 / 12 * ((n + 1) - sum(t^3 - t) / (n (n - 1))).
  /// Positive when the first sample tends to be larger. 0 when sigma is 0 (every value equal).
  double z;
  /// Two-sided p-value: from the exact null distribution of U when `exact`, otherwise erfc(|z| / sqrt 2).
  double p_value;
  /// True when p_value comes from the exact distribution: both samples have at most 30 values and no value occurs
  /// twice in the pooled sample. Otherwise the normal approximation (with tie and continuity correction) is used.
  bool exact;
};

/// Two-sided Mann–Whitney U (Wilcoxon rank-sum) test of whether `a` and `b` come from the same distribution. Ties get
/// average ranks. The exact p-value is 2 * min(P(U <= u), P(U >= u)), capped at 1.
/// Errors: too_few_samples when either sample is empty, non_finite_sample for NaN or infinities.
[[nodiscard]] auto mann_whitney_u(std::span<const double> a, std::span<const double> b)
    -> vmm::result<mann_whitney_result>;

/// A ratio with the bounds of its confidence interval.
struct ratio_interval {
  double ratio;  ///< median(head) / median(base) of the samples as given
  double low;    ///< lower percentile bound of the bootstrap ratios
  double high;   ///< upper percentile bound of the bootstrap ratios
};

/// median(head) / median(base) with a percentile bootstrap confidence interval: `resamples` times, base and head are
/// each resampled with replacement (independently, each to its own size) and the ratio of their medians recorded;
/// low and high are the (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of those ratios (linear
/// interpolation between order statistics). The draws come from std::mt19937_64 seeded with `seed` and an unbiased
/// rejection-sampled index, so the result is the same for a seed with every standard library.
/// Errors: too_few_samples for an empty sample, non_finite_sample for NaN or infinities, invalid_confidence unless
/// 0 < confidence < 1, zero_resamples for resamples == 0, zero_base_median when median(base) or the median of a base
/// resample is 0.
[[nodiscard]] auto bootstrap_ratio_of_medians(std::span<const double> base, std::span<const double> head,
                                              double confidence, std::size_t resamples, std::uint64_t seed)
    -> vmm::result<ratio_interval>;

/// The outcome of a two-sided Wilcoxon signed-rank test.
struct signed_rank_result {
  /// W+: the sum of the ranks of |d| over the positive differences (ties get average ranks; zeros are dropped).
  double w_plus;
  /// The number of non-zero differences the test used.
  std::size_t n;
  /// (W+ - n (n + 1) / 4 -/+ 0.5) / sigma with continuity correction towards the mean (0 within 0.5 of it), and
  /// sigma^2 = n (n + 1) (2n + 1) / 24 - sum(t^3 - t) / 48 over tied |d|. Positive when differences tend to be
  /// positive; 0 when n is 0 or sigma is 0.
  double z;
  /// Two-sided p-value: exact (2 * min(P(W+ <= w), P(W+ >= w)), capped at 1) when `exact`, else erfc(|z| / sqrt 2);
  /// 1 when every difference is 0.
  double p_value;
  /// True when n <= 30 and no two |d| are equal: the p-value comes from the exact null distribution of W+.
  bool exact;
};

/// Two-sided Wilcoxon signed-rank test of whether `differences` are symmetric about 0: the paired counterpart of
/// mann_whitney_u, for samples taken in pairs (a base and a head measured back to back in one round of the PR gate),
/// where whatever the pair shares (the machine's speed at that moment) cancels in the difference.
/// Errors: too_few_samples when empty, non_finite_sample for NaN or infinities.
[[nodiscard]] auto wilcoxon_signed_rank(std::span<const double> differences) -> vmm::result<signed_rank_result>;

/// The outcome of a two-sided exact sign test.
struct sign_test_result {
  std::size_t positive;  ///< differences above 0
  std::size_t n;         ///< non-zero differences (zeros are dropped)
  /// 2 * P(X <= min(positive, n - positive)) for X ~ Binomial(n, 1/2), capped at 1; 1 when n is 0.
  double p_value;
};

/// Two-sided exact sign test of whether `differences` have median 0: it counts signs only, so one pair spoiled by a
/// burst of load (a huge difference of either sign) weighs no more than any other. It is the test that matches
/// bootstrap_median_of_ratios: both are about the median pair.
/// Errors: too_few_samples when empty, non_finite_sample for NaN or infinities.
[[nodiscard]] auto sign_test(std::span<const double> differences) -> vmm::result<sign_test_result>;

/// The median over pairs of head[i] / base[i], with a percentile bootstrap confidence interval over resampled pairs
/// (pairs are drawn with replacement, `resamples` times; quantiles and engine as bootstrap_ratio_of_medians). The
/// paired counterpart of bootstrap_ratio_of_medians: a slow drift of the machine moves both members of a pair and
/// cancels in their ratio.
/// Errors: too_few_samples for empty samples, unpaired_samples for different sizes, non_finite_sample,
/// non_positive_sample for a value <= 0, invalid_confidence, zero_resamples.
[[nodiscard]] auto bootstrap_median_of_ratios(std::span<const double> base, std::span<const double> head,
                                              double confidence, std::size_t resamples, std::uint64_t seed)
    -> vmm::result<ratio_interval>;

/// The Benjamini–Hochberg verdict on one hypothesis.
struct bh_decision {
  /// The BH-adjusted p-value: min over k >= i of p_(k) * m / k (ranks i, k in ascending p order), capped at 1.
  double adjusted;
  /// Whether the step-up procedure rejects it: p <= p_(k*), where k* is the largest k with p_(k) <= k q / m.
  bool rejected;
};

/// Benjamini–Hochberg step-up procedure at false discovery rate `q` over `p_values`; one decision per input, in input
/// order. Equal p-values get equal decisions. An empty input gives an empty result.
/// Errors: invalid_p_value for a p-value that is NaN or outside [0, 1], invalid_rate unless 0 < q <= 1.
[[nodiscard]] auto benjamini_hochberg(std::span<const double> p_values, double q)
    -> vmm::result<std::vector<bh_decision>>;

}  // namespace vmm::bench::stats

template <>
struct std::is_error_code_enum<vmm::bench::stats::errc> : std::true_type {};
