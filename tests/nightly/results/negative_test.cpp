// Bad input gets the exact problem: Google Benchmark output (not JSON, no benchmarks, bad entries, bad times, units
// and iteration counts), run files (wrong schema or version, every missing or mistyped field by its JSON path,
// duplicates) and manifests (bad schema, benches, profiles, patterns and thresholds).
//
// Run files are a valid file (valid_run) with one substring replaced, so each case differs from a file that parses
// in exactly one place.
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.results;

namespace results = vmm::bench::results;

namespace {

template <class T>
auto problem_of(const results::outcome<T>& outcome) -> std::string {
  return outcome ? std::string{"(no problem)"} : outcome.error();
}

// --- Google Benchmark output -------------------------------------------------------------------------------------

auto gb_problem(std::string_view json) -> std::string {
  return problem_of(results::parse_google_benchmark(json, "bench_x"));
}

// One Google Benchmark 1.7.1 entry with `fields` (its time and iteration members) spliced in.
auto gb_entry(std::string_view fields) -> std::string {
  return std::format(
      R"({{"context": {{"num_cpus": 2}}, "benchmarks": [{{"name": "BM_x", "family_index": 0,
          "per_family_instance_index": 0, "run_name": "BM_x", "run_type": "iteration", "repetitions": 1,
          "repetition_index": 0, "threads": 1, {}}}]}})",
      fields);
}

// --- run files -----------------------------------------------------------------------------------------------------

constexpr std::string_view valid_run = R"json({
 "schema": "cpp-vmm.bench.run",
 "schema_version": 1,
 "machine": "ci-runner-1",
 "profile": "nightly",
 "complete": true,
 "time_unit": "ns",
 "context": {
  "commit": "0123456789abcdef0123456789abcdef01234567",
  "branch": "main",
  "commit_date": "2026-11-20T10:00:00+00:00",
  "dirty": false,
  "run_date": "2026-11-20T11:00:00Z",
  "compiler": "/usr/bin/clang++-19 (Debian clang version 19.1.7 (3))",
  "build_type": "Release",
  "cxx_flags": "-stdlib=libc++ -O3 -DNDEBUG",
  "cpu_model": "AMD EPYC 7B13",
  "cpu_count": 2,
  "governor": "performance",
  "aslr": 2,
  "load_average": [0.12, 0.30, 0.25],
  "kernel": "Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 x86_64",
  "google_benchmark": {"host_name": "ci-runner-1", "num_cpus": 2},
  "noisy": false,
  "noisy_reasons": ["none"]
 },
 "benchmarks": [
  {
   "executable": "bench_sys",
   "name": "BM_sys_event_fd_round_trip",
   "repetitions": [
    {"real_time": 812.5, "cpu_time": 810.1, "iterations": 862000, "counters": {"items_per_second": 1230000.0}}
   ]
  },
  {
   "executable": "bench_event_manager",
   "name": "BM_event_manager_add",
   "repetitions": [
    {"real_time": 90.25, "cpu_time": 90.0, "iterations": 7000000, "counters": {}}
   ]
  }
 ]
}
)json";

// valid_run with its one occurrence of `from` replaced by `to`.
auto run_with(std::string_view from, std::string_view to) -> std::string {
  std::string text{valid_run};
  const auto at = text.find(from);
  BOOST_TEST_REQUIRE(at != std::string::npos, "not in valid_run: " << from);
  BOOST_TEST_REQUIRE(text.find(from, at + 1) == std::string::npos, "twice in valid_run: " << from);
  text.replace(at, from.size(), to);
  return text;
}

auto run_problem(std::string_view from, std::string_view to) -> std::string {
  return problem_of(results::parse_run(run_with(from, to)));
}

// --- manifests -----------------------------------------------------------------------------------------------------

auto manifest_problem(std::string_view json) -> std::string {
  return problem_of(results::parse_manifest(json));
}

// A manifest whose second bench is `bench` (the first is valid, so indices in problems are checked).
auto manifest_with_bench(std::string_view bench) -> std::string {
  return std::format(
      R"({{"schema_version": 1, "benches": [
            {{"executable": "benches/a/bench_a", "profiles": {{"pr": ["BM_a_.*"]}}}},
            {}]}})",
      bench);
}

auto bench_problem(std::string_view bench) -> std::string {
  return manifest_problem(manifest_with_bench(bench));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(negative)

// --- parse_google_benchmark ----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(google_benchmark_output_that_is_not_json_is_invalid_json) {
  BOOST_TEST(gb_problem("") == "not valid JSON (truncated or corrupt)");
  BOOST_TEST(gb_problem("Running ./bench_sys") == "not valid JSON (truncated or corrupt)");
  BOOST_TEST(gb_problem(R"({"context": {}, "benchmarks": [{"name": "BM_x", )") ==
             "not valid JSON (truncated or corrupt)");
}

