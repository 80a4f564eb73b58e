// vmm-bench run: measures a profile and stores every repetition of every benchmark with the run's context.
module vmm.bench.tool;
import std;
import vmm.bench.results;

namespace vmm::bench::tool {

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
  // The command line wins; then the bench's "run" settings for this profile in the manifest; then 10 × 0.1 s.
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

  std::set<std::string> done;
  if (std::filesystem::exists(*path)) {
    if (opts.has("resume")) {
      auto previous = results::read_run(*path);
      if (!previous) {
        throw failure{std::format("cannot resume: {}", previous.error())};
      }
      r.benchmarks = std::move(previous->benchmarks);
      for (const auto& b : r.benchmarks) {
        done.insert(b.key());
      }
      std::println(std::cerr, "vmm-bench run: resuming {} ({} benchmarks already measured)", path->string(),
                   done.size());
    } else if (!opts.has("replace")) {
      throw failure{
          std::format("{} already holds a run of this commit, profile and machine; pass --resume to go on "
                      "with it or --replace to measure it again",
                      path->string())};
    }
  }

  // Each benchmark runs in its own process and is stored as soon as it finishes, so a run killed at any moment keeps
  // everything already measured.
  struct item {
    std::filesystem::path exe;
    std::string name;
    bench_settings settings;
  };
  std::vector<item> work;
  for (const auto& [executable, filter] : plan) {
    const auto exe = std::filesystem::path{*build} / executable;
    const auto from_manifest = manifest.settings(executable, profile);
    const bench_settings settings{.repetitions = given_repetitions.value_or(from_manifest.repetitions.value_or(10)),
                                  .min_time = given_min_time.value_or(from_manifest.min_time.value_or(0.1)),
                                  .env = {}};
    for (const auto& name : list_benchmarks(exe, filter)) {
      work.push_back({.exe = exe, .name = name, .settings = settings});
    }
  }
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
    const auto& [exe, name, settings] = work[i];
    const auto key = exe.filename().string() + "/" + name;
    if (done.contains(key)) {
      continue;
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
    const auto left =
        measured == 0
            ? std::string{"?"}
            : format_duration(elapsed / static_cast<double>(measured) * static_cast<double>(to_measure - measured));
    std::println(std::cerr, "[{}/{}] {}  (elapsed {}, about {} left)", i + 1, work.size(), key,
                 format_duration(elapsed), left);
    auto output = run_bench(exe, std::format("^{}$", results::regex_escape(name)), settings, scratch.path());
    if (r.ctx.google_benchmark == "{}") {
      r.ctx.google_benchmark = output.context;
    }
    bool found = false;
    for (auto& b : output.benchmarks) {
      if (b.name == name) {
        r.benchmarks.push_back(std::move(b));
        found = true;
      }
    }
    if (!found) {
      throw failure{std::format("{} did not report {} although it lists it", exe.string(), name)};
    }
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
