module;
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
module vmm.bench.tool;
import std;
import vmm.bench.results;

extern "C" char** environ;  // NOLINT(readability-redundant-declaration): POSIX leaves its declaration to the user

namespace vmm::bench::tool {
namespace {

auto trim(std::string_view text) -> std::string_view {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// The value of `key` in CMakeCache.txt text ("KEY:TYPE=value"), or empty.
auto cache_value(std::string_view cache, std::string_view key) -> std::string {
  for (const auto line : std::views::split(cache, '\n')) {
    const std::string_view l{line.begin(), line.end()};
    if (l.starts_with(key) && l.size() > key.size() && l[key.size()] == ':') {
      const auto eq = l.find('=');
      if (eq != std::string_view::npos) {
        return std::string{trim(l.substr(eq + 1))};
      }
    }
  }
  return {};
}

auto read_small_file(const std::filesystem::path& path) -> std::optional<std::string> {
  std::ifstream in{path};
  if (!in) {
    return std::nullopt;
  }
  return std::string{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

}  // namespace

// --- options -------------------------------------------------------------------------------------------------------

options::options(std::span<char* const> args, std::initializer_list<std::string_view> valued,
                 std::initializer_list<std::string_view> flags, std::initializer_list<std::string_view> repeatable) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (!arg.starts_with("--")) {
      positional_.emplace_back(arg);
      continue;
    }
    const auto name = arg.substr(2);
    if (std::ranges::find(flags, name) != flags.end()) {
      flags_.emplace_back(name);
      continue;
    }
    const bool is_repeatable = std::ranges::find(repeatable, name) != repeatable.end();
    if (std::ranges::find(valued, name) == valued.end() && !is_repeatable) {
      throw usage_error{std::format("unknown option \"{}\"", arg)};
    }
    if (i + 1 == args.size()) {
      throw usage_error{std::format("option \"{}\" needs a value", arg)};
    }
    if (!is_repeatable && has(name)) {
      throw usage_error{std::format("option \"{}\" given twice", arg)};
    }
    values_.emplace_back(name, args[++i]);
  }
}

auto options::has(std::string_view name) const -> bool {
  return std::ranges::find(flags_, name) != flags_.end() ||
         std::ranges::any_of(values_, [&](const auto& v) { return v.first == name; });
}

auto options::get(std::string_view name) const -> std::optional<std::string> {
  for (const auto& [key, value] : values_) {
    if (key == name) {
      return value;
    }
  }
  return std::nullopt;
}

auto options::get_or(std::string_view name, std::string_view fallback) const -> std::string {
  return get(name).value_or(std::string{fallback});
}

auto options::all(std::string_view name) const -> std::vector<std::string> {
  std::vector<std::string> out;
  for (const auto& [key, value] : values_) {
    if (key == name) {
      out.push_back(value);
    }
  }
  return out;
}

auto options::number(std::string_view name, double fallback, double low, double high) const -> double {
  const auto text = get(name);
  if (!text) {
    return fallback;
  }
  // libc++ 19 has no floating-point from_chars; strtod in the "C" locale, with the whole text consumed.
  char* end = nullptr;
  const double value = std::strtod(text->c_str(), &end);
  if (text->empty() || end != text->c_str() + text->size() || std::isnan(value) || value < low || value > high) {
    throw usage_error{std::format("--{} must be a number from {} to {}, not \"{}\"", name, low, high, *text)};
  }
  return value;
}

auto options::count(std::string_view name, std::size_t fallback, std::size_t low, std::size_t high) const
    -> std::size_t {
  const auto text = get(name);
  if (!text) {
    return fallback;
  }
  std::size_t value = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc{} || end != text->data() + text->size() || value < low || value > high) {
    throw usage_error{std::format("--{} must be a whole number from {} to {}, not \"{}\"", name, low, high, *text)};
  }
  return value;
}

// --- processes -----------------------------------------------------------------------------------------------------

auto run_process(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                 const std::filesystem::path& stdout_file, const std::filesystem::path& stderr_file,
                 const std::filesystem::path& cwd) -> int {
  if (argv.empty()) {
    throw failure{"run_process: empty command"};
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry{*e};
    const auto key = entry.substr(0, entry.find('=') + 1);
    if (std::ranges::none_of(extra_env, [&](const std::string& x) { return x.starts_with(key); })) {
      env_strings.emplace_back(entry);
    }
  }
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> env_ptrs;
  env_ptrs.reserve(env_strings.size() + 1);
  for (auto& s : env_strings) {
    env_ptrs.push_back(s.data());
  }
  env_ptrs.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> arg_ptrs;
  arg_ptrs.reserve(args.size() + 1);
  for (auto& s : args) {
    arg_ptrs.push_back(s.data());
  }
  arg_ptrs.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const auto out = stdout_file.empty() ? std::string{"/dev/null"} : stdout_file.string();
  const auto err = stderr_file.empty() ? std::string{"/dev/null"} : stderr_file.string();
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  }
  pid_t pid = 0;
  const int rc = argv.front().contains('/')
                     ? ::posix_spawn(&pid, arg_ptrs.front(), &actions, nullptr, arg_ptrs.data(), env_ptrs.data())
                     : ::posix_spawnp(&pid, arg_ptrs.front(), &actions, nullptr, arg_ptrs.data(), env_ptrs.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw failure{std::format("cannot start {}: {}", argv.front(), std::generic_category().message(rc))};
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      throw failure{std::format("waiting for {}: {}", argv.front(), std::generic_category().message(errno))};
    }
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}

