// vmm.bench.results — the data of the benchmark pipeline: what one run measured, how it is stored, and the manifest
// that says which benchmarks a profile runs.
//
// Three readers of untrusted bytes live here, and each returns a problem message naming what was wrong rather than
// throwing or crashing (they are fuzzed: fuzz/results_fuzz.cpp):
//   - parse_google_benchmark: Google Benchmark's JSON output (--benchmark_out_format=json) of one bench executable.
//     Every repetition is kept (real time, CPU time, iterations, user counters); aggregates are dropped, since the
//     pipeline computes its own statistics from the repetitions.
//   - parse_run: one stored run file (the schema in docs/results-schema.md).
//   - parse_manifest: benches/manifest.json.
//
// The store is a directory tree <store>/<machine>/<commit>[-dirty].<profile>.json: one file per (machine, commit,
// profile), so runner machines committing to one results branch never touch each other's files. Writes are atomic
// (temporary file, fsync, rename, fsync of the directory), so a reader or a crash never sees half a file, and
// read_store reports every unreadable file with its path and reason while still returning all the others.
export module vmm.bench.results;
import std;

export namespace vmm::bench::results {

/// The schema version this library writes. Files with a higher version are reported, not guessed at.
inline constexpr int schema_version = 1;

/// Failure of a parser or of the store: a human-readable reason naming what was wrong (and where, for files).
using problem = std::string;

/// The value, or the problem that prevented it.
template <class T>
using outcome = std::expected<T, problem>;

/// One repetition of one benchmark, as Google Benchmark reported it. Times are in nanoseconds per iteration.
struct repetition {
  double real_time = 0;         ///< wall-clock time per iteration, ns
  double cpu_time = 0;          ///< CPU time per iteration, ns
  std::int64_t iterations = 0;  ///< iterations Google Benchmark ran in this repetition
  /// User counters (state.counters), by name, as reported (already divided or rated by Google Benchmark).
  std::vector<std::pair<std::string, double>> counters;

  friend auto operator==(const repetition&, const repetition&) -> bool = default;
};

/// Every repetition of one benchmark of one executable.
struct benchmark {
  std::string executable;  ///< the bench executable's file name, e.g. "bench_sys"
  std::string name;        ///< Google Benchmark's run name, e.g. "BM_sys_eventfd_round_trip/real_time"
  std::vector<repetition> repetitions;

  /// "executable/name": the benchmark's identity across runs and machines.
  [[nodiscard]] auto key() const -> std::string { return executable + "/" + name; }

  /// Whether the benchmark's primary time is wall-clock time: Google Benchmark appends "/real_time" (UseRealTime)
  /// or "/manual_time" (UseManualTime) to the name of such benchmarks. Others are timed by CPU time.
  [[nodiscard]] auto timed_by_real_time() const -> bool {
    return name.contains("/real_time") || name.contains("/manual_time");
  }

  /// The time Google Benchmark itself uses for `rep`, and the pipeline compares: real time for benchmarks that
  /// asked for it (a wake-up across threads is mostly waiting), else CPU time (so that time the process spent
  /// descheduled by another tenant of a shared machine is not counted against the code).
  [[nodiscard]] auto primary_time(const repetition& rep) const -> double {
    return timed_by_real_time() ? rep.real_time : rep.cpu_time;
  }

  friend auto operator==(const benchmark&, const benchmark&) -> bool = default;
};

/// Where and how a run was measured. Strings are empty when unknown.
struct context {
  std::string commit;                    ///< full commit hash of the measured tree
  std::string branch;                    ///< branch name, empty for a detached HEAD
  std::string commit_date;               ///< committer date, ISO 8601
  bool dirty = false;                    ///< the tree had uncommitted changes
  std::string run_date;                  ///< when the run started, ISO 8601 UTC
  std::string compiler;                  ///< compiler path and version
  std::string build_type;                ///< CMAKE_BUILD_TYPE of the measured build
  std::string cxx_flags;                 ///< compile flags of that build type
  std::string cpu_model;                 ///< /proc/cpuinfo "model name"
  int cpu_count = 0;                     ///< online CPUs
  std::string governor;                  ///< cpufreq scaling governor of cpu0, "unavailable" without cpufreq
  int aslr = -1;                         ///< /proc/sys/kernel/randomize_va_space, -1 when unreadable
  std::array<double, 3> load_average{};  ///< 1, 5 and 15 minute load averages when the run started
  std::string kernel;                    ///< uname: sysname, release, version, machine
  /// Google Benchmark's own "context" block of the first bench executable, as compact JSON text.
  std::string google_benchmark = "{}";
  bool noisy = false;                      ///< the context makes timings less trustworthy
  std::vector<std::string> noisy_reasons;  ///< why, e.g. "governor is powersave, not performance"

  friend auto operator==(const context&, const context&) -> bool = default;
};

/// One run of one profile on one machine: the unit of the store.
struct run {
  std::string machine;    ///< runner identity, [A-Za-z0-9._-], chosen by the runner (default: host name)
  std::string profile;    ///< manifest profile, e.g. "pr" or "nightly"
  bool complete = false;  ///< every benchmark of the profile finished (false while a run is under way or was killed)
  context ctx;
  std::vector<benchmark> benchmarks;

