// vmm.bench.changepoint — where a benchmark's history changed level.
//
// The nightly pipeline keeps one value per benchmark per commit. `vmm-bench detect` asks which commits moved a
// benchmark, by how much, and how sure we are, without being fooled by noise that is skewed, heavy-tailed or
// bimodal. e_divisive answers with E-divisive means (Matteson & James 2014, the method of MongoDB's signal
// processing and Apache Otava): hierarchical bisection on the energy statistic, each new split kept only when a
// permutation test says it is significant. It assumes no distribution, finds any number of change points, and is
// deterministic for a seed.
//
// It deliberately does not read benchmark history, map indices to commits, decide whether a change is a regression or
// an improvement, or print anything: vmm-bench does. It validates its input and returns vmm::result; it never throws.
export module vmm.bench.changepoint;
import std;
import vmm.sys;

export namespace vmm::bench::changepoint {

/// Failures e_divisive detects in its input.
enum class errc : std::uint8_t {
  non_finite_value = 1,  ///< the series holds NaN or an infinity
  invalid_significance,  ///< options::significance is not in (0, 1]
  invalid_min_segment,   ///< options::min_segment is below 2 (a segment needs a pair for its within-distance)
  zero_permutations,     ///< options::permutations is 0
  invalid_alpha,         ///< options::alpha is not strictly between 0 and 2
};

/// The category of vmm::bench::changepoint::errc, named "vmm.bench.changepoint".
[[nodiscard]] auto changepoint_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from an errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

/// How e_divisive searches and when it stops.
struct options {
  /// A candidate split is kept when its permutation p-value is <= significance; the first candidate that is not
  /// kept ends the search. In (0, 1]; 1 keeps every candidate (segment as far as min_segment allows).
  double significance = 0.01;
  /// Resamples of the permutation test of each candidate. At least 1; the smallest p-value possible is
  /// 1 / (permutations + 1), so significance 0.01 needs at least 99 (with fewer nothing is ever significant). The
  /// work grows linearly with it: the caller bounds it.
  std::size_t permutations = 199;
  /// No segment (between two change points, or between a change point and an end) is shorter than this. At least 2.
  std::size_t min_segment = 3;
  /// The exponent of the distance |x - y|^alpha, strictly between 0 and 2. 1 (the default) compares whole
  /// distributions and takes the fast path; values near 2 weigh differences of the means more.
  double alpha = 1.0;
  /// Seed of the std::mt19937_64 that draws the permutations: the result is the same for a seed with every
  /// standard library.
  std::uint64_t seed = 1;
};

/// One significant change in level.
struct change_point {
  /// The first index of the new segment: the change happened between series[index - 1] and series[index].
  std::size_t index;
  /// The permutation p-value when the split was accepted: (1 + the number of permuted series whose best statistic
  /// is >= statistic) / (permutations + 1).
  double p_value;
  /// The scaled energy statistic q-hat of the split, in the series' units raised to alpha (see e_divisive).
  double statistic;
  double before_mean;    ///< mean of the segment that ends at index - 1 (after all splits)
  double after_mean;     ///< mean of the segment that starts at index (after all splits)
  double before_median;  ///< median of the segment that ends at index - 1 (after all splits)
  double after_median;   ///< median of the segment that starts at index (after all splits)
};

/// Change points of `series` (one value per commit, in commit order) by E-divisive means, sorted by index.
///
/// The search starts with the whole series as one segment. In every round it finds, in every segment Z of length
/// N >= 2 min_segment, the split tau (left X = Z[0, tau), size m; right Y = Z[tau, N), size n; m, n >= min_segment)
/// maximising
///   Q(tau) = m n / (m + n) * (2 / (m n) sum |x_i - y_j|^a - 1 / C(m, 2) sum_{i<k} |x_i - x_k|^a
///                             - 1 / C(n, 2) sum_{j<k} |y_j - y_k|^a),
/// takes the largest over all segments (ties: the lowest index), and tests it: each of `permutations` times, every
/// segment is shuffled within itself and the largest Q over all segments recomputed. The p-value counts the shuffles
/// that reach the observed Q (within a relative 1e-9, which only makes the test more conservative). The split is
/// kept when p <= significance, and the search goes on; otherwise it stops. Shuffles stop early once the p-value can
/// no longer reach significance.
///
/// Because the right part of every split runs to the end of its segment (as in MongoDB's implementation), a short
/// excursion in the middle of a long segment (a regression fixed a few commits later) can go unnoticed; a step near
/// either end is found (see docs/changepoint.md for measured rates).
///
/// Fewer than 2 min_segment values (including an empty series) and constant series give no change points, not an
/// error. Work: at most (change points found + 1) * (permutations + 1) scans of all segments, each O(N log N) for
/// alpha 1 and O(N^2) otherwise; memory O(N), plus an N x N distance matrix for alpha != 1 and N <= 2048 (32 MiB).
/// Errors: invalid_significance, zero_permutations, invalid_min_segment, invalid_alpha for bad options (checked in
/// that order), then non_finite_value when the series holds NaN or an infinity.
[[nodiscard]] auto e_divisive(std::span<const double> series, const options& opts = {})
    -> vmm::result<std::vector<change_point>>;

}  // namespace vmm::bench::changepoint

template <>
struct std::is_error_code_enum<vmm::bench::changepoint::errc> : std::true_type {};