scratch_dir::scratch_dir() {
  const auto base = std::filesystem::temp_directory_path();
  std::string templ = (base / "vmm-bench.XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) {
    throw failure{std::format("cannot create a temporary directory in {}: {}", base.string(),
                              std::generic_category().message(errno))};
  }
  path_ = templ;
}

scratch_dir::~scratch_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

auto capture(const std::vector<std::string>& argv, const std::filesystem::path& cwd) -> std::optional<std::string> {
  try {
    const scratch_dir dir;
    const auto out = dir.path() / "stdout";
    if (run_process(argv, {}, out, {}, cwd) != 0) {
      return std::nullopt;
    }
    auto text = read_small_file(out).value_or("");
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
      text.pop_back();
    }
    return text;
  } catch (const failure&) {
    return std::nullopt;
  }
}

auto slurp(const std::filesystem::path& path) -> std::string {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    throw failure{std::format("{}: cannot open the file", path.string())};
  }
  return std::string{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

auto load_manifest(const std::filesystem::path& path) -> results::manifest {
  auto m = results::parse_manifest(slurp(path));
  if (!m) {
    throw failure{std::format("{}: {}", path.string(), m.error())};
  }
  return std::move(*m);
}

// --- context -------------------------------------------------------------------------------------------------------

auto collect_context(const std::filesystem::path& build_dir, const std::filesystem::path& source_dir)
    -> results::context {
  results::context c;
  const auto git = [&](std::initializer_list<std::string> args) {
    std::vector<std::string> argv{"git", "-C", source_dir.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return capture(argv);
  };
  auto commit = git({"rev-parse", "HEAD"});
  if (!commit) {
    throw failure{
        std::format("{} is not a git checkout with a commit (needed to label the results)", source_dir.string())};
  }
  c.commit = *commit;
  c.branch = git({"symbolic-ref", "--short", "-q", "HEAD"}).value_or("");
  c.commit_date = git({"show", "-s", "--format=%cI", "HEAD"}).value_or("");
  c.dirty = !git({"status", "--porcelain", "--untracked-files=no"}).value_or("").empty();
  c.run_date = now_utc();

  if (const auto cache = read_small_file(build_dir / "CMakeCache.txt")) {
    const auto compiler = cache_value(*cache, "CMAKE_CXX_COMPILER");
    const auto version = capture({compiler, "--version"}).value_or("");
    c.compiler = std::format("{} ({})", compiler, trim(version.substr(0, version.find('\n'))));
    c.build_type = cache_value(*cache, "CMAKE_BUILD_TYPE");
    std::string upper = c.build_type;
    std::ranges::transform(upper, upper.begin(), [](char ch) { return static_cast<char>(std::toupper(ch)); });
    c.cxx_flags = std::string{trim(
        std::format("{} {}", cache_value(*cache, "CMAKE_CXX_FLAGS"), cache_value(*cache, "CMAKE_CXX_FLAGS_" + upper)))};
  }

  if (const auto cpuinfo = read_small_file("/proc/cpuinfo")) {
    for (const auto line : std::views::split(std::string_view{*cpuinfo}, '\n')) {
      const std::string_view l{line.begin(), line.end()};
      if (l.starts_with("model name")) {
        c.cpu_model = std::string{trim(l.substr(l.find(':') + 1))};
        break;
      }
    }
  }
  c.cpu_count = static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  c.governor = std::string{
      trim(read_small_file("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").value_or("unavailable"))};
  const auto aslr = read_small_file("/proc/sys/kernel/randomize_va_space").value_or("-1");
  c.aslr = std::atoi(aslr.c_str());  // NOLINT(cert-err34-c): -1 (unknown) and 0..2 are all the values there are
  if (const auto load = read_small_file("/proc/loadavg")) {
    std::istringstream in{*load};
    in >> c.load_average[0] >> c.load_average[1] >> c.load_average[2];
  }
  utsname u{};
  if (::uname(&u) == 0) {
    c.kernel = std::format("{} {} {} {}", u.sysname, u.release, u.version, u.machine);
  }

  if (c.governor != "unavailable" && c.governor != "performance") {
    c.noisy_reasons.push_back(std::format("CPU frequency governor is {}, not performance", c.governor));
  }
  if (c.load_average[0] > 0.5 * c.cpu_count) {
    c.noisy_reasons.push_back(
        std::format("load average {:.2f} on {} CPUs when the run started", c.load_average[0], c.cpu_count));
  }
  c.noisy = !c.noisy_reasons.empty();
  return c;
}

// --- running benches -----------------------------------------------------------------------------------------------

auto list_benchmarks(const std::filesystem::path& executable, const std::string& filter,
                     const std::vector<std::string>& env) -> std::vector<std::string> {
  if (!std::filesystem::exists(executable)) {
    throw failure{std::format("{}: no such bench executable (was it built?)", executable.string())};
  }
  const scratch_dir dir;
  const auto out = dir.path() / "list";
  const auto err = dir.path() / "err";
  const int rc =
      run_process({executable.string(), "--benchmark_list_tests=true", std::format("--benchmark_filter={}", filter)},
                  env, out, err);
  if (rc != 0) {
    throw failure{std::format("{} --benchmark_list_tests failed (exit {}): {}", executable.string(), rc,
                              trim(read_small_file(err).value_or("")))};
  }
  std::vector<std::string> names;
  for (const auto line : std::views::split(read_small_file(out).value_or(""), '\n')) {
    const auto name = trim(std::string_view{line.begin(), line.end()});
    if (!name.empty()) {
      names.emplace_back(name);
    }
  }
  return names;
}

auto run_bench(const std::filesystem::path& executable, const std::string& filter, const bench_settings& settings,
               const std::filesystem::path& scratch) -> results::google_benchmark_output {
  const auto json_out = scratch / "bench.json";
  const auto err = scratch / "bench.err";
  std::error_code ec;
  std::filesystem::remove(json_out, ec);
  const int rc = run_process({executable.string(), std::format("--benchmark_filter={}", filter),
                              std::format("--benchmark_repetitions={}", settings.repetitions),
                              std::format("--benchmark_min_time={}", settings.min_time),
                              "--benchmark_report_aggregates_only=false", "--benchmark_display_aggregates_only=true",
                              std::format("--benchmark_out={}", json_out.string()), "--benchmark_out_format=json"},
                             settings.env, {}, err);
  if (rc != 0) {
    throw failure{
        std::format("{} exited with status {}: {}", executable.string(), rc, trim(read_small_file(err).value_or("")))};
  }
  auto text = read_small_file(json_out);
  if (!text) {
    throw failure{std::format("{} wrote no JSON output", executable.string())};
  }
  auto parsed = results::parse_google_benchmark(*text, executable.filename().string());
  if (!parsed) {
    throw failure{std::format("{}: its output: {}", executable.string(), parsed.error())};
  }
  if (!parsed->errors.empty()) {
    throw failure{std::format("{}: benchmark failed: {}", executable.string(), parsed->errors.front())};
  }
  return std::move(*parsed);
}

// --- defaults ------------------------------------------------------------------------------------------------------

auto default_source_dir() -> std::filesystem::path {
  if (auto top = capture({"git", "rev-parse", "--show-toplevel"})) {
    return *top;
  }
  return std::filesystem::current_path();
}

namespace {

// The highest-numbered CPU of `allowed` (none when it is empty).
auto last_cpu_of(const cpu_set_t& allowed) -> cpu_set_t {
  cpu_set_t wanted;
  CPU_ZERO(&wanted);
  for (int cpu = CPU_SETSIZE - 1; cpu >= 0; --cpu) {
    if (CPU_ISSET(cpu, &allowed)) {
      CPU_SET(cpu, &wanted);
      break;
    }
  }
  return wanted;
}

// One CPU number of the --cpus list `spec`.
auto parse_cpu(std::string_view text, std::string_view spec) -> int {
  int value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 0 || value >= CPU_SETSIZE) {
    throw usage_error{std::format("--cpus takes all, last or a list like 0,2-3, not \"{}\"", spec)};
  }
  return value;
}

// The CPUs of a --cpus list like 0,2-3.
auto parse_cpu_list(std::string_view spec) -> cpu_set_t {
  cpu_set_t wanted;
  CPU_ZERO(&wanted);
  for (const auto part : std::views::split(spec, ',')) {
    const std::string_view range{part.begin(), part.end()};
    const auto dash = range.find('-');
    const int first = parse_cpu(range.substr(0, dash), spec);
    const int last = dash == std::string_view::npos ? first : parse_cpu(range.substr(dash + 1), spec);
    if (last < first) {
      throw usage_error{std::format("--cpus: range \"{}\" runs backwards", range)};
    }
    for (int cpu = first; cpu <= last; ++cpu) {
      CPU_SET(cpu, &wanted);
    }
  }
  return wanted;
}

// The CPUs of `set` as "0,2,3".
auto cpu_list_text(const cpu_set_t& set) -> std::string {
  std::string list;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) {
      list += std::format("{}{}", list.empty() ? "" : ",", cpu);
    }
  }
  return list;
}

}  // namespace