  friend auto operator==(const run&, const run&) -> bool = default;
};

/// What parse_google_benchmark found in one executable's output.
struct google_benchmark_output {
  std::vector<benchmark> benchmarks;  ///< in first-appearance order, every non-aggregate repetition
  std::string context;                ///< the output's "context" object as compact JSON ("{}" when absent)
  /// Benchmarks that reported an error (SkipWithError): "name: message". They have no repetitions above.
  std::vector<std::string> errors;
};

/// Parses Google Benchmark JSON output of `executable`. Times are converted to nanoseconds.
/// Problems: invalid JSON, no "benchmarks" array, an entry without a name, a non-numeric or negative time, an unknown
/// time unit.
[[nodiscard]] auto parse_google_benchmark(std::string_view text, std::string_view executable)
    -> outcome<google_benchmark_output>;

/// Parses a stored run file (docs/results-schema.md). Problems: invalid JSON, not a run file, a schema_version newer
/// than this library's ("written by a newer vmm-bench"), a missing or mistyped field (named by its JSON path).
[[nodiscard]] auto parse_run(std::string_view text) -> outcome<run>;

/// The JSON text of a run file, schema_version 1, pretty-printed with a trailing newline. parse_run(to_json(r)) == r.
[[nodiscard]] auto to_json(const run& r) -> std::string;

/// Whether `name` may be a machine or profile name: 1 to 64 of [A-Za-z0-9._-], not starting with '.'.
[[nodiscard]] auto valid_name(std::string_view name) -> bool;

/// The path of a run's file inside `store`: <store>/<machine>/<commit>[-dirty].<profile>.json.
/// Problems: an invalid machine or profile name, a commit that is not 4 to 64 hex digits.
[[nodiscard]] auto run_path(const std::filesystem::path& store, const run& r) -> outcome<std::filesystem::path>;

/// Writes `r` to run_path(store, r) atomically (temporary file in the same directory, fsync, rename, directory fsync),
/// creating directories as needed. Returns the path written. Problems: those of run_path, a NaN or infinite time,
/// counter or load average (JSON cannot hold it), and every OS error on the way (named with the path).
[[nodiscard]] auto write_run(const std::filesystem::path& store, const run& r) -> outcome<std::filesystem::path>;

/// Reads the run file at `path`. Problems carry the path.
[[nodiscard]] auto read_run(const std::filesystem::path& path) -> outcome<run>;

/// A file of the store that could not be read, and why.
struct unreadable {
  std::filesystem::path path;
  problem reason;
};

/// Everything read from a store.
struct store_contents {
  std::vector<std::pair<std::filesystem::path, run>> runs;  ///< sorted by path
  std::vector<unreadable> problems;                         ///< corrupt, truncated, future-schema or misplaced files
};

/// Reads every <machine>/<name>.json file under `store`. A file that cannot be read, or whose machine or profile does
/// not match its path, goes to problems; all others are still returned. Temporary files of interrupted writes
/// (".*.tmp") are skipped. Problem: `store` is not a readable directory.
[[nodiscard]] auto read_store(const std::filesystem::path& store) -> outcome<store_contents>;

/// How `vmm-bench run` measures one bench's benchmarks in one profile, when the command line does not say.
struct run_settings {
  std::optional<std::size_t> repetitions;  ///< --benchmark_repetitions
  std::optional<double> min_time;          ///< --benchmark_min_time, seconds per repetition
};

/// One bench executable of the manifest.
struct manifest_bench {
  std::string executable;  ///< path relative to the build directory, e.g. "benches/sys/bench_sys"
  /// Profile name → Google Benchmark filter regexes (each a full match of a benchmark name).
  std::vector<std::pair<std::string, std::vector<std::string>>> profiles;
  /// Regex over benchmark names → regression threshold for the PR gate (a fraction: 0.1 is 10 %).
  std::vector<std::pair<std::string, double>> thresholds;
  /// Profile name → how `run` measures this bench in that profile ("run": {"nightly": {"repetitions": 10,
  /// "min_time": 5}}); the PR gate (`compare`) has its own settings and ignores these.
  std::vector<std::pair<std::string, run_settings>> run;
};

/// benches/manifest.json: which benchmarks each profile runs, and the PR gate's thresholds.
struct manifest {
  std::vector<manifest_bench> benches;
  double default_threshold = 0.05;  ///< "default_threshold", the regression the gate fails on by default

  /// The benches with at least one pattern in `profile`, with the combined filter "^(p1|p2|...)$".
  [[nodiscard]] auto plan(std::string_view profile) const -> std::vector<std::pair<std::string, std::string>>;

  /// The regression threshold of `executable_name`'s benchmark `name`: the first matching entry of that bench's
  /// "thresholds", else default_threshold.
  [[nodiscard]] auto threshold(std::string_view executable_name, std::string_view name) const -> double;

  /// The "run" settings of the bench whose executable is `executable` (as in the manifest) for `profile`; empty
  /// settings when it has none.
  [[nodiscard]] auto settings(std::string_view executable, std::string_view profile) const -> run_settings;
};

/// Parses a manifest. Problems: invalid JSON, schema_version other than 1, a bench without "executable" or
/// "profiles", an empty or non-string pattern list, a pattern that is not a valid regex, a threshold outside (0, 10],
/// a "run" entry for a profile the bench does not have, repetitions outside [1, 10000], min_time outside
/// [0.001, 3600] seconds, or an unknown key in a "run" entry.
[[nodiscard]] auto parse_manifest(std::string_view text) -> outcome<manifest>;

/// The nanoseconds of `value` in Google Benchmark's `unit` ("ns", "us", "ms", "s"), or nullopt for another unit.
[[nodiscard]] auto to_nanoseconds(double value, std::string_view unit) -> std::optional<double>;

/// Escapes `text` so that it matches itself literally inside a POSIX extended regex, the grammar Google Benchmark
/// compiles --benchmark_filter with (and manifest patterns are checked against).
[[nodiscard]] auto regex_escape(std::string_view text) -> std::string;

}  // namespace vmm::bench::results
