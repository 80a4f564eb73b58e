// vmm-bench compare: the PR gate. Measures base and head interleaved in one job and fails only for a statistically
// established regression that reaches its threshold. The method and its measured power: docs/pr-gate.md.
module;
#include <nlohmann/json.hpp>
module vmm.bench.tool;
import std;
import vmm.bench.results;
import vmm.bench.stats;

namespace vmm::bench::tool {
namespace {

namespace stats = vmm::bench::stats;

struct side {
  std::string label;  // "base" or "head"
  std::filesystem::path build;
  std::vector<std::string> env;
  std::map<std::string, std::vector<double>> samples;  // benchmark key → primary time of each round (ns)
};

struct verdict_row {
  std::string key;
  double base_median = 0;
  double head_median = 0;
  stats::ratio_interval ratio{};
  double p_value = 1;     // exact sign test over the rounds' pairs
  double p_unpaired = 1;  // Mann–Whitney U of the two samples, for reference (not used by the verdict)
  double p_adjusted = 1;
  double threshold = 0;
  std::size_t base_n = 0;
  std::size_t head_n = 0;
  std::string verdict;
  bool regression = false;
};

// Checks out `ref` into `dir` as a detached git worktree of `source` and builds its release preset there.
auto build_ref(const std::filesystem::path& source, const std::string& ref, const std::filesystem::path& dir,
               const std::string& cmake) -> std::filesystem::path {
  const auto log = dir.parent_path() / (dir.filename().string() + ".log");
  std::filesystem::create_directories(dir.parent_path());
  const auto step = [&](const std::vector<std::string>& argv, const std::filesystem::path& cwd, std::string_view what) {
    std::println(std::cerr, "vmm-bench compare: {} ({})", what, ref);
    if (run_process(argv, {}, log, log, cwd) != 0) {
      throw failure{std::format("{} failed for {}; its output: {}\n{}", what, ref, log.string(), slurp(log))};
    }
  };
  if (std::filesystem::exists(dir)) {
    // A worktree of an earlier compare: remove it (and its registration) so the ref is checked out fresh.
    run_process({"git", "-C", source.string(), "worktree", "remove", "--force", dir.string()}, {}, {}, {});
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    run_process({"git", "-C", source.string(), "worktree", "prune"}, {}, {}, {});
  }
  step({"git", "-C", source.string(), "worktree", "add", "--force", "--detach", dir.string(), ref}, {}, "checking out");
  step({cmake, "--preset", "release"}, dir, "configuring");
  step({cmake, "--build", "--preset", "release"}, dir, "building");
  return dir / "build" / "release";
}

auto markdown_escape(std::string_view text) -> std::string {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '|':
        out += "\\|";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '`':
        out += '\'';
        break;
      case '\n':
      case '\r':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

// The verdict of a benchmark that cannot be tested, or an empty string when it can.
auto untestable(const std::vector<double>& a, const std::vector<double>& b) -> std::string {
  if (a.empty()) {
    return "new (not gated)";
  }
  if (b.empty()) {
    return "removed";
  }
  if (a.size() < 3 || b.size() < 3) {
    return "too few rounds";
  }
  if (a.size() != b.size()) {
    return "not tested: base and head ran a different number of rounds";
  }
  return {};
}

// Tests one benchmark's pairs: fills p_value, p_unpaired and ratio and returns true, or sets the verdict to why it
// could not be tested and returns false.
auto test_pairs(verdict_row& row, const std::vector<double>& a, const std::vector<double>& b, double confidence,
                std::uint64_t seed) -> bool {
  // Round i's base and head ran back to back: the test and the interval work on their pairs, so that whatever the
  // machine did to both (a slow phase, a noisy neighbour) cancels in the pair's ratio.
  std::vector<double> log_ratios;
  log_ratios.reserve(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    log_ratios.push_back(a[i] > 0 && b[i] > 0 ? std::log(b[i] / a[i]) : 0.0);
  }
  const auto sign = stats::sign_test(log_ratios);
  const auto ci = stats::bootstrap_median_of_ratios(a, b, confidence, 2000, seed);
  const auto mw = stats::mann_whitney_u(b, a);
  std::error_code problem;
  if (!sign) {
    problem = sign.error();
  } else if (!ci) {
    problem = ci.error();
  } else if (!mw) {
    problem = mw.error();
  }
  if (problem) {
    row.verdict = std::format("not tested: {}", problem.message());
    return false;
  }
  row.p_value = sign->p_value;
  row.p_unpaired = mw->p_value;
  row.ratio = *ci;
  return true;
}

// The verdict of a tested benchmark once Benjamini-Hochberg has decided on it.
void decide(verdict_row& row, const stats::bh_decision& d) {
  row.p_adjusted = d.adjusted;
  if (!d.rejected) {
    row.verdict = "unchanged";
  } else if (row.ratio.ratio < 1) {
    row.verdict = "faster";
  } else if (row.ratio.high >= 1 + row.threshold) {
    // Established slower, and a slowdown of at least the threshold is within the interval.
    row.verdict = "regression";
    row.regression = true;
  } else {
    row.verdict = "slower, below threshold";
  }
}

auto analyse(side& base, side& head, const results::manifest& manifest, double confidence, double fdr,
             std::uint64_t seed) -> std::vector<verdict_row> {
  std::set<std::string> keys;
  for (const auto* s : {&base, &head}) {
    for (const auto& [key, samples] : s->samples) {
      keys.insert(key);
    }
  }
  std::vector<verdict_row> rows;
  std::vector<double> p_values;
  std::vector<std::size_t> tested;
  for (const auto& key : keys) {
    verdict_row row;
    row.key = key;
    const auto slash = key.find('/');
    row.threshold = manifest.threshold(key.substr(0, slash), key.substr(slash + 1));
    const auto& a = base.samples[key];
    const auto& b = head.samples[key];
    row.base_n = a.size();
    row.head_n = b.size();
    row.base_median = a.empty() ? 0 : stats::median(a).value_or(0);
    row.head_median = b.empty() ? 0 : stats::median(b).value_or(0);
    row.verdict = untestable(a, b);
    if (row.verdict.empty() && test_pairs(row, a, b, confidence, seed)) {
      p_values.push_back(row.p_value);
      tested.push_back(rows.size());
    }
    rows.push_back(std::move(row));
  }
  const auto decisions = stats::benjamini_hochberg(p_values, fdr);
  if (!decisions) {
    throw failure{std::format("Benjamini-Hochberg: {}", decisions.error().message())};
  }
  for (std::size_t i = 0; i < tested.size(); ++i) {
    decide(rows[tested[i]], (*decisions)[i]);
  }
  return rows;
}

auto write_text(const std::filesystem::path& path, const std::string& text) -> void {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  if (!out || !(out << text) || !out.flush()) {
    throw failure{std::format("{}: cannot write the file", path.string())};
  }
}

// One benchmark the gate measures, and which sides have it.
struct item {
  std::filesystem::path executable;  // relative to a build directory
  std::string name;
  bool in_base = false;
  bool in_head = false;
};

// The benchmarks of each side: head's must all exist; base may lack an executable or a benchmark that head adds
// (reported as new), and head may lack one that base has (reported as removed).
auto list_items(const std::vector<std::pair<std::string, std::string>>& plan, const side& base, const side& head)
    -> std::vector<item> {
  std::vector<item> items;
  for (const auto& [executable, filter] : plan) {
    const auto head_exe = head.build / executable;
    if (!std::filesystem::exists(head_exe)) {
      throw failure{std::format("head has no bench executable {} (was it built?)", head_exe.string())};
    }
    std::vector<std::string> base_names;
    if (std::filesystem::exists(base.build / executable)) {
      base_names = list_benchmarks(base.build / executable, filter, base.env);
    }
    const auto head_names = list_benchmarks(head_exe, filter, head.env);
    for (const auto& name : head_names) {
      items.push_back({.executable = executable,
                       .name = name,
                       .in_base = std::ranges::contains(base_names, name),
                       .in_head = true});
    }
    for (const auto& name : base_names) {
      if (!std::ranges::contains(head_names, name)) {
        items.push_back({.executable = executable, .name = name, .in_base = true, .in_head = false});
      }
    }
  }
  return items;
}

// Measures `it` once on side `s` and appends the sample.
void measure_once(side& s, const item& it, bench_settings& settings, const std::filesystem::path& scratch) {
  settings.env = s.env;
  const auto exe = s.build / it.executable;
  bool found = false;
  for (const auto& b :
       run_bench(exe, std::format("^{}$", results::regex_escape(it.name)), settings, scratch).benchmarks) {
    if (b.name == it.name) {
      s.samples[b.key()].push_back(median_primary_time(b));
      found = true;
    }
  }
  if (!found) {
    throw failure{std::format("{} did not report {} although it lists it", exe.string(), it.name)};
  }
}

// Interleaved rounds. In every round each benchmark is measured once per side, base and head back to back (one
// process each), so that the two measurements of a pair lie a fraction of a second apart: this machine's speed
// drifts over seconds (other tenants, the host's frequency), and what it does to both members cancels in their
// ratio. The order alternates between rounds and between neighbouring benchmarks (AB, BA, ...), so neither side
// always runs first.
//
// Each round's sample of a benchmark is the median of its `repetitions` (default 1) in one process. One short
// repetition keeps the pair's two measurements closest in time, which measured less noisy here than the median of
// three (docs/pr-gate.md); the sign test already shrugs off the odd spoiled round.
void measure_rounds(const std::vector<item>& items, std::size_t rounds, bench_settings settings, side& base,
                    side& head) {
  const scratch_dir scratch;
  const auto started = std::chrono::steady_clock::now();
  for (std::size_t round = 0; round < rounds; ++round) {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
    const auto left = round == 0
                          ? std::string{"?"}
                          : format_duration(elapsed / static_cast<double>(round) * static_cast<double>(rounds - round));
    std::println(std::cerr, "vmm-bench compare: round {}/{} (elapsed {}, about {} left)", round + 1, rounds,
                 format_duration(elapsed), left);
    for (std::size_t j = 0; j < items.size(); ++j) {
      const auto& it = items[j];
      for (auto* s : (round + j) % 2 == 0 ? std::array{&base, &head} : std::array{&head, &base}) {
        if (s == &base ? it.in_base : it.in_head) {
          measure_once(*s, it, settings, scratch.path());
        }
      }
    }
  }
}

// The PR comment: a verdict line, the table, and how to read it.
auto markdown_summary(const std::vector<verdict_row>& rows, std::string_view profile, std::size_t rounds,
                      double confidence, double fdr) -> std::string {
  const auto regressions = std::ranges::count_if(rows, &verdict_row::regression);
  std::string md;
  md += std::format("## Benchmark gate: {} profile, {} interleaved rounds\n\n", profile, rounds);
  md += regressions > 0 ? std::format("**FAIL**: {} regression{} beyond {} threshold.\n\n", regressions,
                                      regressions == 1 ? "" : "s", regressions == 1 ? "its" : "their")
                        : std::string{"**PASS**: no regression beyond its threshold.\n\n"};
  md += std::format("| benchmark | base | head | head/base [{:g} % CI] | p (BH) | threshold | verdict |\n",
                    confidence * 100);
  md += "|---|---:|---:|---:|---:|---:|---|\n";
  for (const auto& row : rows) {
    const auto ratio = row.p_adjusted < 1 || row.verdict == "unchanged"
                           ? std::format("{:.3f} [{:.3f}, {:.3f}]", row.ratio.ratio, row.ratio.low, row.ratio.high)
                           : std::string{"–"};
    md += std::format("| {} | {} | {} | {} | {:.2g} | {:g} % | {}{} |\n", markdown_escape(row.key),
                      row.base_n > 0 ? format_time(row.base_median) : "–",
                      row.head_n > 0 ? format_time(row.head_median) : "–", ratio, row.p_adjusted, row.threshold * 100,
                      row.regression ? "❌ " : "", row.verdict);
  }
  md += std::format(
      "\nEach round ran base and head back to back. Per benchmark: exact sign test over the rounds' "
      "head/base ratios, Benjamini–Hochberg at q = {:g} across all {}, bootstrap interval of the median ratio. A "
      "regression is a significant slowdown whose interval reaches the threshold.\n",
      fdr, rows.size());
  return md;
}

// The --json document: every verdict with its numbers and every round's samples.
auto json_summary(const std::vector<verdict_row>& rows, side& base, side& head, std::string_view profile,
                  std::size_t rounds) -> std::string {
  nlohmann::json doc{
      {"profile", profile}, {"rounds", rounds}, {"regressions", std::ranges::count_if(rows, &verdict_row::regression)}};
  auto& list = doc["benchmarks"] = nlohmann::json::array();
  for (const auto& row : rows) {
    list.push_back({{"benchmark", row.key},
                    {"base_median", row.base_median},
                    {"head_median", row.head_median},
                    {"base_n", row.base_n},
                    {"head_n", row.head_n},
                    {"ratio", row.ratio.ratio},
                    {"low", row.ratio.low},
                    {"high", row.ratio.high},
                    {"p_value", row.p_value},
                    {"p_mann_whitney", row.p_unpaired},
                    {"p_adjusted", row.p_adjusted},
                    {"threshold", row.threshold},
                    {"verdict", row.verdict},
                    {"regression", row.regression},
                    {"base_samples", base.samples[row.key]},
                    {"head_samples", head.samples[row.key]}});
  }
  return doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// Fills in both sides' build directories (building refs in worktrees where asked) and returns the manifest's path.
auto prepare_sides(const options& opts, const std::filesystem::path& source, side& base, side& head)
    -> std::filesystem::path {
  if (opts.has("base-build")) {
    base.build = opts.get_or("base-build", "");
    head.build = opts.get_or("head-build", "");
    return opts.get_or("manifest", (source / "benches" / "manifest.json").string());
  }
  const std::filesystem::path work = opts.get("work").value_or((source / "build" / "compare").string());
  const auto cmake = opts.get_or("cmake", "cmake");
  base.build = build_ref(source, opts.get_or("base-ref", ""), work / "base", cmake);
  if (const auto head_ref = opts.get("head-ref")) {
    head.build = build_ref(source, *head_ref, work / "head", cmake);
    return opts.get_or("manifest", (work / "head" / "benches" / "manifest.json").string());
  }
  std::println(std::cerr, "vmm-bench compare: building the working tree as head");
  if (run_process({cmake, "--preset", "release"}, {}, {}, {}, source) != 0 ||
      run_process({cmake, "--build", "--preset", "release"}, {}, {}, {}, source) != 0) {
    throw failure{std::format("building the release preset of {} failed", source.string())};
  }
  head.build = source / "build" / "release";
  return opts.get_or("manifest", (source / "benches" / "manifest.json").string());
}

// Usage errors of the command line that the option parser cannot see.
void check_usage(const options& opts) {
  if (!opts.positional().empty()) {
    throw usage_error{std::format("unexpected argument \"{}\"", opts.positional().front())};
  }
  const bool by_build = opts.has("base-build") || opts.has("head-build");
  const bool by_ref = opts.has("base-ref") || opts.has("head-ref");
  if (by_build == by_ref || (by_build && (!opts.has("base-build") || !opts.has("head-build"))) ||
      (by_ref && !opts.has("base-ref"))) {
    throw usage_error{"give either --base-build DIR and --head-build DIR, or --base-ref REF [--head-ref REF]"};
  }
  for (const auto& name : {"base-env", "head-env"}) {
    for (const auto& e : opts.all(name)) {
      if (!e.contains('=') || e.starts_with('=')) {
        throw usage_error{std::format("--{} takes NAME=VALUE, not \"{}\"", name, e)};
      }
    }
  }
}

}  // namespace

auto command_compare(std::span<char* const> args) -> int {
  const options opts{
      args,
      {"base-build", "head-build", "base-ref", "head-ref", "source", "work", "cmake", "manifest", "profile", "rounds",
       "repetitions", "min-time", "fdr", "confidence", "markdown", "json", "seed", "cpus"},
      {},
      {"base-env", "head-env"}};
  check_usage(opts);
  const std::filesystem::path source = opts.get("source").value_or(default_source_dir().string());
  const auto profile = opts.get_or("profile", "pr");
  const auto rounds = opts.count("rounds", 60, 3, 100000);
  const auto repetitions = opts.count("repetitions", 1, 1, 1000);
  const double min_time = opts.number("min-time", 0.02, 0.001, 3600);
  const double fdr = opts.number("fdr", 0.01, 1e-9, 1);
  const double confidence = opts.number("confidence", 0.95, 0.5, 0.9999);
  const auto seed = opts.count("seed", 1, 0, std::numeric_limits<std::size_t>::max());

  side base{.label = "base", .build = {}, .env = opts.all("base-env"), .samples = {}};
  side head{.label = "head", .build = {}, .env = opts.all("head-env"), .samples = {}};
  const auto manifest_path = prepare_sides(opts, source, base, head);
  const auto manifest = load_manifest(manifest_path);
  const auto plan = manifest.plan(profile);
  if (plan.empty()) {
    throw failure{std::format("{}: no bench has a profile named \"{}\"", manifest_path.string(), profile)};
  }
  for (const auto* s : {&base, &head}) {
    if (!std::filesystem::is_directory(s->build)) {
      throw failure{std::format("{} build directory {} does not exist", s->label, s->build.string())};
    }
  }

  // Both sides on the same CPU: on a virtual machine the vCPUs differ (here by 30 % for a system call loop), and a
  // bench that lands on either at random carries that difference into its samples.
  const auto pinned = pin_to_cpus(opts.get_or("cpus", "last"));
  std::println(std::cerr, "vmm-bench compare: benches {}", pinned);

  const auto items = list_items(plan, base, head);
  if (std::ranges::none_of(items, &item::in_head)) {
    throw failure{std::format("the {} profile matched no benchmark of head", profile)};
  }
  measure_rounds(items, rounds, {.repetitions = repetitions, .min_time = min_time, .env = {}}, base, head);

  const auto rows = analyse(base, head, manifest, confidence, fdr, seed);
  const auto md = markdown_summary(rows, profile, rounds, confidence, fdr);
  std::print("{}", md);
  if (const auto path = opts.get("markdown")) {
    write_text(*path, md);
  }
  if (const auto path = opts.get("json")) {
    write_text(*path, json_summary(rows, base, head, profile, rounds));
  }
  return std::ranges::any_of(rows, &verdict_row::regression) ? exit_regression : exit_ok;
}

}  // namespace vmm::bench::tool
