module vmm.bench.changepoint;
import std;
import vmm.sys;

namespace vmm::bench::changepoint {
namespace {

class category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.bench.changepoint"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::non_finite_value:
        return "The series holds NaN or an infinity";
      case errc::invalid_significance:
        return "Significance must lie in (0, 1]";
      case errc::invalid_min_segment:
        return "Minimum segment length must be at least 2";
      case errc::zero_permutations:
        return "A permutation test needs at least one permutation";
      case errc::invalid_alpha:
        return "Distance exponent alpha must lie strictly between 0 and 2";
    }
    return "Unknown vmm.bench.changepoint error " + std::to_string(value);
  }
};

// A shuffle "reaches" the observed statistic when it is at least observed * (1 - tie_tolerance). The same statistic
// computed from a differently ordered but equivalent arrangement (a mirror image, equal values swapped) can differ in
// the last bits; counting those as ties keeps the test from calling a rounding difference significant. It can only
// raise p-values.
constexpr double tie_tolerance = 1e-9;

// The best split of one segment: `tau` values go left (tau is relative to the segment's first index).
struct split {
  std::size_t tau;
  double q;
};

// A half-open range [begin, end) of the series with no accepted change point inside.
struct segment {
  std::size_t begin;
  std::size_t end;

  [[nodiscard]] auto size() const -> std::size_t { return end - begin; }
};

// Whether `size` values hold two segments of min_segment (written so that 2 * min_segment cannot overflow).
auto splittable(std::size_t size, std::size_t min_segment) -> bool {
  return size / 2 >= min_segment;
}

// A uniform index in [0, bound) from the 64-bit engine, by rejection: discard draws below 2^64 mod bound so every
// residue is equally likely. std::uniform_int_distribution is not used because its algorithm is up to the library,
// and the permutations (so the result) must be the same for a seed everywhere. Same as vmm.bench.stats.
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

// Fisher–Yates with draw_index (std::shuffle's use of the engine is also up to the library).
void shuffle(std::span<std::size_t> values, std::mt19937_64& engine) {
  for (std::size_t i = values.size(); i > 1; --i) {
    std::swap(values[i - 1], values[draw_index(engine, i)]);
  }
}

// The pairwise distances |x_i - x_j|^alpha of a whole series (by original index), computed once for alpha != 1 so
// that a scan adds instead of calling std::pow N^2 / 2 times. Only up to matrix_limit values (32 MiB); longer series
// compute the distances in every scan.
constexpr std::size_t matrix_limit = 2048;

// One segment as a scan sees it: `sorted`, its values in ascending order; `ranks`, the rank (index into sorted) of the
// value at each position; `origin`, the series index of the value of each rank. A permutation test shuffles ranks.
struct segment_view {
  std::span<const std::size_t> ranks;
  std::span<const double> sorted;
  std::span<const std::size_t> origin;
};

// Finds the best split of a segment.
//
// For every tau it needs W_L(tau) and W_R(tau), the sums of pairwise distances within Z[0, tau) and Z[tau, N), and
// the between-sum B(tau) = T - W_L(tau) - W_R(tau) with T the sum over all pairs. W_L grows by the distances from
// the next value to those before it, W_R by the distances from a value to those after it, so one pass over those
// "row sums" gives every tau. With alpha = 1 the row sums come from a Fenwick tree over ranks (the distances from x to
// a set are x * count_below - sum_below + sum_above - x * count_above), O(N log N); otherwise from every pair, O(N^2).
class scanner {
 public:
  scanner(std::span<const double> series, double alpha, std::size_t min_segment)
      : alpha_{alpha}, min_segment_{min_segment} {
    if (alpha_ != 1.0 && series.size() <= matrix_limit) {
      stride_ = series.size();
      matrix_.assign(stride_ * stride_, 0.0);
      for (std::size_t i = 0; i < stride_; ++i) {
        for (std::size_t j = i + 1; j < stride_; ++j) {
          const double d = distance(series[i], series[j]);
          matrix_[(i * stride_) + j] = d;
          matrix_[(j * stride_) + i] = d;
        }
      }
    }
  }

