// vmm-bench run: measures a profile and stores every repetition of every benchmark with the run's context.
module vmm.bench.tool;
import std;
import vmm.bench.results;

namespace vmm::bench::tool {

namespace {

// One benchmark to measure: its executable, its name and how to run it.
struct work_item {
  std::filesystem::path exe;
  std::string name;
  bench_settings settings;
};

// The keys of the benchmarks the run at `path` already holds, which go into r.benchmarks, when --resume is given
// and the file exists; an error when it exists and neither --resume nor --replace is given.
auto previous_benchmarks(const options& opts, const std::filesystem::path& path, results::run& r)
    -> std::set<std::string> {
  std::set<std::string> done;
  if (!std::filesystem::exists(path)) {
    return done;
  }
  if (opts.has("resume")) {
    auto previous = results::read_run(path);
    if (!previous) {
      throw failure{std::format("cannot resume: {}", previous.error())};
    }
    r.benchmarks = std::move(previous->benchmarks);
    for (const auto& b : r.benchmarks) {
      done.insert(b.key());
    }
    std::println(std::cerr, "vmm-bench run: resuming {} ({} benchmarks already measured)", path.string(), done.size());
  } else if (!opts.has("replace")) {
    throw failure{
        std::format("{} already holds a run of this commit, profile and machine; pass --resume to go on "
                    "with it or --replace to measure it again",
                    path.string())};
  }
  return done;
}

// Every benchmark of the plan, with its settings: the command line wins; then the bench's "run" settings for this
// profile in the manifest; then 10 × 0.1 s.
auto plan_work(const std::vector<std::pair<std::string, std::string>>& plan, const std::string& build,
               const results::manifest& manifest, const std::string& profile,
               std::optional<std::size_t> given_repetitions, std::optional<double> given_min_time)
    -> std::vector<work_item> {
  std::vector<work_item> work;
  for (const auto& [executable, filter] : plan) {
    const auto exe = std::filesystem::path{build} / executable;
    const auto from_manifest = manifest.settings(executable, profile);
    const bench_settings settings{.repetitions = given_repetitions.value_or(from_manifest.repetitions.value_or(10)),
                                  .min_time = given_min_time.value_or(from_manifest.min_time.value_or(0.1)),
                                  .env = {}};
    for (const auto& name : list_benchmarks(exe, filter)) {
      work.push_back({.exe = exe, .name = name, .settings = settings});
    }
  }
  return work;
}

// The estimated time left after `measured` of `to_measure` benchmarks took `elapsed`; "?" before the first.
auto time_left(std::chrono::duration<double> elapsed, std::size_t measured, std::size_t to_measure) -> std::string {
  if (measured == 0) {
    return "?";
  }
  return format_duration(elapsed / static_cast<double>(measured) * static_cast<double>(to_measure - measured));
}

// Measures one benchmark into r.benchmarks (and the Google Benchmark context into r.ctx, once).
auto measure(const work_item& w, const std::filesystem::path& scratch, results::run& r) -> void {
  auto output = run_bench(w.exe, std::format("^{}$", results::regex_escape(w.name)), w.settings, scratch);
  if (r.ctx.google_benchmark == "{}") {
    r.ctx.google_benchmark = output.context;
  }
  bool found = false;
  for (auto& b : output.benchmarks) {
    if (b.name == w.name) {
      r.benchmarks.push_back(std::move(b));
      found = true;
    }
  }
  if (!found) {
    throw failure{std::format("{} did not report {} although it lists it", w.exe.string(), w.name)};
  }
}

}  // namespace

auto command_run(std::span<char* const> args) -> int {
  const options opts{args,
                     {"build", "source", "manifest", "profile", "store", "machine", "repetitions", "min-time", "cpus"},
                     {"resume", "replace"}};
  if (!opts.positional().empty()) {
    throw usage_error{std::format("unexpected argument \"{}\"", opts.positional().front())};
  }
  const auto build = opts.get("build");
  if (!build) {
    throw usage_error{"--build DIR is required (a configured and built release tree, e.g. build/release)"};
  }
  if (opts.has("resume") && opts.has("replace")) {
    throw usage_error{"--resume and --replace exclude each other"};
  }
  const std::filesystem::path source = opts.get("source").value_or(default_source_dir().string());
  const auto manifest = load_manifest(opts.get_or("manifest", (source / "benches" / "manifest.json").string()));
  const auto profile = opts.get_or("profile", "pr");
  const std::filesystem::path store = opts.get("store").value_or(default_store().string());
  const auto given_repetitions =
      opts.has("repetitions") ? std::optional{opts.count("repetitions", 10, 1, 10000)} : std::nullopt;
  const auto given_min_time =
      opts.has("min-time") ? std::optional{opts.number("min-time", 0.1, 0.001, 3600)} : std::nullopt;

  results::run r;
  r.machine = opts.get("machine").value_or(default_machine());
  r.profile = profile;
  if (!results::valid_name(r.machine)) {
    throw usage_error{std::format("machine name \"{}\" is not 1 to 64 of [A-Za-z0-9._-]", r.machine)};
  }
  const auto plan = manifest.plan(profile);
  if (plan.empty()) {
    throw failure{std::format("no bench of the manifest has a profile named \"{}\"", profile)};
  }
  r.ctx = collect_context(*build, source);
  const auto path = results::run_path(store, r);
  if (!path) {
    throw failure{path.error()};
  }

  const auto done = previous_benchmarks(opts, *path, r);

  // Each benchmark runs in its own process and is stored as soon as it finishes, so a run killed at any moment keeps
  // everything already measured.
  const auto work = plan_work(plan, *build, manifest, profile, given_repetitions, given_min_time);
  if (const auto cpus = opts.get("cpus")) {
    std::println(std::cerr, "vmm-bench run: benches {}", pin_to_cpus(*cpus));
  }
  const scratch_dir scratch;
  const auto started = std::chrono::steady_clock::now();
  std::size_t measured = 0;
  std::size_t to_measure = 0;
  for (const auto& w : work) {
    to_measure += done.contains(w.exe.filename().string() + "/" + w.name) ? 0 : 1;
  }
  for (std::size_t i = 0; i < work.size(); ++i) {
    const auto& w = work[i];
    const auto key = w.exe.filename().string() + "/" + w.name;
    if (done.contains(key)) {
      continue;
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
    std::println(std::cerr, "[{}/{}] {}  (elapsed {}, about {} left)", i + 1, work.size(), key,
                 format_duration(elapsed), time_left(elapsed, measured, to_measure));
    measure(w, scratch.path(), r);
    ++measured;
    if (auto written = results::write_run(store, r); !written) {
      throw failure{written.error()};
    }
  }
  r.complete = true;
  auto written = results::write_run(store, r);
  if (!written) {
    throw failure{written.error()};
  }
  if (r.ctx.noisy) {
    std::println(std::cerr, "vmm-bench run: the run is flagged noisy: {}", r.ctx.noisy_reasons.front());
  }
  std::println(std::cerr, "vmm-bench run: {} benchmarks in {}", r.benchmarks.size(),
               format_duration(std::chrono::steady_clock::now() - started));
  std::println("{}", written->string());
  return exit_ok;
}

}  // namespace vmm::bench::tool
