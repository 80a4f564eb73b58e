// vmm.bench.tool — the pieces the vmm-bench subcommands share: option parsing, child processes, the run context,
// running one bench executable, and the default locations. Internal to the vmm-bench executable (not installed).
export module vmm.bench.tool;
import std;
import vmm.bench.results;
import vmm.bench.changepoint;

export namespace vmm::bench::tool {

/// Exit statuses of every subcommand.
enum exit_status : std::uint8_t {
  exit_ok = 0,          ///< success (compare: no regression beyond its threshold)
  exit_failure = 1,     ///< bad input or a failed step: the message on stderr names it
  exit_usage = 2,       ///< bad command line
  exit_regression = 3,  ///< compare only: at least one regression beyond its threshold
};

/// A thrown usage error: main prints it with the subcommand's usage and exits with exit_usage.
struct usage_error {
  std::string message;
};

/// A thrown failure: main prints it and exits with exit_failure.
struct failure {
  std::string message;
};

/// The subcommands: each takes the arguments after its name, returns an exit_status, and throws usage_error or
/// failure.
auto command_ratios(std::span<char* const> args) -> int;
auto command_profile(std::span<char* const> args) -> int;
auto command_run(std::span<char* const> args) -> int;
auto command_compare(std::span<char* const> args) -> int;
auto command_detect(std::span<char* const> args) -> int;
auto command_render(std::span<char* const> args) -> int;

/// "--name value" options and positional arguments of one subcommand. Every option the subcommand does not know, a
/// missing value, or a repeated single-valued option is a usage_error.
class options {
 public:
  /// Parses `args` (after the subcommand name). `valued` names options that take a value, `flags` those that don't,
  /// `repeatable` valued options that may be given several times.
  options(std::span<char* const> args, std::initializer_list<std::string_view> valued,
          std::initializer_list<std::string_view> flags, std::initializer_list<std::string_view> repeatable = {});

  [[nodiscard]] auto has(std::string_view name) const -> bool;
  [[nodiscard]] auto get(std::string_view name) const -> std::optional<std::string>;
  [[nodiscard]] auto get_or(std::string_view name, std::string_view fallback) const -> std::string;
  [[nodiscard]] auto all(std::string_view name) const -> std::vector<std::string>;
  /// A number option in [low, high], or `fallback` when absent.
  [[nodiscard]] auto number(std::string_view name, double fallback, double low, double high) const -> double;
  /// A whole-number option in [low, high], or `fallback` when absent.
  [[nodiscard]] auto count(std::string_view name, std::size_t fallback, std::size_t low, std::size_t high) const
      -> std::size_t;
  [[nodiscard]] auto positional() const -> const std::vector<std::string>& { return positional_; }

 private:
  std::vector<std::pair<std::string, std::string>> values_;
  std::vector<std::string> flags_;
  std::vector<std::string> positional_;
};

/// Runs `argv` (argv[0] searched in PATH when it has no '/') with `extra_env` ("K=V") added to this environment,
/// stdout and stderr redirected to the given files (empty path: /dev/null), in `cwd` (empty: this one). Returns the
/// exit status, or 128 + signal number for a child killed by a signal. Throws failure when it cannot start.
auto run_process(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                 const std::filesystem::path& stdout_file, const std::filesystem::path& stderr_file,
                 const std::filesystem::path& cwd = {}) -> int;

/// Runs `argv` and returns its stdout with trailing newlines removed; nullopt when it fails to start or exits
/// non-zero.
auto capture(const std::vector<std::string>& argv, const std::filesystem::path& cwd = {}) -> std::optional<std::string>;

/// A directory for temporary files, removed with everything in it on destruction.
class scratch_dir {
 public:
  scratch_dir();
  ~scratch_dir();
  scratch_dir(const scratch_dir&) = delete;
  auto operator=(const scratch_dir&) -> scratch_dir& = delete;
  scratch_dir(scratch_dir&&) = delete;
  auto operator=(scratch_dir&&) -> scratch_dir& = delete;
  [[nodiscard]] auto path() const -> const std::filesystem::path& { return path_; }

