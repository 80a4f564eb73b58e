// parse_manifest on the real benches/manifest.json of this checkout, manifest::plan (the Google Benchmark filter of
// each bench of a profile) and manifest::threshold (first matching regex of the bench, else the default). Bad
// manifests are in negative_test.cpp.
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.results;

namespace results = vmm::bench::results;

namespace {

using plan_t = std::vector<std::pair<std::string, std::string>>;

auto real_manifest_text() -> std::string {
  const std::filesystem::path path = std::filesystem::path{VMM_SOURCE_DIR} / "benches" / "manifest.json";
  std::ifstream in{path, std::ios::binary};
  BOOST_TEST_REQUIRE(in.good(), "cannot open " << path);
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

auto real_manifest() -> results::manifest {
  auto parsed = results::parse_manifest(real_manifest_text());
  BOOST_TEST_REQUIRE(parsed.has_value(), parsed.error_or("ok"));
  return std::move(*parsed);
}

// A manifest whose benches share a profile and have several patterns and overlapping thresholds.
constexpr std::string_view two_pattern_manifest = R"({
  "schema_version": 1,
  "benches": [
    {
      "executable": "benches/a/bench_a",
      "profiles": {"pr": ["BM_a_copy.*", "BM_a_wake"], "nightly": [".*"]},
      "thresholds": {"BM_a_copy/.*": 0.25},
      "run": {"nightly": {"repetitions": 20, "min_time": 2.5}}
    },
    {
      "executable": "benches/b/bench_b",
      "profiles": {"nightly": ["BM_b_.*"]},
      "thresholds": {"BM_a_copy/.*": 0.75, "BM_b_.*": 10}
    }
  ]
})";

}  // namespace

BOOST_AUTO_TEST_SUITE(manifest)

BOOST_AUTO_TEST_CASE(the_real_manifest_lists_each_bench_once_with_the_quick_ones_first) {
  const auto m = real_manifest();

  // sys, event_manager and memory come first (the PR gate's quick benches run in manifest order); components add
  // their benches after them, so only the head of the list and uniqueness are pinned here.
  BOOST_TEST_REQUIRE(m.benches.size() >= 4U);
  BOOST_TEST(m.benches[0].executable == "benches/sys/bench_sys");
  BOOST_TEST(m.benches[1].executable == "benches/event_manager/bench_event_manager");
  BOOST_TEST(m.benches[2].executable == "benches/memory/bench_memory");
  std::set<std::string> executables;
  for (const auto& bench : m.benches) {
    BOOST_TEST(executables.insert(bench.executable).second, bench.executable << " is listed twice");
  }
  BOOST_TEST(executables.contains("benches/gate/bench_gate"));
  BOOST_TEST(m.default_threshold == 0.05);
}

