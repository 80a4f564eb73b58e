module;
#include <fcntl.h>
#include <cerrno>
#include <unistd.h>

#include <nlohmann/json.hpp>
module vmm.bench.results;
import std;

namespace vmm::bench::results {
namespace {

// ordered_json: objects keep their members in file order, so manifest thresholds are tried in the order written and
// a run's counters survive to_json / parse_run unchanged.
using json = nlohmann::ordered_json;

// A problem, or nothing: the checks below return std::nullopt when all is well.
using check = std::optional<problem>;

auto parse_json(std::string_view text) -> outcome<json> {
  auto doc = json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded()) {
    return std::unexpected("not valid JSON (truncated or corrupt)");
  }
  return doc;
}

// Typed field access with the JSON path in every problem.
auto get_string(const json& object, std::string_view key, std::string_view where) -> outcome<std::string> {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return std::unexpected(std::format("{}.{} is missing or not a string", where, key));
  }
  return it->get<std::string>();
}

auto get_bool(const json& object, std::string_view key, std::string_view where) -> outcome<bool> {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_boolean()) {
    return std::unexpected(std::format("{}.{} is missing or not true/false", where, key));
  }
  return it->get<bool>();
}

auto get_number(const json& object, std::string_view key, std::string_view where) -> outcome<double> {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number()) {
    return std::unexpected(std::format("{}.{} is missing or not a number", where, key));
  }
  const auto value = it->get<double>();
  if (!std::isfinite(value)) {
    return std::unexpected(std::format("{}.{} is not a finite number", where, key));
  }
  return value;
}

auto get_int(const json& object, std::string_view key, std::string_view where) -> outcome<std::int64_t> {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) {
    return std::unexpected(std::format("{}.{} is missing or not an integer", where, key));
  }
  return it->get<std::int64_t>();
}

auto narrow_int(std::int64_t value, std::string_view what) -> outcome<int> {
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
    return std::unexpected(std::format("{} is out of range", what));
  }
  return static_cast<int>(value);
}

