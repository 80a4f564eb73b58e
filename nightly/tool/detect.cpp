// vmm-bench detect: change points in every benchmark's stored history (E-divisive means with a permutation test).
module;
#include <nlohmann/json.hpp>
module vmm.bench.tool;
import std;
import vmm.bench.results;
import vmm.bench.changepoint;

namespace vmm::bench::tool {
namespace {

auto median_of(std::span<const history_point> points) -> double {
  std::vector<double> values;
  for (const auto& p : points) {
    values.push_back(p.median);
  }
  if (values.empty()) {
    return 0;
  }
  std::ranges::sort(values);
  const auto mid = values.size() / 2;
  return values.size() % 2 != 0 ? values[mid] : std::midpoint(values[mid - 1], values[mid]);
}

}  // namespace

auto detect_changes(const histories& h, const changepoint::options& settings) -> std::vector<change> {
  std::vector<change> out;
  for (const auto& series : h.series) {
    std::vector<double> values;
    values.reserve(series.points.size());
    for (const auto& p : series.points) {
      values.push_back(p.median);
    }
    auto found = changepoint::e_divisive(values, settings);
    if (!found) {
      throw failure{std::format("change-point detection on {} ({}): {}", series.benchmark, series.machine,
                                found.error().message())};
    }
    // The level before a change point is the segment since the previous one, the level after it the segment up to the
    // next one: the size of a step is measured against its own neighbourhood, not the whole history.
    std::vector<std::size_t> bounds{0};
    for (const auto& cp : *found) {
      bounds.push_back(cp.index);
    }
    bounds.push_back(series.points.size());
    const std::span<const history_point> points{series.points};
    for (std::size_t i = 0; i < found->size(); ++i) {
      const auto& cp = (*found)[i];
      const auto before = median_of(points.subspan(bounds[i], bounds[i + 1] - bounds[i]));
      const auto after = median_of(points.subspan(bounds[i + 1], bounds[i + 2] - bounds[i + 1]));
      const auto* from = h.runs[series.points[cp.index - 1].run];
      const auto* to = h.runs[series.points[cp.index].run];
      out.push_back(change{.machine = series.machine,
                           .benchmark = series.benchmark,
                           .point = cp.index,
                           .from_commit = from->ctx.commit,
                           .to_commit = to->ctx.commit,
                           .from_date = from->ctx.commit_date,
                           .to_date = to->ctx.commit_date,
                           .before = before,
                           .after = after,
                           .ratio = before > 0 ? after / before : 0,
                           .p_value = cp.p_value});
    }
  }
  // Most recent first, the way a maintainer reads them.
  std::ranges::stable_sort(out, [](const change& a, const change& b) { return a.to_date > b.to_date; });
  return out;
}

auto changes_to_json(const std::vector<change>& changes) -> std::string {
  nlohmann::json list = nlohmann::json::array();
  nlohmann::json regressions = nlohmann::json::array();
  for (const auto& c : changes) {
    nlohmann::json item{
        {"machine", c.machine},         {"benchmark", c.benchmark}, {"kind", c.kind()},         {"point", c.point},
        {"from_commit", c.from_commit}, {"to_commit", c.to_commit}, {"from_date", c.from_date}, {"to_date", c.to_date},
        {"before_median", c.before},    {"after_median", c.after},  {"ratio", c.ratio},         {"p_value", c.p_value},
        {"confidence", 1 - c.p_value}};
    if (c.kind() == "regression") {
      regressions.push_back(item);
    }
    list.push_back(std::move(item));
  }
  const nlohmann::json doc{{"schema", "cpp-vmm.bench.changes"},
                           {"schema_version", 1},
                           {"generated", now_utc()},
                           {"changes", list},
                           {"regressions", regressions}};
  return doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

auto parse_changes(std::string_view text) -> results::outcome<std::vector<change>> {
  const auto doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded()) {
    return std::unexpected("not valid JSON (truncated or corrupt)");
  }
  if (!doc.is_object() || !doc.contains("schema") || doc["schema"] != "cpp-vmm.bench.changes" ||
      !doc.contains("schema_version") || doc["schema_version"] != 1) {
    return std::unexpected("not a schema_version 1 vmm-bench detect output");
  }
  if (!doc.contains("changes") || !doc["changes"].is_array()) {
    return std::unexpected(R"(no "changes" list)");
  }
  std::vector<change> out;
  for (const auto& item : doc["changes"]) {
    const auto str = [&](const char* key) -> std::optional<std::string> {
      if (!item.is_object() || !item.contains(key) || !item[key].is_string()) {
        return std::nullopt;
      }
      return item[key].get<std::string>();
    };
    const auto num = [&](const char* key) -> std::optional<double> {
      if (!item.is_object() || !item.contains(key) || !item[key].is_number()) {
        return std::nullopt;
      }
      return item[key].get<double>();
    };
    const auto machine = str("machine");
    const auto benchmark = str("benchmark");
    const auto from = str("from_commit");
    const auto to = str("to_commit");
    const auto ratio = num("ratio");
    const auto p = num("p_value");
    if (!machine || !benchmark || !from || !to || !ratio || !p) {
      return std::unexpected(
          "a change lacks machine, benchmark, from_commit, to_commit, ratio or p_value, or has a mistyped one");
    }
    out.push_back(change{.machine = *machine,
                         .benchmark = *benchmark,
                         .point = 0,
                         .from_commit = *from,
                         .to_commit = *to,
                         .from_date = str("from_date").value_or(""),
                         .to_date = str("to_date").value_or(""),
                         .before = num("before_median").value_or(0),
                         .after = num("after_median").value_or(0),
                         .ratio = *ratio,
                         .p_value = *p});
  }
  return out;
}

auto command_detect(std::span<char* const> args) -> int {
  const options opts{
      args,
      {"store", "machine", "profile", "benchmark", "out", "significance", "permutations", "min-segment", "seed"},
      {}};
  if (!opts.positional().empty()) {
    throw usage_error{std::format("unexpected argument \"{}\"", opts.positional().front())};
  }
  changepoint::options settings;
  settings.significance = opts.number("significance", 0.01, 1e-9, 0.5);
  settings.permutations = opts.count("permutations", 199, 1, 1000000);
  settings.min_segment = opts.count("min-segment", 3, 2, 1000000);
  settings.seed = opts.count("seed", 1, 0, std::numeric_limits<std::size_t>::max());
  const std::filesystem::path store_path = opts.get("store").value_or(default_store().string());
  const auto store = load_store(store_path);
  if (store.runs.empty()) {
    throw failure{std::format("{}: the store holds no readable runs: nothing to detect", store_path.string())};
  }
  auto h = build_histories(store, opts.get("machine"), opts.get("profile"));
  if (h.runs.empty()) {
    throw failure{std::format("no run in {} matches the machine/profile given", store_path.string())};
  }
  if (const auto only = opts.get("benchmark")) {
    std::erase_if(h.series, [&](const history& s) { return s.benchmark != *only; });
    if (h.series.empty()) {
      throw failure{
          std::format("unknown benchmark \"{}\" (names look like bench_sys/BM_sys_eventfd_round_trip)", *only)};
    }
  }
  const auto changes = detect_changes(h, settings);
  const auto text = changes_to_json(changes);
  if (const auto out = opts.get("out")) {
    std::ofstream file{*out, std::ios::binary | std::ios::trunc};
    if (!file || !(file << text) || !file.flush()) {
      throw failure{std::format("{}: cannot write the file", *out)};
    }
  }
  std::println("{} runs, {} benchmark histories, {} change points ({} regressions)", h.runs.size(), h.series.size(),
               changes.size(),
               std::ranges::count_if(changes, [](const change& c) { return c.kind() == "regression"; }));
  for (const auto& c : changes) {
    std::println("  {:<11} {:+7.1f} %  {}  on {}  {}..{}  (p = {:.3g})", c.kind(), (c.ratio - 1) * 100, c.benchmark,
                 c.machine, c.from_commit.substr(0, 12), c.to_commit.substr(0, 12), c.p_value);
  }
  return exit_ok;
}

}  // namespace vmm::bench::tool