  // The split with the largest Q (the first of equals), or nothing when the segment is shorter than 2 min_segment.
  [[nodiscard]] auto best_split(const segment_view& z) -> std::optional<split> {
    const std::size_t n = z.ranks.size();
    if (!splittable(n, min_segment_)) {
      return std::nullopt;
    }
    within_left_.assign(n + 1, 0.0);
    within_right_.assign(n + 1, 0.0);
    if (alpha_ == 1.0) {
      row_sums_absolute(z);
    } else {
      row_sums_power(z);
    }
    for (std::size_t t = n; t > 0; --t) {
      within_right_[t - 1] = within_right_[t] + after_[t - 1];
    }
    const double total = within_left_[n];
    std::optional<split> best;
    for (std::size_t tau = min_segment_; tau <= n - min_segment_; ++tau) {
      const auto m = static_cast<double>(tau);
      const auto k = static_cast<double>(n - tau);
      const double left = within_left_[tau];
      const double right = within_right_[tau];
      const double between = total - left - right;
      // m k / (m + k) * (2 B / (m k) - 2 W_L / (m (m - 1)) - 2 W_R / (k (k - 1))), with m k / (m + k) multiplied in.
      const double q = 2.0 / (m + k) * (between - (k * left / (m - 1.0)) - (m * right / (k - 1.0)));
      if (!best || q > best->q) {
        best = split{.tau = tau, .q = q};
      }
    }
    return best;
  }

 private:
  [[nodiscard]] auto distance(double x, double y) const -> double { return std::pow(std::abs(x - y), alpha_); }

  // Fills within_left_[t] = W_L(t) for t in [0, n] and after_[t], the distances from position t to those after it,
  // for alpha = 1.
  void row_sums_absolute(const segment_view& z) {
    const std::size_t n = z.ranks.size();
    // below_[r]: the sum of sorted[0, r), for the distances from a value to the whole segment.
    below_.assign(n + 1, 0.0);
    for (std::size_t r = 0; r < n; ++r) {
      below_[r + 1] = below_[r] + z.sorted[r];
    }
    tree_count_.assign(n + 1, 0);
    tree_sum_.assign(n + 1, 0.0);
    after_.assign(n, 0.0);
    double seen_sum = 0.0;
    for (std::size_t t = 0; t < n; ++t) {
      const std::size_t r = z.ranks[t];
      const double x = z.sorted[r];
      const auto [count_below, sum_below] = prefix(r);
      const auto count_above = static_cast<double>(t - count_below);
      const double to_earlier =
          (x * static_cast<double>(count_below)) - sum_below + (seen_sum - sum_below) - (x * count_above);
      const double to_all =
          (x * static_cast<double>(r)) - below_[r] + (below_[n] - below_[r + 1]) - (x * static_cast<double>(n - 1 - r));
      within_left_[t + 1] = within_left_[t] + to_earlier;
      after_[t] = to_all - to_earlier;
      insert(r, x);
      seen_sum += x;
    }
  }

  // Same as row_sums_absolute for any alpha, from every pair: looked up in matrix_ when there is one.
  void row_sums_power(const segment_view& z) {
    const std::size_t n = z.ranks.size();
    before_.assign(n, 0.0);
    after_.assign(n, 0.0);
    if (!matrix_.empty()) {
      origin_.resize(n);
      for (std::size_t t = 0; t < n; ++t) {
        origin_[t] = z.origin[z.ranks[t]];
      }
      for (std::size_t i = 0; i < n; ++i) {
        const std::span<const double> row{matrix_.data() + (origin_[i] * stride_), stride_};
        double sum = 0.0;
        for (std::size_t j = i + 1; j < n; ++j) {
          const double d = row[origin_[j]];
          sum += d;
          before_[j] += d;
        }
        after_[i] = sum;
      }
    } else {
      values_.resize(n);
      for (std::size_t t = 0; t < n; ++t) {
        values_[t] = z.sorted[z.ranks[t]];
      }
      for (std::size_t i = 0; i < n; ++i) {
        double sum = 0.0;
        for (std::size_t j = i + 1; j < n; ++j) {
          const double d = distance(values_[i], values_[j]);
          sum += d;
          before_[j] += d;
        }
        after_[i] = sum;
      }
    }
    for (std::size_t t = 0; t < n; ++t) {
      within_left_[t + 1] = within_left_[t] + before_[t];
    }
  }

  // Fenwick tree over ranks (1-based inside): how many values of rank below r were inserted, and their sum.
  [[nodiscard]] auto prefix(std::size_t r) const -> std::pair<std::size_t, double> {
    std::size_t count = 0;
    double sum = 0.0;
    for (std::size_t i = r; i > 0; i &= i - 1) {
      count += tree_count_[i];
      sum += tree_sum_[i];
    }
    return {count, sum};
  }