BOOST_AUTO_TEST_CASE(the_real_manifest_keeps_profiles_and_thresholds) {
  const auto m = real_manifest();

  BOOST_TEST_REQUIRE(m.benches.size() >= 4U);
  BOOST_TEST(m.benches[0].profiles.size() == 2U);
  BOOST_TEST(m.benches[0].thresholds.size() == 2U);
  BOOST_TEST(m.benches[1].thresholds.empty());
  BOOST_TEST(m.settings("benches/memory/bench_memory", "nightly").min_time.has_value());
  BOOST_TEST(!m.settings("benches/memory/bench_memory", "pr").min_time.has_value());
  const auto gate = std::ranges::find(m.benches, "benches/gate/bench_gate", &results::manifest_bench::executable);
  BOOST_TEST_REQUIRE((gate != m.benches.end()));
  BOOST_TEST_REQUIRE(gate->profiles.size() == 1U);
  BOOST_TEST(gate->profiles[0].first == "gate");
  BOOST_TEST(gate->profiles[0].second == (std::vector<std::string>{"BM_gate_.*"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(plan_of_pr_starts_with_sys_event_manager_and_memory_with_their_filters) {
  const auto plan = real_manifest().plan("pr");

  BOOST_TEST_REQUIRE(plan.size() >= 3U);
  BOOST_TEST((plan[0] == std::pair<std::string, std::string>{"benches/sys/bench_sys", "^(BM_sys_.*)$"}));
  BOOST_TEST((plan[1] == std::pair<std::string, std::string>{"benches/event_manager/bench_event_manager",
                                                             "^(BM_event_manager_.*)$"}));
  BOOST_TEST(plan[2].first == "benches/memory/bench_memory");
  BOOST_TEST(plan[2].second.starts_with("^(BM_memory_"));
  for (const auto& [executable, filter] : plan) {
    BOOST_TEST(executable != "benches/gate/bench_gate");
  }
}

BOOST_AUTO_TEST_CASE(plan_of_nightly_runs_everything_of_every_bench_but_the_gate) {
  const auto m = real_manifest();
  const auto plan = m.plan("nightly");

  BOOST_TEST_REQUIRE(plan.size() == m.benches.size() - 1);
  BOOST_TEST((plan[0] == std::pair<std::string, std::string>{"benches/sys/bench_sys", "^(.*)$"}));
  BOOST_TEST((plan[1] == std::pair<std::string, std::string>{"benches/event_manager/bench_event_manager", "^(.*)$"}));
  BOOST_TEST((plan[2] == std::pair<std::string, std::string>{"benches/memory/bench_memory", "^(.*)$"}));
  for (const auto& [executable, filter] : plan) {
    BOOST_TEST(executable != "benches/gate/bench_gate");
  }
}

BOOST_AUTO_TEST_CASE(plan_of_gate_runs_only_the_gate_bench) {
  const auto plan = real_manifest().plan("gate");

  BOOST_TEST((plan == plan_t{{"benches/gate/bench_gate", "^(BM_gate_.*)$"}}));
}

BOOST_AUTO_TEST_CASE(plan_of_an_unknown_profile_is_empty) {
  BOOST_TEST(real_manifest().plan("weekly").empty());
  BOOST_TEST(real_manifest().plan("").empty());
}

BOOST_AUTO_TEST_CASE(plan_joins_several_patterns_into_one_alternation) {
  const auto m = results::parse_manifest(two_pattern_manifest);

  BOOST_TEST_REQUIRE(m.has_value(), m.error_or("ok"));
  BOOST_TEST((m->plan("pr") == plan_t{{"benches/a/bench_a", "^(BM_a_copy.*|BM_a_wake)$"}}));
  BOOST_TEST((m->plan("nightly") == plan_t{{"benches/a/bench_a", "^(.*)$"}, {"benches/b/bench_b", "^(BM_b_.*)$"}}));
}

BOOST_AUTO_TEST_CASE(threshold_of_a_matching_benchmark_is_its_regex_value) {
  const auto m = real_manifest();

  BOOST_TEST(m.threshold("bench_sys", "BM_sys_epoll_wakeup_round_trip") == 0.1);
  BOOST_TEST(m.threshold("bench_sys", "BM_sys_epoll_wakeup_round_trip/real_time") == 0.1);
  BOOST_TEST(m.threshold("bench_sys", "BM_sys_baseline_epoll_wakeup_round_trip") == 0.1);
}

BOOST_AUTO_TEST_CASE(threshold_of_an_unmatched_benchmark_is_the_default) {
  const auto m = real_manifest();

  BOOST_TEST(m.threshold("bench_sys", "BM_sys_eventfd_round_trip") == 0.05);
  // The regex must match the whole name, not a part of it.
  BOOST_TEST(m.threshold("bench_sys", "x_BM_sys_epoll_wakeup_round_trip") == 0.05);
  BOOST_TEST(m.threshold("bench_event_manager", "BM_event_manager_add") == 0.05);
}

BOOST_AUTO_TEST_CASE(threshold_uses_only_the_named_executables_entries) {
  const auto m = results::parse_manifest(two_pattern_manifest);

  BOOST_TEST_REQUIRE(m.has_value(), m.error_or("ok"));
  BOOST_TEST(m->threshold("bench_a", "BM_a_copy/4096") == 0.25);
  BOOST_TEST(m->threshold("bench_b", "BM_a_copy/4096") == 0.75);
  BOOST_TEST(m->threshold("bench_b", "BM_b_wake") == 10.0);
  BOOST_TEST(m->threshold("bench_c", "BM_a_copy/4096") == 0.05);
  // An executable is named by its file name, not by its path in the build directory.
  BOOST_TEST(m->threshold("benches/a/bench_a", "BM_a_copy/4096") == 0.05);
}

BOOST_AUTO_TEST_CASE(default_threshold_is_read_and_used) {
  const auto m = results::parse_manifest(
      R"({"schema_version": 1, "default_threshold": 0.2,
          "benches": [{"executable": "benches/a/bench_a", "profiles": {"pr": ["BM_.*"]}}]})");

  BOOST_TEST_REQUIRE(m.has_value(), m.error_or("ok"));
  BOOST_TEST(m->default_threshold == 0.2);
  BOOST_TEST(m->threshold("bench_a", "BM_a") == 0.2);
}

BOOST_AUTO_TEST_CASE(default_threshold_of_exactly_10_is_accepted) {
  const auto m = results::parse_manifest(R"({"schema_version": 1, "default_threshold": 10, "benches": []})");

  BOOST_TEST_REQUIRE(m.has_value(), m.error_or("ok"));
  BOOST_TEST(m->default_threshold == 10.0);
}

BOOST_AUTO_TEST_CASE(without_default_threshold_it_is_5_percent) {
  const auto m = results::parse_manifest(R"({"schema_version": 1, "benches": []})");

  BOOST_TEST_REQUIRE(m.has_value(), m.error_or("ok"));
  BOOST_TEST(m->default_threshold == 0.05);
  BOOST_TEST(m->benches.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(manifest_run_settings)

BOOST_AUTO_TEST_CASE(settings_of_a_bench_and_profile_are_the_manifests) {
  const auto m = results::parse_manifest(two_pattern_manifest);
  BOOST_TEST_REQUIRE(m.has_value(), m.error_or("ok"));
  const auto s = m->settings("benches/a/bench_a", "nightly");
  BOOST_TEST(s.repetitions.value_or(0) == 20U);
  BOOST_TEST(s.min_time.value_or(0) == 2.5);
}

BOOST_AUTO_TEST_CASE(settings_of_another_profile_or_bench_are_empty) {
  const auto m = results::parse_manifest(two_pattern_manifest);
  BOOST_TEST_REQUIRE(m.has_value(), m.error_or("ok"));
  BOOST_TEST(!m->settings("benches/a/bench_a", "pr").repetitions.has_value());
  BOOST_TEST(!m->settings("benches/a/bench_a", "pr").min_time.has_value());
  BOOST_TEST(!m->settings("benches/b/bench_b", "nightly").min_time.has_value());
  BOOST_TEST(!m->settings("benches/c/bench_c", "nightly").repetitions.has_value());
}

BOOST_AUTO_TEST_CASE(settings_may_give_only_one_of_the_two) {
  const auto m = results::parse_manifest(R"({"schema_version": 1, "benches": [
    {"executable": "benches/a/bench_a", "profiles": {"nightly": [".*"]}, "run": {"nightly": {"min_time": 0.001}}}]})");
  BOOST_TEST_REQUIRE(m.has_value(), m.error_or("ok"));
  BOOST_TEST(m->settings("benches/a/bench_a", "nightly").min_time.value_or(0) == 0.001);
  BOOST_TEST(!m->settings("benches/a/bench_a", "nightly").repetitions.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