BOOST_AUTO_TEST_CASE(google_benchmark_output_that_is_not_an_object_is_rejected) {
  BOOST_TEST(gb_problem(R"([{"name": "BM_x"}])") == "not a JSON object (is this Google Benchmark JSON output?)");
  BOOST_TEST(gb_problem("42") == "not a JSON object (is this Google Benchmark JSON output?)");
}

BOOST_AUTO_TEST_CASE(google_benchmark_output_without_a_benchmarks_array_is_rejected) {
  BOOST_TEST(gb_problem(R"({"context": {"num_cpus": 2}})") ==
             R"(no "benchmarks" array (is this Google Benchmark JSON output?))");
  BOOST_TEST(gb_problem(R"({"benchmarks": {"name": "BM_x"}})") ==
             R"(no "benchmarks" array (is this Google Benchmark JSON output?))");
}

BOOST_AUTO_TEST_CASE(a_google_benchmark_entry_that_is_not_an_object_is_rejected) {
  BOOST_TEST(gb_problem(R"({"benchmarks": ["BM_x"]})") == "a benchmarks entry is not an object");
}

BOOST_AUTO_TEST_CASE(a_google_benchmark_entry_without_a_name_is_rejected) {
  BOOST_TEST(gb_problem(R"({"benchmarks": [{"run_name": "BM_x", "iterations": 1, "real_time": 1, "cpu_time": 1}]})") ==
             "a benchmarks entry.name is missing or not a string");
  BOOST_TEST(gb_problem(R"({"benchmarks": [{"name": 7, "iterations": 1, "real_time": 1, "cpu_time": 1}]})") ==
             "a benchmarks entry.name is missing or not a string");
}

BOOST_AUTO_TEST_CASE(a_google_benchmark_entry_with_an_empty_name_is_rejected) {
  BOOST_TEST(gb_problem(R"({"benchmarks": [{"name": "", "iterations": 1, "real_time": 1, "cpu_time": 1}]})") ==
             "a benchmarks entry has an empty name");
  BOOST_TEST(gb_problem(R"({"benchmarks": [{"name": "BM_x", "run_name": "", "iterations": 1, "real_time": 1,
                            "cpu_time": 1}]})") == "a benchmarks entry has an empty name");
}

BOOST_AUTO_TEST_CASE(a_missing_or_non_numeric_time_is_rejected) {
  BOOST_TEST(gb_problem(gb_entry(R"("iterations": 10, "cpu_time": 1.0, "time_unit": "ns")")) ==
             R"(benchmark "BM_x".real_time is missing or not a number)");
  BOOST_TEST(gb_problem(gb_entry(R"("iterations": 10, "real_time": 1.0, "time_unit": "ns")")) ==
             R"(benchmark "BM_x".cpu_time is missing or not a number)");
  BOOST_TEST(gb_problem(gb_entry(R"("iterations": 10, "real_time": "fast", "cpu_time": 1.0, "time_unit": "ns")")) ==
             R"(benchmark "BM_x".real_time is missing or not a number)");
  BOOST_TEST(gb_problem(gb_entry(R"("iterations": 10, "real_time": 1.0, "cpu_time": null, "time_unit": "ns")")) ==
             R"(benchmark "BM_x".cpu_time is missing or not a number)");
}

BOOST_AUTO_TEST_CASE(a_negative_time_is_rejected) {
  BOOST_TEST(gb_problem(gb_entry(R"("iterations": 10, "real_time": -1.0, "cpu_time": 1.0, "time_unit": "ns")")) ==
             R"(benchmark "BM_x".real_time is negative)");
  BOOST_TEST(gb_problem(gb_entry(R"("iterations": 10, "real_time": 1.0, "cpu_time": -0.5, "time_unit": "us")")) ==
             R"(benchmark "BM_x".cpu_time is negative)");
}

// JSON has no NaN or infinity, and nlohmann::json rejects a number that overflows (1e999) as invalid JSON, so a
// non-finite time can never reach the "is not a finite number" check.
BOOST_AUTO_TEST_CASE(an_overflowing_time_is_invalid_json) {
  BOOST_TEST(gb_problem(gb_entry(R"("iterations": 10, "real_time": 1e999, "cpu_time": 1.0, "time_unit": "ns")")) ==
             "not valid JSON (truncated or corrupt)");
}