  void insert(std::size_t r, double x) {
    for (std::size_t i = r + 1; i < tree_count_.size(); i += i & (~i + 1)) {
      ++tree_count_[i];
      tree_sum_[i] += x;
    }
  }

  double alpha_;
  std::size_t min_segment_;
  std::size_t stride_ = 0;
  std::vector<double> matrix_;
  std::vector<double> within_left_;
  std::vector<double> within_right_;
  std::vector<double> below_;
  std::vector<double> before_;
  std::vector<double> after_;
  std::vector<double> values_;
  std::vector<std::size_t> origin_;
  std::vector<std::size_t> tree_count_;
  std::vector<double> tree_sum_;
};

// Every segment of the current partition, ready for scanning: for positions [begin, end) of a segment,
// sorted[begin, end) holds its values in ascending order, centred on its median (fewer cancellations in the alpha = 1
// sums), ranks[begin, end) the rank of the value at each position, origin[begin, end) the index of each rank's value.
struct prepared {
  std::vector<double> sorted;
  std::vector<std::size_t> ranks;
  std::vector<std::size_t> origin;

  [[nodiscard]] auto view(const segment& s, std::span<const std::size_t> shuffled) const -> segment_view {
    return {.ranks = shuffled.subspan(s.begin, s.size()),
            .sorted = std::span{sorted}.subspan(s.begin, s.size()),
            .origin = std::span{origin}.subspan(s.begin, s.size())};
  }
};

auto prepare(std::span<const double> values, std::span<const segment> segments) -> prepared {
  prepared out{.sorted = std::vector<double>(values.size()),
               .ranks = std::vector<std::size_t>(values.size()),
               .origin = std::vector<std::size_t>(values.size())};
  std::vector<std::size_t> order;
  for (const segment& s : segments) {
    order.resize(s.size());
    std::iota(order.begin(), order.end(), s.begin);  // NOLINT(modernize-use-ranges): not in libc++ 19
    std::ranges::stable_sort(order, {}, [&](std::size_t i) { return values[i]; });
    const double centre = values[order[order.size() / 2]];
    for (std::size_t r = 0; r < order.size(); ++r) {
      out.sorted[s.begin + r] = values[order[r]] - centre;
      out.ranks[order[r]] = r;
      out.origin[s.begin + r] = order[r];
    }
  }
  return out;
}

// The largest Q over all segments (the first of equals), with the segment it is in.
auto best_over_segments(std::span<const segment> segments, const prepared& p, std::span<const std::size_t> ranks,
                        scanner& scan) -> std::optional<std::pair<std::size_t, split>> {
  std::optional<std::pair<std::size_t, split>> best;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto candidate = scan.best_split(p.view(segments[i], ranks));
    if (candidate && (!best || candidate->q > best->second.q)) {
      best = std::pair{i, *candidate};
    }
  }
  return best;
}

auto p_value_of(std::size_t reached, std::size_t permutations) -> double {
  return (static_cast<double>(reached) + 1.0) / (static_cast<double>(permutations) + 1.0);
}

// The permutation test of an observed best statistic: the p-value, or nothing once it is certain to exceed
// significance (later shuffles could only raise it).
auto permutation_test(double observed, std::span<const segment> segments, const prepared& p, const options& opts,
                      std::mt19937_64& engine, scanner& scan) -> std::optional<double> {
  if (p_value_of(0, opts.permutations) > opts.significance) {
    return std::nullopt;  // too few permutations to ever reach significance
  }
  const double threshold = observed - (tie_tolerance * std::abs(observed));
  std::vector<std::size_t> shuffled = p.ranks;
  std::size_t reached = 0;
  for (std::size_t round = 0; round < opts.permutations; ++round) {
    for (const segment& s : segments) {
      if (splittable(s.size(), opts.min_segment)) {
        shuffle(std::span{shuffled}.subspan(s.begin, s.size()), engine);
      }
    }
    // Only whether the largest Q reaches the threshold matters, so the first segment that reaches it settles it.
    const bool reaches = std::ranges::any_of(segments, [&](const segment& s) {
      const auto candidate = scan.best_split(p.view(s, shuffled));
      return candidate && candidate->q >= threshold;
    });
    if (reaches) {
      ++reached;
      if (p_value_of(reached, opts.permutations) > opts.significance) {
        return std::nullopt;
      }
    }
  }
  return p_value_of(reached, opts.permutations);
}

