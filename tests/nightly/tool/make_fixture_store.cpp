// make_fixture_store: writes a synthetic results store with a known history, for the detect, render and browser
// tests. Deterministic: the same arguments give the same files.
//
//   make_fixture_store STORE [RUNS] [STEP_AT] [STEP]
//
// Machine "runner-a" gets RUNS (default 30) runs of consecutive commits, a day apart from 2026-09-01. Its benchmarks:
//   bench_fixture/BM_fixture_copy     100 ns, times STEP (default 1.15) from run STEP_AT (default 20) on: a regression
//   bench_fixture/BM_fixture_wake     2 µs, unchanged
//   bench_fixture/BM_fixture_new      only in the last 5 runs
//   bench_fixture/BM_fixture<script>alert(1)</script>   a hostile name the site must show as text
// Machine "runner-b" gets 10 runs of the same commits with BM_fixture_copy at 80 ns and no change; its newest run is
// flagged noisy. Every point has 10 repetitions with 1 % noise.
import std;
import vmm.bench.results;

namespace results = vmm::bench::results;

namespace {

auto commit_of(std::size_t i) -> std::string {
  // 40 hex digits, distinct per index.
  return std::format("{:08x}{:032x}", 0xc0ffee00U + i, i * 2654435761U);
}

auto bench(std::string name, double level, std::mt19937_64& rng) -> results::benchmark {
  results::benchmark b{.executable = "bench_fixture", .name = std::move(name), .repetitions = {}};
  std::normal_distribution<double> noise{1.0, 0.01};
  for (int r = 0; r < 10; ++r) {
    const double t = level * noise(rng);
    b.repetitions.push_back(results::repetition{
        .real_time = t, .cpu_time = t * 0.98, .iterations = 1000000, .counters = {{"bytes_per_second", 1e9 / t}}});
  }
  return b;
}

auto make_run(std::string machine, std::size_t i) -> results::run {
  results::run r;
  r.machine = std::move(machine);
  r.profile = "nightly";
  r.complete = true;
  r.ctx.commit = commit_of(i);
  r.ctx.branch = "main";
  using namespace std::chrono;
  const sys_days day = sys_days{year{2026} / September / 1} + days{i};
  r.ctx.commit_date = std::format("{:%F}T10:00:00+00:00", day);
  r.ctx.run_date = std::format("{:%F}T11:00:00Z", day);
  r.ctx.compiler = "/usr/bin/clang++-19 (Debian clang version 19.1.7)";
  r.ctx.build_type = "Release";
  r.ctx.cxx_flags = "-stdlib=libc++ -O3 -DNDEBUG";
  r.ctx.cpu_model = r.machine == "runner-a" ? "Fixture CPU A @ 3.0GHz" : "Fixture CPU B @ 2.0GHz";
  r.ctx.cpu_count = 2;
  r.ctx.governor = "performance";
  r.ctx.aslr = 2;
  r.ctx.kernel = "Linux 6.1.0-fixture #1 SMP x86_64";
  r.ctx.google_benchmark = R"({"num_cpus":2,"library_build_type":"release"})";
  return r;
}

}  // namespace

auto main(int argc, char** argv) -> int {
  const std::span args{argv, static_cast<std::size_t>(argc)};
  if (args.size() < 2 || args.size() > 5) {
    std::println(std::cerr, "usage: make_fixture_store STORE [RUNS] [STEP_AT] [STEP]");
    return 2;
  }
  const std::filesystem::path store = args[1];
  const std::size_t runs = args.size() > 2 ? std::stoul(args[2]) : 30;
  const std::size_t step_at = args.size() > 3 ? std::stoul(args[3]) : 20;
  const double step = args.size() > 4 ? std::stod(args[4]) : 1.15;
  if (runs < 1 || runs > 1000) {
    std::println(std::cerr, "make_fixture_store: RUNS must be 1 to 1000");
    return 2;
  }
  std::mt19937_64 rng{42};
  for (std::size_t i = 0; i < runs; ++i) {
    auto r = make_run("runner-a", i);
    r.benchmarks.push_back(bench("BM_fixture_copy", i >= step_at ? 100.0 * step : 100.0, rng));
    r.benchmarks.push_back(bench("BM_fixture_wake", 2000.0, rng));
    r.benchmarks.push_back(bench("BM_fixture<script>alert(1)</script>", 50.0, rng));
    if (i + 5 >= runs) {
      r.benchmarks.push_back(bench("BM_fixture_new", 300.0, rng));
    }
    if (auto written = results::write_run(store, r); !written) {
      std::println(std::cerr, "make_fixture_store: {}", written.error());
      return 1;
    }
  }
  for (std::size_t i = runs > 10 ? runs - 10 : 0; i < runs; ++i) {
    auto r = make_run("runner-b", i);
    r.benchmarks.push_back(bench("BM_fixture_copy", 80.0, rng));
    if (i + 1 == runs) {
      r.ctx.noisy = true;
      r.ctx.noisy_reasons = {"CPU frequency governor is powersave, not performance"};
      r.ctx.governor = "powersave";
    }
    if (auto written = results::write_run(store, r); !written) {
      std::println(std::cerr, "make_fixture_store: {}", written.error());
      return 1;
    }
  }
  return 0;
}