auto pin_to_cpus(std::string_view spec) -> std::string {
  if (spec == "all") {
    return "not pinned";
  }
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    throw failure{std::format("sched_getaffinity: {}", std::system_category().message(errno))};
  }
  const cpu_set_t wanted = spec == "last" ? last_cpu_of(allowed) : parse_cpu_list(spec);
  if (::sched_setaffinity(0, sizeof wanted, &wanted) != 0) {
    throw failure{std::format("cannot pin to CPUs {}: {}", spec, std::system_category().message(errno))};
  }
  return std::format("pinned to CPU {}", cpu_list_text(wanted));
}

auto default_store() -> std::filesystem::path {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any thread starts
  if (const char* store = std::getenv("VMM_BENCH_STORE"); store != nullptr && *store != '\0') {
    return store;
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any thread starts
  if (const char* data = std::getenv("XDG_DATA_HOME"); data != nullptr && *data != '\0') {
    return std::filesystem::path{data} / "cpp-vmm" / "results";
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any thread starts
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path{home} / ".local" / "share" / "cpp-vmm" / "results";
  }
  throw failure{"no results store: set --store, VMM_BENCH_STORE or HOME"};
}

auto default_machine() -> std::string {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any thread starts
  if (const char* machine = std::getenv("VMM_BENCH_MACHINE"); machine != nullptr && *machine != '\0') {
    return machine;
  }
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) {
    return "localhost";
  }
  std::string name;
  for (const char c : std::string_view{host.data()}) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    name += ok ? c : '-';
  }
  while (name.starts_with('.')) {
    name.erase(0, 1);
  }
  if (name.size() > 64) {
    name.resize(64);
  }
  return name.empty() ? std::string{"localhost"} : name;
}