 private:
  std::filesystem::path path_;
};

/// The whole content of a file; throws failure naming the path when it cannot be read.
auto slurp(const std::filesystem::path& path) -> std::string;

/// Reads and parses the manifest; throws failure naming the path and the problem.
auto load_manifest(const std::filesystem::path& path) -> results::manifest;

/// The run context of `build_dir` (compiler, flags from its CMakeCache.txt) measured from the git checkout
/// `source_dir`, on this machine now. Throws failure when `source_dir` is not a git checkout.
auto collect_context(const std::filesystem::path& build_dir, const std::filesystem::path& source_dir)
    -> results::context;

/// The benchmark names of `executable` that match `filter` (--benchmark_list_tests). Throws failure when the
/// executable is missing or fails.
auto list_benchmarks(const std::filesystem::path& executable, const std::string& filter,
                     const std::vector<std::string>& env = {}) -> std::vector<std::string>;

/// How one bench executable is run.
struct bench_settings {
  std::size_t repetitions = 1;   ///< --benchmark_repetitions
  double min_time = 0.1;         ///< --benchmark_min_time, seconds per repetition
  std::vector<std::string> env;  ///< "K=V" added to the environment
};

/// Runs `executable` with `filter` and returns every repetition it measured. Throws failure naming the executable
/// when it cannot run, exits non-zero, or writes output that does not parse.
auto run_bench(const std::filesystem::path& executable, const std::string& filter, const bench_settings& settings,
               const std::filesystem::path& scratch) -> results::google_benchmark_output;

/// The git checkout that contains the current directory, or the current directory when there is none.
auto default_source_dir() -> std::filesystem::path;

/// Restricts this process, and so every bench it starts, to the CPUs in `spec`: "all" (no restriction), "last" (the
/// highest-numbered CPU this process may run on), or a list like "1" or "0,2-3". Returns a description for the
/// log. Throws usage_error for a malformed list and failure when the kernel refuses it.
auto pin_to_cpus(std::string_view spec) -> std::string;

/// The default results store: $VMM_BENCH_STORE, else $XDG_DATA_HOME/cpp-vmm/results, else
/// ~/.local/share/cpp-vmm/results.
auto default_store() -> std::filesystem::path;

/// The default machine name: $VMM_BENCH_MACHINE, else the host name reduced to [A-Za-z0-9._-].
auto default_machine() -> std::string;

/// Reads the store, printing every unreadable file with its reason to stderr; throws failure when the store itself
/// cannot be read.
auto load_store(const std::filesystem::path& store) -> results::store_contents;

/// The median of the primary times (results::benchmark::primary_time) of `b`'s repetitions (0 for none).
auto median_primary_time(const results::benchmark& b) -> double;

/// One run's measurement of one benchmark: statistics over its repetitions' primary times (ns; real time for
/// benchmarks timed by real time, else CPU time).
struct history_point {
  std::size_t run = 0;  ///< index into histories::runs
  double median = 0, min = 0, max = 0, q1 = 0, q3 = 0;
  std::size_t n = 0;  ///< repetitions
};

/// One benchmark's history on one machine, in run order.
struct history {
  std::string machine;
  std::string benchmark;  ///< results::benchmark::key()
  std::vector<history_point> points;
};

/// The store arranged for detect and render.
struct histories {
  /// Every selected run, sorted by (machine, commit date, run date, path).
  std::vector<const results::run*> runs;
  /// One history per (machine, benchmark), sorted by machine then benchmark.
  std::vector<history> series;
};

/// Arranges the runs of `store` (optionally only one machine and/or profile) into histories. The runs must outlive
/// the result.
auto build_histories(const results::store_contents& store, const std::optional<std::string>& machine,
                     const std::optional<std::string>& profile) -> histories;

/// A change point found in one benchmark's history.
struct change {
  std::string machine;
  std::string benchmark;
  std::size_t point = 0;    ///< index into the history's points: the first point of the new level
  std::string from_commit;  ///< the last commit before the change
  std::string to_commit;    ///< the first commit after it
  std::string from_date;
  std::string to_date;
  double before = 0;  ///< median level of the segment before (ns)
  double after = 0;   ///< median level of the segment after (ns)
  double ratio = 0;   ///< after / before: above 1 is slower
  double p_value = 1;

  /// "regression" (slower: times went up) or "improvement".
  [[nodiscard]] auto kind() const -> std::string_view { return ratio > 1 ? "regression" : "improvement"; }
};

/// Runs change-point detection over every history; changes most recent first.
auto detect_changes(const histories& h, const changepoint::options& settings) -> std::vector<change>;

/// detect's JSON output (schema "cpp-vmm.bench.changes", documented in docs/results-schema.md).
auto changes_to_json(const std::vector<change>& changes) -> std::string;

/// Reads detect's JSON output back (point is left 0: render recomputes it from the commits).
auto parse_changes(std::string_view text) -> results::outcome<std::vector<change>>;

/// "12.3 ns", "4.56 µs", "7.89 ms" or "1.23 s".
auto format_time(double ns) -> std::string;

/// "1:05" style elapsed / remaining time.
auto format_duration(std::chrono::duration<double> d) -> std::string;

/// The current UTC time, ISO 8601 with a Z.
auto now_utc() -> std::string;

}  // namespace vmm::bench::tool
