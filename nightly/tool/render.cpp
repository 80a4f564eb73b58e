// vmm-bench render: the static regression dashboard. Copies the site (dashboards/site) and the chart library into an
// output directory and writes data.js, the whole store as the site reads it (contract: dashboards/README.md).
module;
#include <nlohmann/json.hpp>
module vmm.bench.tool;
import std;
import vmm.bench.results;

namespace vmm::bench::tool {
namespace {

using json = nlohmann::json;

auto run_id(const results::run& r) -> std::string {
  return std::format("{}/{}{}/{}", r.machine, r.ctx.commit, r.ctx.dirty ? "-dirty" : "", r.profile);
}

auto copy_into(const std::filesystem::path& from, const std::filesystem::path& to) -> void {
  std::error_code ec;
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) {
    throw failure{std::format("cannot copy {} to {}: {}", from.string(), to.string(), ec.message())};
  }
}

// The runs, in h.runs order, and the machines they ran on.
auto runs_and_machines(const histories& h) -> std::pair<json, json> {
  json runs = json::array();
  std::map<std::string, json> machines;
  for (const auto* r : h.runs) {
    runs.push_back(json{{"id", run_id(*r)},
                        {"machine", r->machine},
                        {"profile", r->profile},
                        {"commit", r->ctx.commit},
                        {"branch", r->ctx.branch},
                        {"commit_date", r->ctx.commit_date},
                        {"run_date", r->ctx.run_date},
                        {"dirty", r->ctx.dirty},
                        {"complete", r->complete},
                        {"noisy", r->ctx.noisy},
                        {"noisy_reasons", r->ctx.noisy_reasons}});
    auto& m = machines[r->machine];
    // Runs are sorted oldest first, so the last one seen describes the machine as it is now.
    m = json{{"id", r->machine},
             {"cpu", r->ctx.cpu_model},
             {"kernel", r->ctx.kernel},
             {"runs", (m.is_object() ? m["runs"].get<int>() : 0) + 1}};
  }
  json machine_list = json::array();
  for (auto& [id, m] : machines) {
    machine_list.push_back(std::move(m));
  }
  return {std::move(runs), std::move(machine_list)};
}

// The position of change `c` in `series`: the first point of to_commit right after a point of from_commit.
auto change_position(const histories& h, const history& series, const change& c) -> std::optional<std::size_t> {
  for (std::size_t i = 1; i < series.points.size(); ++i) {
    if (h.runs[series.points[i].run]->ctx.commit == c.to_commit &&
        h.runs[series.points[i - 1].run]->ctx.commit == c.from_commit) {
      return i;
    }
  }
  return std::nullopt;
}

// One benchmark history with its change points; the regressions among them are appended to `regressions`.
auto series_json(const histories& h, const history& series, const std::vector<change>& changes, json& regressions)
    -> json {
  json points = json::array();
  for (const auto& p : series.points) {
    points.push_back(json{
        {"run", p.run}, {"median", p.median}, {"min", p.min}, {"max", p.max}, {"q1", p.q1}, {"q3", p.q3}, {"n", p.n}});
  }
  json marks = json::array();
  for (const auto& c : changes) {
    if (c.machine != series.machine || c.benchmark != series.benchmark) {
      continue;
    }
    const auto at = change_position(h, series, c);
    if (!at) {
      continue;  // detected on a history this store no longer holds
    }
    marks.push_back(json{{"point", *at},
                         {"from_commit", c.from_commit},
                         {"to_commit", c.to_commit},
                         {"ratio", c.ratio},
                         {"p_value", c.p_value},
                         {"confidence", 1 - c.p_value},
                         {"kind", c.kind()}});
    if (c.kind() == "regression") {
      regressions.push_back(json{{"machine", c.machine},
                                 {"benchmark", c.benchmark},
                                 {"from_commit", c.from_commit},
                                 {"to_commit", c.to_commit},
                                 {"ratio", c.ratio},
                                 {"p_value", c.p_value},
                                 {"confidence", 1 - c.p_value}});
    }
  }
  return json{{"machine", series.machine},
              {"name", series.benchmark},
              {"unit", "ns"},
              {"points", points},
              {"change_points", marks}};
}

auto build_data(const histories& h, const std::vector<change>& changes, const std::optional<std::string>& commit_url)
    -> json {
  auto [runs, machine_list] = runs_and_machines(h);
  json benchmarks = json::array();
  json regressions = json::array();
  for (const auto& series : h.series) {
    benchmarks.push_back(series_json(h, series, changes, regressions));
  }
  return json{{"schema_version", 1},
              {"generated", now_utc()},
              {"commit_url", commit_url ? json(*commit_url) : json(nullptr)},
              {"machines", machine_list},
              {"runs", runs},
              {"benchmarks", benchmarks},
              {"regressions", regressions}};
}

// The chart library: the files dashboards/vendor-files.txt lists ("<source under dashboards/> <destination under
// the site>"), installed by `npm ci` in dashboards/ (tools/bootstrap does it). Pairs of (source, destination in out).
auto vendor_files(const std::filesystem::path& dashboards, const std::filesystem::path& out)
    -> std::vector<std::pair<std::filesystem::path, std::filesystem::path>> {
  const auto vendor_list = dashboards / "vendor-files.txt";
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> files;
  for (const auto line : std::views::split(slurp(vendor_list), '\n')) {
    const std::string_view l{line.begin(), line.end()};
    std::istringstream fields{std::string{l}};
    std::string from;
    std::string to;
    if (l.empty() || l.starts_with('#') || !(fields >> from >> to)) {
      continue;
    }
    if (to.starts_with('/') || to.contains("..")) {
      throw failure{std::format("{}: destination \"{}\" leaves the site", vendor_list.string(), to)};
    }
    if (!std::filesystem::is_regular_file(dashboards / from)) {
      throw failure{std::format("{}: missing; install the dashboard's packages (tools/bootstrap runs npm ci in {})",
                                (dashboards / from).string(), dashboards.string())};
    }
    files.emplace_back(dashboards / from, out / to);
  }
  if (files.empty()) {
    throw failure{std::format("{}: lists no files", vendor_list.string())};
  }
  return files;
}

// data.js in `out`, written to a temporary file and renamed into place.
auto write_data(const std::filesystem::path& out, const json& data) -> void {
  // ensure_ascii: the file is plain ASCII JavaScript whatever the result files held.
  const auto text = std::format("window.VMM_DATA = {};\n", data.dump(-1, ' ', true, json::error_handler_t::replace));
  const auto temp = out / ".data.js.tmp";
  {
    std::ofstream file{temp, std::ios::binary | std::ios::trunc};
    if (!file || !(file << text) || !file.flush()) {
      throw failure{std::format("{}: cannot write the file", temp.string())};
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, out / "data.js", ec);
  if (ec) {
    throw failure{std::format("{}: cannot write data.js: {}", out.string(), ec.message())};
  }
}

}  // namespace

auto command_render(std::span<char* const> args) -> int {
  const options opts{args, {"store", "changes", "out", "dashboards", "commit-url", "machine", "profile"}, {}};
  if (!opts.positional().empty()) {
    throw usage_error{std::format("unexpected argument \"{}\"", opts.positional().front())};
  }
  const auto source = default_source_dir();
  const std::filesystem::path store_path = opts.get("store").value_or(default_store().string());
  const std::filesystem::path out = opts.get("out").value_or((source / "build" / "site").string());
  const std::filesystem::path dashboards = opts.get("dashboards").value_or((source / "dashboards").string());
  const auto site = dashboards / "site";
  const auto commit_url = opts.get("commit-url");
  if (commit_url && !commit_url->contains("{commit}")) {
    throw usage_error{"--commit-url must contain {commit}, e.g. https://github.com/OWNER/REPO/commit/{commit}"};
  }

  const auto store = load_store(store_path);
  const auto h = build_histories(store, opts.get("machine"), opts.get("profile"));
  if (h.runs.empty()) {
    throw failure{std::format("{}: no readable runs to render (run `vmm-bench run` first)", store_path.string())};
  }
  std::vector<change> changes;
  if (const auto path = opts.get("changes")) {
    auto parsed = parse_changes(slurp(*path));
    if (!parsed) {
      throw failure{std::format("{}: {}", *path, parsed.error())};
    }
    changes = std::move(*parsed);
  }

  if (!std::filesystem::is_regular_file(site / "index.html")) {
    throw failure{std::format("{}: no site/index.html: not the dashboards directory", dashboards.string())};
  }
  const auto vendor = vendor_files(dashboards, out);
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    throw failure{std::format("{}: cannot create the directory: {}", out.string(), ec.message())};
  }
  for (const auto& entry : std::filesystem::directory_iterator(site)) {
    if (entry.is_regular_file()) {
      copy_into(entry.path(), out / entry.path().filename());
    }
  }
  for (const auto& [from, to] : vendor) {
    std::filesystem::create_directories(to.parent_path(), ec);
    copy_into(from, to);
  }

  write_data(out, build_data(h, changes, commit_url));
  std::println(std::cerr, "vmm-bench render: {} runs, {} benchmark histories, {} change points", h.runs.size(),
               h.series.size(), changes.size());
  std::println("{}", (std::filesystem::absolute(out) / "index.html").string());
  return exit_ok;
}

}  // namespace vmm::bench::tool