BOOST_AUTO_TEST_CASE(an_unknown_time_unit_is_rejected) {
  BOOST_TEST(gb_problem(gb_entry(R"("iterations": 10, "real_time": 1.0, "cpu_time": 1.0, "time_unit": "min")")) ==
             R"(benchmark "BM_x" has unknown time_unit "min")");
  BOOST_TEST(gb_problem(gb_entry(R"("iterations": 10, "real_time": 1.0, "cpu_time": 1.0, "time_unit": "")")) ==
             R"(benchmark "BM_x" has unknown time_unit "")");
}

BOOST_AUTO_TEST_CASE(missing_or_fractional_iterations_are_rejected) {
  BOOST_TEST(gb_problem(gb_entry(R"("real_time": 1.0, "cpu_time": 1.0, "time_unit": "ns")")) ==
             R"(benchmark "BM_x".iterations is missing or not an integer)");
  BOOST_TEST(gb_problem(gb_entry(R"("iterations": 2.5, "real_time": 1.0, "cpu_time": 1.0, "time_unit": "ns")")) ==
             R"(benchmark "BM_x".iterations is missing or not an integer)");
}

BOOST_AUTO_TEST_CASE(negative_iterations_are_rejected) {
  BOOST_TEST(gb_problem(gb_entry(R"("iterations": -3, "real_time": 1.0, "cpu_time": 1.0, "time_unit": "ns")")) ==
             R"(benchmark "BM_x".iterations is negative)");
}

BOOST_AUTO_TEST_CASE(a_bad_entry_after_good_ones_fails_the_whole_output) {
  BOOST_TEST(gb_problem(R"({"benchmarks": [
      {"name": "BM_ok", "iterations": 1, "real_time": 1.0, "cpu_time": 1.0, "time_unit": "ns"},
      {"name": "BM_bad", "iterations": 1, "real_time": 1.0, "cpu_time": 1.0, "time_unit": "h"}]})") ==
             R"(benchmark "BM_bad" has unknown time_unit "h")");
}