auto load_store(const std::filesystem::path& store) -> results::store_contents {
  auto contents = results::read_store(store);
  if (!contents) {
    throw failure{contents.error()};
  }
  for (const auto& [path, reason] : contents->problems) {
    std::println(std::cerr, "vmm-bench: skipping {}: {}", path.string(), reason);
  }
  return std::move(*contents);
}

auto median_primary_time(const results::benchmark& b) -> double {
  std::vector<double> times;
  times.reserve(b.repetitions.size());
  for (const auto& rep : b.repetitions) {
    times.push_back(b.primary_time(rep));
  }
  if (times.empty()) {
    return 0;
  }
  std::ranges::sort(times);
  const auto mid = times.size() / 2;
  return times.size() % 2 != 0 ? times[mid] : std::midpoint(times[mid - 1], times[mid]);
}

auto format_time(double ns) -> std::string {
  if (ns < 1e3) {
    return std::format("{:.1f} ns", ns);
  }
  if (ns < 1e6) {
    return std::format("{:.2f} µs", ns / 1e3);
  }
  if (ns < 1e9) {
    return std::format("{:.2f} ms", ns / 1e6);
  }
  return std::format("{:.2f} s", ns / 1e9);
}

auto format_duration(std::chrono::duration<double> d) -> std::string {
  const auto total = static_cast<long>(std::max(0.0, d.count()));
  return std::format("{}:{:02}", total / 60, total % 60);
}