auto check_options(const options& opts) -> vmm::result<void> {
  // NOLINTNEXTLINE(readability-simplify-boolean-expr): the negated form is what rejects NaN
  if (!(opts.significance > 0.0 && opts.significance <= 1.0)) {
    return vmm::failure(errc::invalid_significance);
  }
  if (opts.permutations == 0) {
    return vmm::failure(errc::zero_permutations);
  }
  if (opts.min_segment < 2) {
    return vmm::failure(errc::invalid_min_segment);
  }
  // NOLINTNEXTLINE(readability-simplify-boolean-expr): the negated form is what rejects NaN
  if (!(opts.alpha > 0.0 && opts.alpha < 2.0)) {
    return vmm::failure(errc::invalid_alpha);
  }
  return {};
}

// Of scaled values (each in [-1, 1]), so the sum cannot overflow.
auto mean_of(std::span<const double> values) -> double {
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// std::midpoint, so two huge middle values cannot overflow.
auto median_of(std::span<const double> values) -> double {
  std::vector<double> copy(values.begin(), values.end());
  const auto mid = copy.begin() + static_cast<std::ptrdiff_t>(copy.size() / 2);
  std::ranges::nth_element(copy, mid);
  if (copy.size() % 2 != 0) {
    return *mid;
  }
  return std::midpoint(*std::ranges::max_element(copy.begin(), mid), *mid);
}

}  // namespace

auto changepoint_category() noexcept -> const std::error_category& {
  static const category instance;
  return instance;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), changepoint_category()};
}

auto e_divisive(std::span<const double> series, const options& opts) -> vmm::result<std::vector<change_point>> {
  if (auto valid = check_options(opts); !valid) {
    return std::unexpected(valid.error());
  }
  if (!std::ranges::all_of(series, [](double x) { return std::isfinite(x); })) {
    return vmm::failure(errc::non_finite_value);
  }
  std::vector<change_point> found;
  if (!splittable(series.size(), opts.min_segment)) {
    return found;
  }

  // Work on the series divided by a power of two that brings every value into [-1, 1]: exact, and no distance can
  // overflow (1e308 - -1e308 would). Q scales by that power to the alpha, split positions and p-values not at all.
  const double largest = std::ranges::max(series, {}, [](double x) { return std::abs(x); });
  const int exponent = largest == 0.0 ? 0 : std::ilogb(std::abs(largest)) + 1;
  std::vector<double> scaled(series.size());
  std::ranges::transform(series, scaled.begin(), [&](double x) { return std::ldexp(x, -exponent); });
  const auto unscale = [&](double q) {
    return opts.alpha == 1.0 ? std::ldexp(q, exponent) : q * std::exp2(static_cast<double>(exponent) * opts.alpha);
  };

  std::vector<segment> segments{{.begin = 0, .end = series.size()}};
  std::mt19937_64 engine{opts.seed};
  scanner scan{scaled, opts.alpha, opts.min_segment};
  while (true) {
    const prepared p = prepare(scaled, segments);
    const auto best = best_over_segments(segments, p, p.ranks, scan);
    if (!best) {
      break;
    }
    const auto [which, at] = *best;
    const auto p_value = permutation_test(at.q, segments, p, opts, engine, scan);
    if (!p_value) {
      break;
    }
    const segment whole = segments[which];
    const std::size_t index = whole.begin + at.tau;
    found.push_back({.index = index,
                     .p_value = *p_value,
                     .statistic = unscale(at.q),
                     .before_mean = 0.0,
                     .after_mean = 0.0,
                     .before_median = 0.0,
                     .after_median = 0.0});
    segments[which].end = index;
    segments.insert(segments.begin() + static_cast<std::ptrdiff_t>(which) + 1,
                    segment{.begin = index, .end = whole.end});
  }

  // Segments stay sorted and contiguous, so change point k (in index order) lies between segments k and k + 1.
  std::ranges::sort(found, {}, &change_point::index);
  for (std::size_t k = 0; k < found.size(); ++k) {
    const segment before = segments[k];
    const segment after = segments[k + 1];
    found[k].before_mean = std::ldexp(mean_of(std::span{scaled}.subspan(before.begin, before.size())), exponent);
    found[k].after_mean = std::ldexp(mean_of(std::span{scaled}.subspan(after.begin, after.size())), exponent);
    found[k].before_median = median_of(series.subspan(before.begin, before.size()));
    found[k].after_median = median_of(series.subspan(after.begin, after.size()));
  }
  return found;
}

}  // namespace vmm::bench::changepoint