// --- parse_run: the document -----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_unchanged_valid_run_parses) {
  // The control for every run file case below: each differs from this file in one place only.
  const auto parsed = results::parse_run(valid_run);

  BOOST_TEST_REQUIRE(parsed.has_value(), problem_of(parsed));
  BOOST_TEST(parsed->benchmarks.size() == 2U);
  BOOST_TEST(parsed->ctx.noisy_reasons == (std::vector<std::string>{"none"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_run_file_that_is_not_json_is_invalid_json) {
  BOOST_TEST(problem_of(results::parse_run("")) == "not valid JSON (truncated or corrupt)");
  BOOST_TEST(problem_of(results::parse_run(valid_run.substr(0, valid_run.size() / 2))) ==
             "not valid JSON (truncated or corrupt)");
}

BOOST_AUTO_TEST_CASE(a_document_without_the_run_schema_is_not_a_run_file) {
  constexpr std::string_view not_a_run = R"(not a vmm-bench run file (no "schema": "cpp-vmm.bench.run"))";
  BOOST_TEST(problem_of(results::parse_run("[1, 2]")) == not_a_run);
  BOOST_TEST(problem_of(results::parse_run(R"("cpp-vmm.bench.run")")) == not_a_run);
  BOOST_TEST(run_problem(R"("schema": "cpp-vmm.bench.run",)", "") == not_a_run);
  BOOST_TEST(run_problem(R"("schema": "cpp-vmm.bench.run",)", R"("schema": "cpp-vmm.bench.changes",)") == not_a_run);
  BOOST_TEST(run_problem(R"("schema": "cpp-vmm.bench.run",)", R"("schema": 1,)") == not_a_run);
}

BOOST_AUTO_TEST_CASE(a_newer_schema_version_is_reported_as_written_by_a_newer_vmm_bench) {
  BOOST_TEST(run_problem(R"("schema_version": 1,)", R"("schema_version": 2,)") ==
             "schema_version 2 was written by a newer vmm-bench (this one reads up to 1)");
}

BOOST_AUTO_TEST_CASE(a_schema_version_below_1_is_not_a_valid_version) {
  BOOST_TEST(run_problem(R"("schema_version": 1,)", R"("schema_version": 0,)") ==
             "schema_version 0 is not a valid version");
  BOOST_TEST(run_problem(R"("schema_version": 1,)", R"("schema_version": -1,)") ==
             "schema_version -1 is not a valid version");
}

BOOST_AUTO_TEST_CASE(a_missing_or_non_integer_schema_version_is_named) {
  BOOST_TEST(run_problem(R"("schema_version": 1,)", "") == "run.schema_version is missing or not an integer");
  BOOST_TEST(run_problem(R"("schema_version": 1,)", R"("schema_version": "1",)") ==
             "run.schema_version is missing or not an integer");
  BOOST_TEST(run_problem(R"("schema_version": 1,)", R"("schema_version": 1.5,)") ==
             "run.schema_version is missing or not an integer");
}

BOOST_AUTO_TEST_CASE(a_missing_machine_profile_or_complete_is_named) {
  BOOST_TEST(run_problem(R"("machine": "ci-runner-1",)", "") == "run.machine is missing or not a string");
  BOOST_TEST(run_problem(R"("profile": "nightly",)", R"("profile": 7,)") == "run.profile is missing or not a string");
  BOOST_TEST(run_problem(R"("complete": true,)", "") == "run.complete is missing or not true/false");
  BOOST_TEST(run_problem(R"("complete": true,)", R"("complete": "yes",)") ==
             "run.complete is missing or not true/false");
}

BOOST_AUTO_TEST_CASE(an_invalid_machine_or_profile_name_is_rejected) {
  constexpr std::string_view bad_name = "run.machine or run.profile is not 1 to 64 of [A-Za-z0-9._-]";
  BOOST_TEST(run_problem(R"("machine": "ci-runner-1",)", R"("machine": "../escape",)") == bad_name);
  BOOST_TEST(run_problem(R"("machine": "ci-runner-1",)", R"("machine": "",)") == bad_name);
  BOOST_TEST(run_problem(R"("profile": "nightly",)", R"("profile": ".hidden",)") == bad_name);
}

BOOST_AUTO_TEST_CASE(a_time_unit_other_than_ns_is_rejected) {
  BOOST_TEST(run_problem(R"("time_unit": "ns",)", R"("time_unit": "us",)") == R"(run.time_unit is not "ns")");
  BOOST_TEST(run_problem(R"("time_unit": "ns",)", "") == R"(run.time_unit is not "ns")");
}

BOOST_AUTO_TEST_CASE(a_missing_context_is_named) {
  BOOST_TEST(run_problem(R"("context": {)", R"("ctx": {)") == "run.context is missing");
}

BOOST_AUTO_TEST_CASE(a_context_that_is_not_an_object_is_named) {
  BOOST_TEST(run_problem(R"("context": {)", R"("context": [], "old_context": {)") == "context is not an object");
}

// --- parse_run: the context ------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(each_missing_context_string_is_named_by_its_path) {
  // Renaming the key makes the field missing; the problem must name exactly that field.
  for (const std::string_view key : {"commit", "branch", "commit_date", "run_date", "compiler", "build_type",
                                     "cxx_flags", "cpu_model", "governor", "kernel"}) {
    BOOST_TEST_CONTEXT("field " << key) {
      BOOST_TEST(run_problem(std::format(R"("{}": ")", key), R"("renamed": ")") ==
                 std::format("context.{} is missing or not a string", key));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_context_string_of_another_type_is_named) {
  BOOST_TEST(run_problem(R"("branch": "main")", R"("branch": null)") == "context.branch is missing or not a string");
  BOOST_TEST(run_problem(R"("kernel": "Linux)", R"("kernel": ["Linux"], "was": "Linux)") ==
             "context.kernel is missing or not a string");
}

BOOST_AUTO_TEST_CASE(a_commit_that_is_not_lower_case_hex_is_rejected) {
  constexpr std::string_view not_hex = "context.commit is not 4 to 64 lower-case hex digits";
  constexpr std::string_view commit = R"("commit": "0123456789abcdef0123456789abcdef01234567")";
  BOOST_TEST(run_problem(commit, R"("commit": "0123456789ABCDEF0123456789ABCDEF01234567")") == not_hex);
  BOOST_TEST(run_problem(commit, R"("commit": "main")") == not_hex);
  BOOST_TEST(run_problem(commit, R"("commit": "abc")") == not_hex);
  BOOST_TEST(run_problem(commit, std::format(R"("commit": "{}")", std::string(65, 'a'))) == not_hex);
}

BOOST_AUTO_TEST_CASE(a_missing_or_non_boolean_dirty_or_noisy_is_named) {
  BOOST_TEST(run_problem(R"("dirty": false,)", R"("dirty": 0,)") == "context.dirty is missing or not true/false");
  BOOST_TEST(run_problem(R"("noisy": false,)", "") == "context.noisy is missing or not true/false");
}

BOOST_AUTO_TEST_CASE(a_missing_or_non_integer_cpu_count_or_aslr_is_named) {
  BOOST_TEST(run_problem(R"("cpu_count": 2,)", R"("cpu_count": "2",)") ==
             "context.cpu_count is missing or not an integer");
  BOOST_TEST(run_problem(R"("cpu_count": 2,)", R"("cpu_count": 2.5,)") ==
             "context.cpu_count is missing or not an integer");
  BOOST_TEST(run_problem(R"("aslr": 2,)", "") == "context.aslr is missing or not an integer");
}

BOOST_AUTO_TEST_CASE(a_cpu_count_or_aslr_outside_int_is_out_of_range) {
  // 2^31 and -2^31 - 1: the first values an int cannot hold.
  BOOST_TEST(run_problem(R"("cpu_count": 2,)", R"("cpu_count": 2147483648,)") == "context.cpu_count is out of range");
  BOOST_TEST(run_problem(R"("aslr": 2,)", R"("aslr": -2147483649,)") == "context.aslr is out of range");
}

BOOST_AUTO_TEST_CASE(a_load_average_that_is_not_three_finite_numbers_is_rejected) {
  constexpr std::string_view bad_load = "context.load_average is not a list of 3 numbers";
  constexpr std::string_view load = R"("load_average": [0.12, 0.30, 0.25],)";
  BOOST_TEST(run_problem(load, R"("load_average": [0.12, 0.30],)") == bad_load);
  BOOST_TEST(run_problem(load, R"("load_average": [0.12, 0.30, 0.25, 0.5],)") == bad_load);
  BOOST_TEST(run_problem(load, R"("load_average": [0.12, "0.30", 0.25],)") == bad_load);
  BOOST_TEST(run_problem(load, R"("load_average": 0.12,)") == bad_load);
  BOOST_TEST(run_problem(load, "") == bad_load);
}

BOOST_AUTO_TEST_CASE(a_google_benchmark_context_that_is_not_an_object_is_rejected) {
  constexpr std::string_view gb = R"("google_benchmark": {"host_name": "ci-runner-1", "num_cpus": 2},)";
  BOOST_TEST(run_problem(gb, R"("google_benchmark": "{}",)") == "context.google_benchmark is missing or not an object");
  BOOST_TEST(run_problem(gb, "") == "context.google_benchmark is missing or not an object");
}

BOOST_AUTO_TEST_CASE(noisy_reasons_that_are_not_a_list_of_strings_are_rejected) {
  constexpr std::string_view reasons = R"("noisy_reasons": ["none"])";
  BOOST_TEST(run_problem(reasons, R"("noisy_reasons": ["governor is powersave", 1])") ==
             "context.noisy_reasons holds a non-string");
  BOOST_TEST(run_problem(reasons, R"("noisy_reasons": "none")") == "context.noisy_reasons is missing or not a list");
  BOOST_TEST(run_problem(R"(,
  "noisy_reasons": ["none"])",
                         "") == "context.noisy_reasons is missing or not a list");
}

// --- parse_run: the benchmarks ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(benchmarks_that_are_not_a_list_are_rejected) {
  BOOST_TEST(run_problem(R"("benchmarks": [)", R"("benchmarks": {}, "old": [)") ==
             "run.benchmarks is missing or not a list");
  BOOST_TEST(run_problem(R"("benchmarks": [)", R"("benches": [)") == "run.benchmarks is missing or not a list");
}

BOOST_AUTO_TEST_CASE(a_benchmark_that_is_not_an_object_is_named_by_index) {
  BOOST_TEST(run_problem(R"("benchmarks": [)", R"("benchmarks": ["bench_sys/BM_x", )") ==
             "benchmarks[0] is not an object");
}

BOOST_AUTO_TEST_CASE(a_benchmark_without_executable_or_name_is_named_by_index) {
  BOOST_TEST(run_problem(R"("executable": "bench_event_manager")", R"("exe": "bench_event_manager")") ==
             "benchmarks[1].executable is missing or not a string");
  BOOST_TEST(run_problem(R"("name": "BM_event_manager_add")", R"("name": 5)") ==
             "benchmarks[1].name is missing or not a string");
  BOOST_TEST(run_problem(R"("name": "BM_sys_event_fd_round_trip")", R"("title": "BM_sys_event_fd_round_trip")") ==
             "benchmarks[0].name is missing or not a string");
}

BOOST_AUTO_TEST_CASE(a_benchmark_with_an_empty_executable_or_name_is_rejected) {
  BOOST_TEST(run_problem(R"("name": "BM_event_manager_add")", R"("name": "")") ==
             "benchmarks[1] has an empty executable or name");
  BOOST_TEST(run_problem(R"("executable": "bench_sys")", R"("executable": "")") ==
             "benchmarks[0] has an empty executable or name");
}

BOOST_AUTO_TEST_CASE(a_benchmark_without_a_repetitions_list_is_rejected) {
  BOOST_TEST(run_problem(R"("repetitions": [
    {"real_time": 812.5)",
                         R"("reps": [
    {"real_time": 812.5)") == "benchmarks[0].repetitions is missing or not a list");
  BOOST_TEST(run_problem(R"("repetitions": [
    {"real_time": 90.25)",
                         R"("repetitions": "none", "old": [
    {"real_time": 90.25)") == "benchmarks[1].repetitions is missing or not a list");
}

BOOST_AUTO_TEST_CASE(a_repetition_that_is_not_an_object_is_named_by_index) {
  BOOST_TEST(run_problem(R"({"real_time": 90.25)", R"(812.5, {"real_time": 90.25)") ==
             "benchmarks[1].repetitions[0] is not an object");
}

BOOST_AUTO_TEST_CASE(a_missing_or_mistyped_time_or_iteration_count_is_named) {
  BOOST_TEST(run_problem(R"("real_time": 812.5, )", "") ==
             "benchmarks[0].repetitions[0].real_time is missing or not a number");
  BOOST_TEST(run_problem(R"("cpu_time": 90.0)", R"("cpu_time": "90")") ==
             "benchmarks[1].repetitions[0].cpu_time is missing or not a number");
  BOOST_TEST(run_problem(R"("iterations": 862000)", R"("iterations": 862000.5)") ==
             "benchmarks[0].repetitions[0].iterations is missing or not an integer");
}

BOOST_AUTO_TEST_CASE(a_negative_time_or_iteration_count_is_rejected) {
  constexpr std::string_view negative = "benchmarks[0].repetitions[0] has a negative time or iteration count";
  BOOST_TEST(run_problem(R"("real_time": 812.5)", R"("real_time": -812.5)") == negative);
  BOOST_TEST(run_problem(R"("cpu_time": 810.1)", R"("cpu_time": -0.1)") == negative);
  BOOST_TEST(run_problem(R"("iterations": 862000)", R"("iterations": -1)") == negative);
}

BOOST_AUTO_TEST_CASE(counters_that_are_not_an_object_are_rejected) {
  BOOST_TEST(run_problem(R"("counters": {})", R"("counters": [])") ==
             "benchmarks[1].repetitions[0].counters is missing or not an object");
  BOOST_TEST(run_problem(R"(, "counters": {})", "") ==
             "benchmarks[1].repetitions[0].counters is missing or not an object");
}

BOOST_AUTO_TEST_CASE(a_non_finite_or_non_numeric_counter_is_named) {
  constexpr std::string_view counter = R"("items_per_second": 1230000.0)";
  BOOST_TEST(run_problem(counter, R"("items_per_second": "many")") ==
             "benchmarks[0].repetitions[0].counters.items_per_second is not a finite number");
  BOOST_TEST(run_problem(counter, R"("items_per_second": null)") ==
             "benchmarks[0].repetitions[0].counters.items_per_second is not a finite number");
}

BOOST_AUTO_TEST_CASE(a_benchmark_key_that_appears_twice_is_rejected) {
  BOOST_TEST(run_problem(R"("executable": "bench_event_manager",
   "name": "BM_event_manager_add")",
                         R"("executable": "bench_sys",
   "name": "BM_sys_event_fd_round_trip")") == "benchmarks[1]: bench_sys/BM_sys_event_fd_round_trip appears twice");
}

BOOST_AUTO_TEST_CASE(the_same_name_in_two_executables_is_not_a_duplicate) {
  const auto parsed = results::parse_run(run_with(R"("name": "BM_event_manager_add")",  //
                                                  R"("name": "BM_sys_event_fd_round_trip")"));

  BOOST_TEST_REQUIRE(parsed.has_value(), problem_of(parsed));
  BOOST_TEST(parsed->benchmarks.at(1).key() == "bench_event_manager/BM_sys_event_fd_round_trip");
}

// --- parse_manifest ------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_manifest_that_is_not_json_is_invalid_json) {
  BOOST_TEST(manifest_problem(R"({"schema_version": 1, "benches": [)") == "not valid JSON (truncated or corrupt)");
}

BOOST_AUTO_TEST_CASE(a_manifest_without_schema_version_1_is_rejected) {
  constexpr std::string_view not_a_manifest = "not a schema_version 1 bench manifest";
  BOOST_TEST(manifest_problem(R"({"benches": []})") == not_a_manifest);
  BOOST_TEST(manifest_problem(R"({"schema_version": 2, "benches": []})") == not_a_manifest);
  BOOST_TEST(manifest_problem(R"({"schema_version": "1", "benches": []})") == not_a_manifest);
  BOOST_TEST(manifest_problem(R"({"schema_version": 1.0, "benches": []})") == not_a_manifest);
  BOOST_TEST(manifest_problem(R"([{"schema_version": 1}])") == not_a_manifest);
}

BOOST_AUTO_TEST_CASE(a_manifest_without_a_benches_array_is_rejected) {
  BOOST_TEST(manifest_problem(R"({"schema_version": 1})") == R"(no "benches" array)");
  BOOST_TEST(manifest_problem(R"({"schema_version": 1, "benches": {}})") == R"(no "benches" array)");
}

BOOST_AUTO_TEST_CASE(a_bench_that_is_not_an_object_is_named_by_index) {
  BOOST_TEST(bench_problem(R"("benches/b/bench_b")") == "benches[1] is not an object");
}

BOOST_AUTO_TEST_CASE(a_bench_without_an_executable_is_rejected) {
  BOOST_TEST(bench_problem(R"({"profiles": {"pr": ["BM_.*"]}})") == R"(benches[1] lacks "executable")");
  BOOST_TEST(bench_problem(R"({"executable": "", "profiles": {"pr": ["BM_.*"]}})") ==
             R"(benches[1] lacks "executable")");
  BOOST_TEST(bench_problem(R"({"executable": 3, "profiles": {"pr": ["BM_.*"]}})") ==
             R"(benches[1] lacks "executable")");
}

BOOST_AUTO_TEST_CASE(a_bench_without_profiles_is_rejected) {
  BOOST_TEST(bench_problem(R"({"executable": "benches/b/bench_b"})") ==
             R"(benches[1] (benches/b/bench_b) lacks "profiles")");
  BOOST_TEST(bench_problem(R"({"executable": "benches/b/bench_b", "profiles": ["pr"]})") ==
             R"(benches[1] (benches/b/bench_b) lacks "profiles")");
}

BOOST_AUTO_TEST_CASE(a_bad_profile_name_is_rejected) {
  BOOST_TEST(bench_problem(R"({"executable": "benches/b/bench_b", "profiles": {"pr/x": ["BM_.*"]}})") ==
             R"(benches[1]: profile name "pr/x" is not 1 to 64 of [A-Za-z0-9._-])");
  BOOST_TEST(bench_problem(R"({"executable": "benches/b/bench_b", "profiles": {"": ["BM_.*"]}})") ==
             R"(benches[1]: profile name "" is not 1 to 64 of [A-Za-z0-9._-])");
}

BOOST_AUTO_TEST_CASE(a_profile_that_is_not_a_non_empty_pattern_list_is_rejected) {
  BOOST_TEST(bench_problem(R"({"executable": "benches/b/bench_b", "profiles": {"pr": []}})") ==
             R"(profile "pr" of benches/b/bench_b is not a non-empty list of patterns)");
  BOOST_TEST(bench_problem(R"({"executable": "benches/b/bench_b", "profiles": {"pr": "BM_.*"}})") ==
             R"(profile "pr" of benches/b/bench_b is not a non-empty list of patterns)");
}

BOOST_AUTO_TEST_CASE(a_pattern_that_is_not_a_non_empty_string_is_rejected) {
  BOOST_TEST(bench_problem(R"({"executable": "benches/b/bench_b", "profiles": {"pr": ["BM_.*", 5]}})") ==
             R"(a pattern of profile "pr" is not a non-empty string)");
  BOOST_TEST(bench_problem(R"({"executable": "benches/b/bench_b", "profiles": {"nightly": [""]}})") ==
             R"(a pattern of profile "nightly" is not a non-empty string)");
}

BOOST_AUTO_TEST_CASE(a_pattern_that_is_not_a_valid_regex_is_rejected) {
  BOOST_TEST(bench_problem(R"({"executable": "benches/b/bench_b", "profiles": {"pr": ["BM_(unclosed"]}})") ==
             R"(pattern "BM_(unclosed" of profile "pr" is not a valid regex)");
  BOOST_TEST(bench_problem(R"({"executable": "benches/b/bench_b", "profiles": {"pr": ["*BM"]}})") ==
             R"(pattern "*BM" of profile "pr" is not a valid regex)");
}

BOOST_AUTO_TEST_CASE(thresholds_that_are_not_an_object_are_rejected) {
  BOOST_TEST(
      bench_problem(R"({"executable": "benches/b/bench_b", "profiles": {"pr": ["BM_.*"]}, "thresholds": [0.1]})") ==
      "benches[1].thresholds is not an object");
}

BOOST_AUTO_TEST_CASE(a_threshold_regex_that_is_not_valid_is_rejected) {
  BOOST_TEST(
      bench_problem(
          R"({"executable": "benches/b/bench_b", "profiles": {"pr": ["BM_.*"]}, "thresholds": {"BM_[": 0.1}})") ==
      R"(benches[1].thresholds: "BM_[" is not a valid regex)");
}

BOOST_AUTO_TEST_CASE(a_threshold_outside_0_to_10_is_rejected) {
  constexpr std::string_view bench = R"({{"executable": "benches/b/bench_b", "profiles": {{"pr": ["BM_.*"]}},
                                         "thresholds": {{"BM_b.*": {}}}}})";
  constexpr std::string_view out_of_range = "benches[1].thresholds.BM_b.* is not a number in (0, 10]";
  BOOST_TEST(bench_problem(std::format(bench, "0")) == out_of_range);
  BOOST_TEST(bench_problem(std::format(bench, "-0.1")) == out_of_range);
  BOOST_TEST(bench_problem(std::format(bench, "10.5")) == out_of_range);
  BOOST_TEST(bench_problem(std::format(bench, R"("0.1")")) == out_of_range);
}

BOOST_AUTO_TEST_CASE(a_threshold_of_exactly_10_is_accepted) {
  const auto m = results::parse_manifest(manifest_with_bench(
      R"({"executable": "benches/b/bench_b", "profiles": {"pr": ["BM_.*"]}, "thresholds": {"BM_b.*": 10}})"));

  BOOST_TEST_REQUIRE(m.has_value(), problem_of(m));
  BOOST_TEST(m->threshold("bench_b", "BM_b_x") == 10.0);
}

BOOST_AUTO_TEST_CASE(a_default_threshold_outside_0_to_10_is_rejected) {
  constexpr std::string_view out_of_range = "manifest.default_threshold is not a number in (0, 10]";
  BOOST_TEST(manifest_problem(R"({"schema_version": 1, "default_threshold": 0, "benches": []})") == out_of_range);
  BOOST_TEST(manifest_problem(R"({"schema_version": 1, "default_threshold": -1, "benches": []})") == out_of_range);
  BOOST_TEST(manifest_problem(R"({"schema_version": 1, "default_threshold": 10.01, "benches": []})") == out_of_range);
  BOOST_TEST(manifest_problem(R"({"schema_version": 1, "default_threshold": "0.05", "benches": []})") == out_of_range);
}

// --- manifest "run" settings ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(run_settings_that_are_not_an_object_are_rejected) {
  BOOST_TEST(bench_problem(R"({"executable": "benches/b/bench_b", "profiles": {"pr": ["BM_.*"]}, "run": []})") ==
             "benches[1].run is not an object");
  BOOST_TEST(bench_problem(R"({"executable": "benches/b/bench_b", "profiles": {"pr": ["BM_.*"]}, "run": {"pr": 5}})") ==
             "benches[1].run.pr is not an object");
}

BOOST_AUTO_TEST_CASE(run_settings_for_a_profile_the_bench_lacks_are_rejected) {
  BOOST_TEST(
      bench_problem(R"({"executable": "benches/b/bench_b", "profiles": {"pr": ["BM_.*"]}, "run": {"nightly": {}}})") ==
      R"(benches[1].run.nightly: the bench has no profile "nightly")");
}

BOOST_AUTO_TEST_CASE(run_repetitions_outside_1_to_10000_or_fractional_are_rejected) {
  constexpr std::string_view bench =
      R"({{"executable": "benches/b/bench_b", "profiles": {{"pr": ["BM_.*"]}}, "run": {{"pr": {{"repetitions": {}}}}}}})";
  constexpr std::string_view bad = "benches[1].run.pr.repetitions is not a whole number in [1, 10000]";
  BOOST_TEST(bench_problem(std::format(bench, "0")) == bad);
  BOOST_TEST(bench_problem(std::format(bench, "10001")) == bad);
  BOOST_TEST(bench_problem(std::format(bench, "2.5")) == bad);
  BOOST_TEST(bench_problem(std::format(bench, R"("3")")) == bad);
}

BOOST_AUTO_TEST_CASE(run_min_time_outside_a_millisecond_to_an_hour_is_rejected) {
  constexpr std::string_view bench =
      R"({{"executable": "benches/b/bench_b", "profiles": {{"pr": ["BM_.*"]}}, "run": {{"pr": {{"min_time": {}}}}}}})";
  constexpr std::string_view bad = "benches[1].run.pr.min_time is not a number of seconds in [0.001, 3600]";
  BOOST_TEST(bench_problem(std::format(bench, "0")) == bad);
  BOOST_TEST(bench_problem(std::format(bench, "3601")) == bad);
  BOOST_TEST(bench_problem(std::format(bench, "-1")) == bad);
  BOOST_TEST(bench_problem(std::format(bench, "null")) == bad);
}

BOOST_AUTO_TEST_CASE(run_settings_with_an_unknown_key_are_rejected) {
  BOOST_TEST(
      bench_problem(
          R"({"executable": "benches/b/bench_b", "profiles": {"pr": ["BM_.*"]}, "run": {"pr": {"min-time": 1}}})") ==
      R"(benches[1].run.pr: unknown key "min-time" (known: repetitions, min_time))");
}

BOOST_AUTO_TEST_SUITE_END()