auto now_utc() -> std::string {
  return std::format("{:%FT%TZ}", std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
}

}  // namespace vmm::bench::tool

namespace vmm::bench::tool {

auto build_histories(const results::store_contents& store, const std::optional<std::string>& machine,
                     const std::optional<std::string>& profile) -> histories {
  histories out;
  for (const auto& [path, r] : store.runs) {
    if ((!machine || r.machine == *machine) && (!profile || r.profile == *profile)) {
      out.runs.push_back(&r);
    }
  }
  // Commit order first: a rerun of an old commit belongs at that commit, not at the end.
  std::ranges::stable_sort(out.runs, [](const results::run* a, const results::run* b) {
    return std::tie(a->machine, a->ctx.commit_date, a->ctx.run_date) <
           std::tie(b->machine, b->ctx.commit_date, b->ctx.run_date);
  });
  std::map<std::pair<std::string, std::string>, std::vector<history_point>> by_key;
  for (std::size_t i = 0; i < out.runs.size(); ++i) {
    for (const auto& b : out.runs[i]->benchmarks) {
      if (b.repetitions.empty()) {
        continue;
      }
      std::vector<double> times;
      times.reserve(b.repetitions.size());
      for (const auto& rep : b.repetitions) {
        times.push_back(b.primary_time(rep));
      }
      std::ranges::sort(times);
      const auto quantile = [&](double q) {
        const double at = q * static_cast<double>(times.size() - 1);
        const auto lo = static_cast<std::size_t>(std::floor(at));
        const auto hi = std::min(lo + 1, times.size() - 1);
        return std::lerp(times[lo], times[hi], at - static_cast<double>(lo));
      };
      by_key[{out.runs[i]->machine, b.key()}].push_back(history_point{.run = i,
                                                                      .median = quantile(0.5),
                                                                      .min = times.front(),
                                                                      .max = times.back(),
                                                                      .q1 = quantile(0.25),
                                                                      .q3 = quantile(0.75),
                                                                      .n = times.size()});
    }
  }
  for (auto& [key, points] : by_key) {
    out.series.push_back(history{.machine = key.first, .benchmark = key.second, .points = std::move(points)});
  }
  return out;
}

}  // namespace vmm::bench::tool
