// vmm-bench ratios and vmm-bench profile: quick views of Google Benchmark output and of the manifest.
module;
#include <nlohmann/json.hpp>
module vmm.bench.tool;
import std;

namespace vmm::bench::tool {
namespace {

struct measurement {
  double real_time = 0;
  std::string unit;
};

// Times in nanoseconds, whatever unit the file used.
auto to_ns(double value, std::string_view unit) -> std::optional<double> {
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

// Collects name → real time (ns) from one Google Benchmark JSON file. Prefers "median" aggregates.
auto read_results(const std::filesystem::path& path, std::map<std::string, double>& out) -> std::optional<std::string> {
  std::ifstream in{path};
  if (!in) {
    return std::format("{}: cannot open the file", path.string());
  }
  const auto doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded()) {
    return std::format("{}: not valid JSON", path.string());
  }
  if (!doc.is_object() || !doc.contains("benchmarks") || !doc["benchmarks"].is_array()) {
    return std::format("{}: no \"benchmarks\" array (is this Google Benchmark JSON output?)", path.string());
  }
  std::map<std::string, double> singles;
  std::map<std::string, double> medians;
  for (const auto& entry : doc["benchmarks"]) {
    if (!entry.is_object() || !entry.contains("real_time") || !entry["real_time"].is_number() ||
        !entry.contains("name") || !entry["name"].is_string()) {
      return std::format(R"({}: a benchmark entry lacks "name" or a numeric "real_time")", path.string());
    }
    const auto unit = entry.value("time_unit", std::string{"ns"});
    const auto ns = to_ns(entry["real_time"].get<double>(), unit);
    if (!ns) {
      return std::format("{}: unknown time_unit \"{}\" in {}", path.string(), unit, entry["name"].get<std::string>());
    }
    const auto run_type = entry.value("run_type", std::string{"iteration"});
    if (run_type == "aggregate") {
      if (entry.value("aggregate_name", std::string{}) == "median") {
        medians[entry.value("run_name", entry["name"].get<std::string>())] = *ns;
      }
    } else {
      singles.try_emplace(entry.value("run_name", entry["name"].get<std::string>()), *ns);
    }
  }
  for (const auto& [name, ns] : singles) {
    out[name] = ns;
  }
  for (const auto& [name, ns] : medians) {
    out[name] = ns;  // a median over repetitions beats any single repetition
  }
  return std::nullopt;
}

auto ratios_of(std::span<char* const> files) -> int {
  std::map<std::string, double> results;
  for (const char* file : files) {
    if (auto error = read_results(file, results)) {
      std::println(std::cerr, "vmm-bench ratios: {}", *error);
      return 1;
    }
  }
  constexpr std::string_view marker = "baseline_";
  std::println("{:<56} {:>14} {:>14} {:>8}", "benchmark", "time (ns)", "baseline (ns)", "ratio");
  int pairs = 0;
  for (const auto& [name, baseline_ns] : results) {
    const auto at = name.find(marker);
    if (at == std::string::npos) {
      continue;
    }
    const auto subject = name.substr(0, at) + name.substr(at + marker.size());
    const auto found = results.find(subject);
    if (found == results.end()) {
      std::println("{:<56} {:>14} {:>14.1f} {:>8}", subject, "(missing)", baseline_ns, "-");
      continue;
    }
    std::println("{:<56} {:>14.1f} {:>14.1f} {:>7.3f}x", subject, found->second, baseline_ns,
                 found->second / baseline_ns);
    ++pairs;
  }
  if (pairs == 0) {
    std::println("(no benchmark had a BM_<c>_baseline_<op> partner)");
  }
  return 0;
}

// Reads the bench manifest (benches/manifest.json) and prints "executable<TAB>filter" for each executable that has
// benchmarks in `profile`.
auto print_profile(const std::filesystem::path& manifest, std::string_view name) -> int {
  const auto fail = [&](std::string_view why) {
    std::println(std::cerr, "vmm-bench profile: {}: {}", manifest.string(), why);
    return 1;
  };
  std::ifstream in{manifest};
  if (!in) {
    return fail("cannot open the file");
  }
  const auto doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded()) {
    return fail("not valid JSON");
  }
  if (!doc.is_object() || doc.value("schema_version", 0) != 1) {
    return fail("not a schema_version 1 bench manifest");
  }
  if (!doc.contains("benches") || !doc["benches"].is_array()) {
    return fail("no \"benches\" array");
  }
  int printed = 0;
  for (const auto& bench : doc["benches"]) {
    if (!bench.is_object() || !bench.contains("executable") || !bench["executable"].is_string() ||
        !bench.contains("profiles") || !bench["profiles"].is_object()) {
      return fail(R"(a bench entry lacks "executable" or "profiles")");
    }
    const auto& profiles = bench["profiles"];
    if (!profiles.contains(name)) {
      continue;
    }
    if (!profiles[name].is_array() || profiles[name].empty()) {
      return fail(std::format("profile \"{}\" of {} is not a non-empty list of patterns", name,
                              bench["executable"].get<std::string>()));
    }
    std::string filter;
    for (const auto& pattern : profiles[name]) {
      if (!pattern.is_string()) {
        return fail(std::format("a pattern of profile \"{}\" is not a string", name));
      }
      filter += (filter.empty() ? "" : "|") + pattern.get<std::string>();
    }
    std::println("{}\t^({})$", bench["executable"].get<std::string>(), filter);
    ++printed;
  }
  if (printed == 0) {
    return fail(std::format("no bench has a profile named \"{}\"", name));
  }
  return 0;
}

}  // namespace

auto command_ratios(std::span<char* const> args) -> int {
  if (args.empty()) {
    throw usage_error{"ratios needs at least one FILE.json"};
  }
  return ratios_of(args);
}

auto command_profile(std::span<char* const> args) -> int {
  if (args.size() != 2) {
    throw usage_error{"profile takes MANIFEST PROFILE"};
  }
  return print_profile(args[0], args[1]);
}

}  // namespace vmm::bench::tool