auto get_string_list(const json& object, std::string_view key, std::string_view where)
    -> outcome<std::vector<std::string>> {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_array()) {
    return std::unexpected(std::format("{}.{} is missing or not a list", where, key));
  }
  std::vector<std::string> out;
  for (const auto& item : *it) {
    if (!item.is_string()) {
      return std::unexpected(std::format("{}.{} holds a non-string", where, key));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

auto is_hex(std::string_view text) -> bool {
  return std::ranges::all_of(text, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// --- Google Benchmark output -------------------------------------------------------------------------------------

auto read_counters(const json& entry) -> std::vector<std::pair<std::string, double>> {
  // Google Benchmark writes user counters as extra numeric members of the entry; everything it writes itself is
  // known, so whatever numeric member is left is a counter.
  static constexpr std::array known{
      "name",
      "family_index",
      "per_family_instance_index",
      "run_name",
      "run_type",
      "repetitions",
      "repetition_index",
      "threads",
      "iterations",
      "real_time",
      "cpu_time",
      "time_unit",
      "aggregate_name",
      "aggregate_unit",
      "error_occurred",
      "error_message",
      "label",
      "big_o",
      "rms",
      "complexity_n",
  };
  std::vector<std::pair<std::string, double>> counters;
  for (const auto& [key, value] : entry.items()) {
    if (!value.is_number() || std::ranges::find(known, key) != known.end()) {
      continue;
    }
    const auto number = value.get<double>();
    if (std::isfinite(number)) {
      counters.emplace_back(key, number);
    }
  }
  return counters;
}

auto read_repetition(const json& entry, std::string_view name) -> outcome<repetition> {
  const auto where = std::format("benchmark \"{}\"", name);
  repetition rep;
  const auto unit_it = entry.find("time_unit");
  const std::string unit = unit_it != entry.end() && unit_it->is_string() ? unit_it->get<std::string>() : "ns";
  for (auto [key, slot] : {std::pair{"real_time", &rep.real_time}, std::pair{"cpu_time", &rep.cpu_time}}) {
    auto value = get_number(entry, key, where);
    if (!value) {
      return std::unexpected(value.error());
    }
    if (*value < 0) {
      return std::unexpected(std::format("{}.{} is negative", where, key));
    }
    const auto ns = to_nanoseconds(*value, unit);
    if (!ns) {
      return std::unexpected(std::format("{} has unknown time_unit \"{}\"", where, unit));
    }
    *slot = *ns;
  }
  auto iterations = get_int(entry, "iterations", where);
  if (!iterations) {
    return std::unexpected(iterations.error());
  }
  if (*iterations < 0) {
    return std::unexpected(std::format("{}.iterations is negative", where));
  }
  rep.iterations = *iterations;
  rep.counters = read_counters(entry);
  return rep;
}

// --- run files ---------------------------------------------------------------------------------------------------

auto context_to_json(const context& c) -> json {
  json gb = json::parse(c.google_benchmark, nullptr, false);
  if (gb.is_discarded() || !gb.is_object()) {
    gb = json::object();
  }
  return json{
      {"commit", c.commit},
      {"branch", c.branch},
      {"commit_date", c.commit_date},
      {"dirty", c.dirty},
      {"run_date", c.run_date},
      {"compiler", c.compiler},
      {"build_type", c.build_type},
      {"cxx_flags", c.cxx_flags},
      {"cpu_model", c.cpu_model},
      {"cpu_count", c.cpu_count},
      {"governor", c.governor},
      {"aslr", c.aslr},
      {"load_average", c.load_average},
      {"kernel", c.kernel},
      {"google_benchmark", gb},
      {"noisy", c.noisy},
      {"noisy_reasons", c.noisy_reasons},
  };
}

auto context_from_json(const json& j) -> outcome<context> {
  constexpr std::string_view where = "context";
  if (!j.is_object()) {
    return std::unexpected("context is not an object");
  }
  context c;
  for (auto [key, slot] : {
           std::pair{"commit", &c.commit},
           std::pair{"branch", &c.branch},
           std::pair{"commit_date", &c.commit_date},
           std::pair{"run_date", &c.run_date},
           std::pair{"compiler", &c.compiler},
           std::pair{"build_type", &c.build_type},
           std::pair{"cxx_flags", &c.cxx_flags},
           std::pair{"cpu_model", &c.cpu_model},
           std::pair{"governor", &c.governor},
           std::pair{"kernel", &c.kernel},
       }) {
    auto value = get_string(j, key, where);
    if (!value) {
      return std::unexpected(value.error());
    }
    *slot = std::move(*value);
  }
  if (c.commit.size() < 4 || c.commit.size() > 64 || !is_hex(c.commit)) {
    return std::unexpected("context.commit is not 4 to 64 lower-case hex digits");
  }
  for (auto [key, slot] : {std::pair{"dirty", &c.dirty}, std::pair{"noisy", &c.noisy}}) {
    auto value = get_bool(j, key, where);
    if (!value) {
      return std::unexpected(value.error());
    }
    *slot = *value;
  }
  for (auto [key, slot] : {std::pair{"cpu_count", &c.cpu_count}, std::pair{"aslr", &c.aslr}}) {
    auto value = get_int(j, key, where);
    if (!value) {
      return std::unexpected(value.error());
    }
    auto narrowed = narrow_int(*value, std::format("context.{}", key));
    if (!narrowed) {
      return std::unexpected(narrowed.error());
    }
    *slot = *narrowed;
  }
  const auto load = j.find("load_average");
  if (load == j.end() || !load->is_array() || load->size() != 3 ||
      !std::ranges::all_of(*load, [](const json& x) { return x.is_number() && std::isfinite(x.get<double>()); })) {
    return std::unexpected("context.load_average is not a list of 3 numbers");
  }
  for (std::size_t i = 0; i < 3; ++i) {
    c.load_average.at(i) = (*load)[i].get<double>();
  }
  const auto gb = j.find("google_benchmark");
  if (gb == j.end() || !gb->is_object()) {
    return std::unexpected("context.google_benchmark is missing or not an object");
  }
  c.google_benchmark = gb->dump(-1, ' ', false, json::error_handler_t::replace);
  auto reasons = get_string_list(j, "noisy_reasons", where);
  if (!reasons) {
    return std::unexpected(reasons.error());
  }
  c.noisy_reasons = std::move(*reasons);
  return c;
}

auto repetition_from_json(const json& rj, std::string_view rwhere) -> outcome<repetition> {
  if (!rj.is_object()) {
    return std::unexpected(std::format("{} is not an object", rwhere));
  }
  repetition rep;
  auto real = get_number(rj, "real_time", rwhere);
  auto cpu = get_number(rj, "cpu_time", rwhere);
  auto iterations = get_int(rj, "iterations", rwhere);
  if (!real) {
    return std::unexpected(real.error());
  }
  if (!cpu) {
    return std::unexpected(cpu.error());
  }
  if (!iterations) {
    return std::unexpected(iterations.error());
  }
  if (*real < 0 || *cpu < 0 || *iterations < 0) {
    return std::unexpected(std::format("{} has a negative time or iteration count", rwhere));
  }
  rep.real_time = *real;
  rep.cpu_time = *cpu;
  rep.iterations = *iterations;
  const auto counters = rj.find("counters");
  if (counters == rj.end() || !counters->is_object()) {
    return std::unexpected(std::format("{}.counters is missing or not an object", rwhere));
  }
  for (const auto& [key, value] : counters->items()) {
    if (!value.is_number() || !std::isfinite(value.get<double>())) {
      return std::unexpected(std::format("{}.counters.{} is not a finite number", rwhere, key));
    }
    rep.counters.emplace_back(key, value.get<double>());
  }
  return rep;
}

auto benchmark_from_json(const json& j, std::size_t index) -> outcome<benchmark> {
  const auto where = std::format("benchmarks[{}]", index);
  if (!j.is_object()) {
    return std::unexpected(std::format("{} is not an object", where));
  }
  benchmark b;
  auto executable = get_string(j, "executable", where);
  auto name = get_string(j, "name", where);
  if (!executable) {
    return std::unexpected(executable.error());
  }
  if (!name) {
    return std::unexpected(name.error());
  }
  if (executable->empty() || name->empty()) {
    return std::unexpected(std::format("{} has an empty executable or name", where));
  }
  b.executable = std::move(*executable);
  b.name = std::move(*name);
  const auto reps = j.find("repetitions");
  if (reps == j.end() || !reps->is_array()) {
    return std::unexpected(std::format("{}.repetitions is missing or not a list", where));
  }
  for (std::size_t r = 0; r < reps->size(); ++r) {
    auto rep = repetition_from_json((*reps)[r], std::format("{}.repetitions[{}]", where, r));
    if (!rep) {
      return std::unexpected(rep.error());
    }
    b.repetitions.push_back(std::move(*rep));
  }
  return b;
}

// The string member `key` of `object`, or `fallback` when it is absent or not a string.
auto string_or(const json& object, std::string_view key, std::string_view fallback) -> std::string {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{fallback};
}

// Whether the boolean member `key` of `object` is present and true.
auto flag_set(const json& object, std::string_view key) -> bool {
  const auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

// The run file's schema and schema_version; std::nullopt when this vmm-bench can read it.
auto check_run_header(const json& doc) -> check {
  if (!doc.is_object() || !doc.contains("schema") || doc["schema"] != "cpp-vmm.bench.run") {
    return R"(not a vmm-bench run file (no "schema": "cpp-vmm.bench.run"))";
  }
  auto version = get_int(doc, "schema_version", "run");
  if (!version) {
    return version.error();
  }
  if (*version > schema_version) {
    return std::format("schema_version {} was written by a newer vmm-bench (this one reads up to {})", *version,
                       schema_version);
  }
  if (*version < 1) {
    return std::format("schema_version {} is not a valid version", *version);
  }
  return std::nullopt;
}

// The run's "benchmarks" list into r.benchmarks, each key at most once.
auto read_run_benchmarks(const json& doc, run& r) -> check {
  const auto benchmarks = doc.find("benchmarks");
  if (benchmarks == doc.end() || !benchmarks->is_array()) {
    return "run.benchmarks is missing or not a list";
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < benchmarks->size(); ++i) {
    auto b = benchmark_from_json((*benchmarks)[i], i);
    if (!b) {
      return b.error();
    }
    if (!seen.insert(b->key()).second) {
      return std::format("benchmarks[{}]: {} appears twice", i, b->key());
    }
    r.benchmarks.push_back(std::move(*b));
  }
  return std::nullopt;
}

auto write_all(int fd, std::string_view text) -> bool {
  while (!text.empty()) {
    const auto written = ::write(fd, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    text.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

auto os_problem(std::string_view what, const std::filesystem::path& path) -> problem {
  return std::format("{}: {}: {}", path.string(), what, std::system_category().message(errno));
}

// JSON has no NaN or infinity: such a value would be written as null and make the file unreadable.
auto non_finite_value(const run& r) -> std::optional<std::string> {
  for (const auto& b : r.benchmarks) {
    for (const auto& rep : b.repetitions) {
      bool finite = std::isfinite(rep.real_time) && std::isfinite(rep.cpu_time);
      for (const auto& [key, value] : rep.counters) {
        finite = finite && std::isfinite(value);
      }
      if (!finite) {
        return b.key();
      }
    }
  }
  if (!std::ranges::all_of(r.ctx.load_average, [](double x) { return std::isfinite(x); })) {
    return "context.load_average";
  }
  return std::nullopt;
}

// One entry of Google Benchmark's "benchmarks" array into `out`: a repetition of its benchmark (first appearance
// order kept by `index`, name → position in out.benchmarks), an error, or nothing for an aggregate.
auto add_google_benchmark_entry(const json& entry, std::string_view executable,
                                std::map<std::string, std::size_t>& index, google_benchmark_output& out) -> check {
  if (!entry.is_object()) {
    return "a benchmarks entry is not an object";
  }
  auto name = get_string(entry, "name", "a benchmarks entry");
  if (!name) {
    return name.error();
  }
  if (string_or(entry, "run_type", "") == "aggregate") {
    return std::nullopt;  // computed again from the repetitions, with the statistics the pipeline trusts
  }
  const std::string run_name = string_or(entry, "run_name", *name);
  if (run_name.empty()) {
    return "a benchmarks entry has an empty name";
  }
  if (flag_set(entry, "error_occurred")) {
    out.errors.push_back(std::format("{}: {}", run_name, string_or(entry, "error_message", "error_occurred")));
    return std::nullopt;
  }
  auto rep = read_repetition(entry, run_name);
  if (!rep) {
    return rep.error();
  }
  auto [it, inserted] = index.try_emplace(run_name, out.benchmarks.size());
  if (inserted) {
    out.benchmarks.push_back(benchmark{.executable = std::string{executable}, .name = run_name, .repetitions = {}});
  }
  out.benchmarks[it->second].repetitions.push_back(std::move(*rep));
  return std::nullopt;
}

auto read_file(const std::filesystem::path& path) -> outcome<std::string> {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return std::unexpected(std::format("{}: cannot open the file", path.string()));
  }
  std::string text;
  std::array<char, 65536> buffer{};
  for (;;) {
    const auto got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      auto why = os_problem("cannot read the file", path);
      ::close(fd);
      return std::unexpected(std::move(why));
    }
    if (got == 0) {
      break;
    }
    text.append(buffer.data(), static_cast<std::size_t>(got));
  }
  ::close(fd);
  return text;
}

}  // namespace

auto to_nanoseconds(double value, std::string_view unit) -> std::optional<double> {
  if (unit == "ns") {
    return value;
  }
  if (unit == "us") {
    return value * 1e3;
  }
  if (unit == "ms") {
    return value * 1e6;
  }
  if (unit == "s") {
    return value * 1e9;
  }
  return std::nullopt;
}

auto regex_escape(std::string_view text) -> std::string {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    // POSIX extended (Google Benchmark's filter grammar): ']' and '}' are literal outside a bracket expression, and
    // escaping them would be an error.
    if (std::string_view{R"(\^$.|?*+()[{)"}.contains(c)) {
      out += '\\';
    }
    out += c;
  }
  return out;
}

auto parse_google_benchmark(std::string_view text, std::string_view executable) -> outcome<google_benchmark_output> {
  auto doc = parse_json(text);
  if (!doc) {
    return std::unexpected(doc.error());
  }
  if (!doc->is_object()) {
    return std::unexpected("not a JSON object (is this Google Benchmark JSON output?)");
  }
  const auto entries = doc->find("benchmarks");
  if (entries == doc->end() || !entries->is_array()) {
    return std::unexpected(R"(no "benchmarks" array (is this Google Benchmark JSON output?))");
  }
  google_benchmark_output out;
  const auto ctx = doc->find("context");
  out.context =
      ctx != doc->end() && ctx->is_object() ? ctx->dump(-1, ' ', false, json::error_handler_t::replace) : "{}";
  std::map<std::string, std::size_t> index;
  for (const auto& entry : *entries) {
    if (const auto why = add_google_benchmark_entry(entry, executable, index, out)) {
      return std::unexpected(*why);
    }
  }
  return out;
}

auto to_json(const run& r) -> std::string {
  json benchmarks = json::array();
  for (const auto& b : r.benchmarks) {
    json reps = json::array();
    for (const auto& rep : b.repetitions) {
      json counters = json::object();
      for (const auto& [key, value] : rep.counters) {
        counters[key] = value;
      }
      reps.push_back(json{{"real_time", rep.real_time},
                          {"cpu_time", rep.cpu_time},
                          {"iterations", rep.iterations},
                          {"counters", counters}});
    }
    benchmarks.push_back(json{{"executable", b.executable}, {"name", b.name}, {"repetitions", reps}});
  }
  const json doc{
      {"schema", "cpp-vmm.bench.run"},
      {"schema_version", schema_version},
      {"machine", r.machine},
      {"profile", r.profile},
      {"complete", r.complete},
      {"time_unit", "ns"},
      {"context", context_to_json(r.ctx)},
      {"benchmarks", benchmarks},
  };
  // Strings read from /proc or a compiler may hold invalid UTF-8: replaced, never a throw.
  return doc.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

auto parse_run(std::string_view text) -> outcome<run> {
  auto doc = parse_json(text);
  if (!doc) {
    return std::unexpected(doc.error());
  }
  if (const auto why = check_run_header(*doc)) {
    return std::unexpected(*why);
  }
  run r;
  auto machine = get_string(*doc, "machine", "run");
  auto profile = get_string(*doc, "profile", "run");
  auto complete = get_bool(*doc, "complete", "run");
  if (!machine) {
    return std::unexpected(machine.error());
  }
  if (!profile) {
    return std::unexpected(profile.error());
  }
  if (!complete) {
    return std::unexpected(complete.error());
  }
  if (!valid_name(*machine) || !valid_name(*profile)) {
    return std::unexpected("run.machine or run.profile is not 1 to 64 of [A-Za-z0-9._-]");
  }
  if (!doc->contains("time_unit") || (*doc)["time_unit"] != "ns") {
    return std::unexpected(R"(run.time_unit is not "ns")");
  }
  r.machine = std::move(*machine);
  r.profile = std::move(*profile);
  r.complete = *complete;
  const auto ctx = doc->find("context");
  if (ctx == doc->end()) {
    return std::unexpected("run.context is missing");
  }
  auto c = context_from_json(*ctx);
  if (!c) {
    return std::unexpected(c.error());
  }
  r.ctx = std::move(*c);
  if (const auto why = read_run_benchmarks(*doc, r)) {
    return std::unexpected(*why);
  }
  return r;
}

auto valid_name(std::string_view name) -> bool {
  return !name.empty() && name.size() <= 64 && name.front() != '.' && std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

auto run_path(const std::filesystem::path& store, const run& r) -> outcome<std::filesystem::path> {
  if (!valid_name(r.machine)) {
    return std::unexpected(std::format("machine name \"{}\" is not 1 to 64 of [A-Za-z0-9._-]", r.machine));
  }
  if (!valid_name(r.profile)) {
    return std::unexpected(std::format("profile name \"{}\" is not 1 to 64 of [A-Za-z0-9._-]", r.profile));
  }
  if (r.ctx.commit.size() < 4 || r.ctx.commit.size() > 64 || !is_hex(r.ctx.commit)) {
    return std::unexpected(std::format("commit \"{}\" is not 4 to 64 lower-case hex digits", r.ctx.commit));
  }
  return store / r.machine / std::format("{}{}.{}.json", r.ctx.commit, r.ctx.dirty ? "-dirty" : "", r.profile);
}

auto write_run(const std::filesystem::path& store, const run& r) -> outcome<std::filesystem::path> {
  auto path = run_path(store, r);
  if (!path) {
    return std::unexpected(path.error());
  }
  if (const auto where = non_finite_value(r)) {
    return std::unexpected(std::format("{} holds NaN or an infinity, which a run file cannot store", *where));
  }
  const auto dir = path->parent_path();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return std::unexpected(std::format("{}: cannot create the directory: {}", dir.string(), ec.message()));
  }
  const auto text = to_json(r);
  // The temporary name starts with '.' and ends in ".tmp", so read_store skips it if a crash leaves it behind.
  const auto temp = dir / std::format(".{}.{}.tmp", path->filename().string(), ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return std::unexpected(os_problem("cannot create", temp));
  }
  const bool ok = write_all(fd, text) && ::fsync(fd) == 0;
  const auto saved = errno;
  ::close(fd);
  if (!ok) {
    errno = saved;
    auto why = os_problem("cannot write", temp);
    std::filesystem::remove(temp, ec);
    return std::unexpected(std::move(why));
  }
  if (::rename(temp.c_str(), path->c_str()) != 0) {
    auto why = os_problem("cannot rename into place", *path);
    std::filesystem::remove(temp, ec);
    return std::unexpected(std::move(why));
  }
  // Make the rename itself durable.
  if (const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return *path;
}

auto read_run(const std::filesystem::path& path) -> outcome<run> {
  auto text = read_file(path);
  if (!text) {
    return std::unexpected(text.error());
  }
  auto r = parse_run(*text);
  if (!r) {
    return std::unexpected(std::format("{}: {}", path.string(), r.error()));
  }
  return r;
}

auto read_store(const std::filesystem::path& store) -> outcome<store_contents> {
  std::error_code ec;
  if (!std::filesystem::is_directory(store, ec)) {
    return std::unexpected(std::format("{}: the results store is not a directory", store.string()));
  }
  store_contents out;
  std::vector<std::filesystem::path> files;
  auto machines = std::filesystem::directory_iterator(store, ec);
  if (ec) {
    return std::unexpected(std::format("{}: cannot list the results store: {}", store.string(), ec.message()));
  }
  for (const auto& machine_dir : machines) {
    const auto machine = machine_dir.path().filename().string();
    if (machine.starts_with('.') || !machine_dir.is_directory(ec)) {
      continue;  // .git and stray files at the top level are not runs
    }
    auto entries = std::filesystem::directory_iterator(machine_dir.path(), ec);
    if (ec) {
      out.problems.push_back({machine_dir.path(), std::format("cannot list the directory: {}", ec.message())});
      continue;
    }
    for (const auto& entry : entries) {
      const auto name = entry.path().filename().string();
      if (name.starts_with('.') || !name.ends_with(".json")) {
        continue;  // temporary files of interrupted writes, and anything that is not a run file
      }
      files.push_back(entry.path());
    }
  }
  std::ranges::sort(files);
  for (const auto& file : files) {
    auto r = read_run(file);
    if (!r) {
      out.problems.push_back({file, r.error()});
      continue;
    }
    auto expected_path = run_path(store, *r);
    if (!expected_path || expected_path->filename() != file.filename() ||
        expected_path->parent_path().filename() != file.parent_path().filename()) {
      out.problems.push_back(
          {file, std::format("{}: its machine, commit or profile does not match its path (expected {})", file.string(),
                             expected_path ? expected_path->string() : expected_path.error())});
      continue;
    }
    out.runs.emplace_back(file, std::move(*r));
  }
  return out;
}

auto manifest::plan(std::string_view profile) const -> std::vector<std::pair<std::string, std::string>> {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& bench : benches) {
    for (const auto& [name, patterns] : bench.profiles) {
      if (name != profile) {
        continue;
      }
      std::string filter;
      for (const auto& pattern : patterns) {
        filter += (filter.empty() ? "" : "|") + pattern;
      }
      out.emplace_back(bench.executable, std::format("^({})$", filter));
    }
  }
  return out;
}

auto manifest::threshold(std::string_view executable_name, std::string_view name) const -> double {
  for (const auto& bench : benches) {
    if (std::filesystem::path{bench.executable}.filename() != executable_name) {
      continue;
    }
    for (const auto& [pattern, value] : bench.thresholds) {
      if (std::regex_match(name.begin(), name.end(), std::regex{pattern, std::regex::extended})) {
        return value;
      }
    }
  }
  return default_threshold;
}

auto manifest::settings(std::string_view executable, std::string_view profile) const -> run_settings {
  for (const auto& bench : benches) {
    if (bench.executable != executable) {
      continue;
    }
    for (const auto& [name, s] : bench.run) {
      if (name == profile) {
        return s;
      }
    }
  }
  return {};
}

namespace {

// Whether `pattern` compiles as POSIX extended, the grammar Google Benchmark compiles its filter with.
auto valid_regex(const std::string& pattern) -> bool {
  try {
    [[maybe_unused]] const std::regex compiled{pattern, std::regex::extended};
    return true;
  } catch (const std::regex_error&) {
    return false;
  }
}

// The patterns of profile `name` of bench `executable`: a non-empty list of non-empty, valid regexes.
auto parse_patterns(const json& patterns, const std::string& name, const std::string& executable)
    -> outcome<std::vector<std::string>> {
  if (!patterns.is_array() || patterns.empty()) {
    return std::unexpected(std::format(R"(profile "{}" of {} is not a non-empty list of patterns)", name, executable));
  }
  std::vector<std::string> list;
  list.reserve(patterns.size());
  for (const auto& pattern : patterns) {
    if (!pattern.is_string() || pattern.get<std::string>().empty()) {
      return std::unexpected(std::format(R"(a pattern of profile "{}" is not a non-empty string)", name));
    }
    if (!valid_regex(pattern.get<std::string>())) {
      return std::unexpected(
          std::format(R"(pattern "{}" of profile "{}" is not a valid regex)", pattern.get<std::string>(), name));
    }
    list.push_back(pattern.get<std::string>());
  }
  return list;
}

// A bench's "profiles" into mb.profiles.
auto parse_profiles(const json& bench, const std::string& where, manifest_bench& mb) -> check {
  const auto profiles = bench.find("profiles");
  if (profiles == bench.end() || !profiles->is_object()) {
    return std::format(R"({} ({}) lacks "profiles")", where, mb.executable);
  }
  for (const auto& [name, patterns] : profiles->items()) {
    if (!valid_name(name)) {
      return std::format(R"({}: profile name "{}" is not 1 to 64 of [A-Za-z0-9._-])", where, name);
    }
    auto list = parse_patterns(patterns, name, mb.executable);
    if (!list) {
      return list.error();
    }
    mb.profiles.emplace_back(name, std::move(*list));
  }
  return std::nullopt;
}

// A bench's optional "thresholds" into mb.thresholds.
auto parse_thresholds(const json& bench, const std::string& where, manifest_bench& mb) -> check {
  const auto thresholds = bench.find("thresholds");
  if (thresholds == bench.end()) {
    return std::nullopt;
  }
  if (!thresholds->is_object()) {
    return std::format("{}.thresholds is not an object", where);
  }
  for (const auto& [pattern, value] : thresholds->items()) {
    if (!valid_regex(pattern)) {
      return std::format(R"({}.thresholds: "{}" is not a valid regex)", where, pattern);
    }
    if (!value.is_number() || !(value.get<double>() > 0) || value.get<double>() > 10) {
      return std::format("{}.thresholds.{} is not a number in (0, 10]", where, pattern);
    }
    mb.thresholds.emplace_back(pattern, value.get<double>());
  }
  return std::nullopt;
}

// One profile's entry of a bench's "run" object (`here` is its JSON path).
auto parse_run_settings(const json& entry, const std::string& here) -> outcome<run_settings> {
  if (!entry.is_object()) {
    return std::unexpected(std::format("{} is not an object", here));
  }
  run_settings rs;
  for (const auto& [key, value] : entry.items()) {
    if (key == "repetitions") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 1 || value.get<std::int64_t>() > 10000) {
        return std::unexpected(std::format("{}.repetitions is not a whole number in [1, 10000]", here));
      }
      rs.repetitions = static_cast<std::size_t>(value.get<std::int64_t>());
    } else if (key == "min_time") {
      if (!value.is_number() || !(value.get<double>() >= 0.001) || value.get<double>() > 3600) {
        return std::unexpected(std::format("{}.min_time is not a number of seconds in [0.001, 3600]", here));
      }
      rs.min_time = value.get<double>();
    } else {
      return std::unexpected(std::format(R"({}: unknown key "{}" (known: repetitions, min_time))", here, key));
    }
  }
  return rs;
}

// A bench's optional "run" into mb.run; each entry names one of the bench's profiles (already in mb.profiles).
auto parse_run_section(const json& bench, const std::string& where, manifest_bench& mb) -> check {
  const auto run = bench.find("run");
  if (run == bench.end()) {
    return std::nullopt;
  }
  if (!run->is_object()) {
    return std::format("{}.run is not an object", where);
  }
  for (const auto& [name, entry] : run->items()) {
    const auto here = std::format("{}.run.{}", where, name);
    if (!std::ranges::any_of(mb.profiles, [&](const auto& p) { return p.first == name; })) {
      return std::format(R"({}: the bench has no profile "{}")", here, name);
    }
    auto rs = parse_run_settings(entry, here);
    if (!rs) {
      return rs.error();
    }
    mb.run.emplace_back(name, *rs);
  }
  return std::nullopt;
}

// benches[i] of the manifest.
auto parse_manifest_bench(const json& bench, std::size_t i) -> outcome<manifest_bench> {
  const auto where = std::format("benches[{}]", i);
  if (!bench.is_object()) {
    return std::unexpected(std::format("{} is not an object", where));
  }
  manifest_bench mb;
  auto executable = get_string(bench, "executable", where);
  if (!executable || executable->empty()) {
    return std::unexpected(std::format(R"({} lacks "executable")", where));
  }
  mb.executable = std::move(*executable);
  for (const auto part : {parse_profiles, parse_thresholds, parse_run_section}) {
    if (auto why = part(bench, where, mb)) {
      return std::unexpected(std::move(*why));
    }
  }
  return mb;
}

}  // namespace

auto parse_manifest(std::string_view text) -> outcome<manifest> {
  auto doc = parse_json(text);
  if (!doc) {
    return std::unexpected(doc.error());
  }
  if (!doc->is_object() || !doc->contains("schema_version") || !(*doc)["schema_version"].is_number_integer() ||
      (*doc)["schema_version"].get<std::int64_t>() != 1) {
    return std::unexpected("not a schema_version 1 bench manifest");
  }
  manifest m;
  if (doc->contains("default_threshold")) {
    auto value = get_number(*doc, "default_threshold", "manifest");
    if (!value || *value <= 0 || *value > 10) {
      return std::unexpected("manifest.default_threshold is not a number in (0, 10]");
    }
    m.default_threshold = *value;
  }
  const auto benches = doc->find("benches");
  if (benches == doc->end() || !benches->is_array()) {
    return std::unexpected(R"(no "benches" array)");
  }
  for (std::size_t i = 0; i < benches->size(); ++i) {
    auto mb = parse_manifest_bench((*benches)[i], i);
    if (!mb) {
      return std::unexpected(mb.error());
    }
    m.benches.push_back(std::move(*mb));
  }
  return m;
}

}  // namespace vmm::bench::results
