// to_json and parse_run: a fully populated run survives the round trip field for field, the documented example of
// docs/results-schema.md parses to the values it shows, and strings that are not valid UTF-8 are replaced rather than
// thrown on. Bad run files are in negative_test.cpp.
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.results;

namespace results = vmm::bench::results;

namespace {

// Every field set to a value other than its default, so a field that is not written or not read shows.
auto full_run() -> results::run {
  return results::run{
      .machine = "ci-runner-1",
      .profile = "nightly",
      .complete = true,
      .ctx =
          results::context{
              .commit = "0123456789abcdef0123456789abcdef01234567",
              .branch = "feature/results",
              .commit_date = "2026-11-20T10:00:00+00:00",
              .dirty = true,
              .run_date = "2026-11-20T11:00:00Z",
              .compiler = "/usr/bin/clang++-19 (Debian clang version 19.1.7 (3))",
              .build_type = "Release",
              .cxx_flags = "-stdlib=libc++ -O3 -DNDEBUG",
              .cpu_model = "AMD EPYC 7B13",
              .cpu_count = 2,
              .governor = "powersave",
              .aslr = 2,
              .load_average = {0.12, 1.5, 0.25},
              .kernel = "Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 x86_64",
              // Compact and with sorted keys: the form parse_google_benchmark produces and parse_run gives back.
              .google_benchmark = R"({"host_name":"ci-runner-1","load_avg":[0.5,0.25],"num_cpus":2})",
              .noisy = true,
              .noisy_reasons = {"governor is powersave, not performance", "load average 1.5 exceeds 1"},
          },
      .benchmarks =
          {
              results::benchmark{
                  .executable = "bench_sys",
                  .name = "BM_sys_event_fd_round_trip",
                  .repetitions =
                      {
                          {.real_time = 812.5,
                           .cpu_time = 810.1,
                           .iterations = 862000,
                           .counters = {{"bytes_per_second", 1.0e9 / 3.0}, {"items_per_second", 1230000.0}}},
                          {.real_time = 0.1, .cpu_time = 0.0, .iterations = 0, .counters = {}},
                      },
              },
              results::benchmark{
                  .executable = "bench_event_manager",
                  .name = "BM_event_manager_add/threads:2",
                  .repetitions = {{.real_time = 1.0e12 + 0.5,
                                   .cpu_time = 3.14159,
                                   .iterations = std::int64_t{1} << 40,
                                   .counters = {{"wakeups", -7.25}}}},
              },
              results::benchmark{.executable = "bench_sys", .name = "BM_sys_nothing", .repetitions = {}},
          },
  };
}

// The example run file of docs/results-schema.md, with a concrete google_benchmark block.
constexpr std::string_view documented_example = R"json({
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
  "google_benchmark": { "num_cpus": 2, "host_name": "ci-runner-1" },
  "noisy": false,
  "noisy_reasons": []
 },
 "benchmarks": [
  {
   "executable": "bench_sys",
   "name": "BM_sys_event_fd_round_trip",
   "repetitions": [
    { "real_time": 812.5, "cpu_time": 810.1, "iterations": 862000, "counters": { "items_per_second": 1230000.0 } }
   ]
  }
 ]
}
)json";

// U+FFFD REPLACEMENT CHARACTER in UTF-8: what an invalid byte becomes.
constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

}  // namespace

BOOST_AUTO_TEST_SUITE(run_file)

BOOST_AUTO_TEST_CASE(a_fully_populated_run_survives_the_round_trip) {
  const auto original = full_run();

  const auto parsed = results::parse_run(results::to_json(original));

  BOOST_TEST_REQUIRE(parsed.has_value(), parsed.error_or("ok"));
  BOOST_TEST(parsed->machine == original.machine);
  BOOST_TEST(parsed->profile == original.profile);
  BOOST_TEST(parsed->complete == original.complete);
  BOOST_TEST((parsed->ctx == original.ctx));
  BOOST_TEST((parsed->benchmarks == original.benchmarks));
  BOOST_TEST((*parsed == original));
}

BOOST_AUTO_TEST_CASE(an_incomplete_clean_run_without_benchmarks_survives_the_round_trip) {
  results::run original;  // every other field keeps its default
  original.machine = "m";
  original.profile = "pr";
  original.ctx.commit = "abcd";

  const auto parsed = results::parse_run(results::to_json(original));

  BOOST_TEST_REQUIRE(parsed.has_value(), parsed.error_or("ok"));
  BOOST_TEST((*parsed == original));
  BOOST_TEST(parsed->ctx.aslr == -1);
  BOOST_TEST(parsed->ctx.google_benchmark == "{}");
}

BOOST_AUTO_TEST_CASE(the_json_names_the_schema_and_ends_with_a_newline) {
  const auto text = results::to_json(full_run());

  BOOST_TEST(text.contains(R"("schema": "cpp-vmm.bench.run")"));
  BOOST_TEST(text.contains(R"("schema_version": 1,)"));
  BOOST_TEST(text.contains(R"("time_unit": "ns")"));
  BOOST_TEST(text.starts_with("{\n "));
  BOOST_TEST(text.ends_with("}\n"));
}

BOOST_AUTO_TEST_CASE(the_documented_example_parses_to_its_values) {
  const auto parsed = results::parse_run(documented_example);

  BOOST_TEST_REQUIRE(parsed.has_value(), parsed.error_or("ok"));
  BOOST_TEST(parsed->machine == "ci-runner-1");
  BOOST_TEST(parsed->profile == "nightly");
  BOOST_TEST(parsed->complete);
  BOOST_TEST(parsed->ctx.commit == "0123456789abcdef0123456789abcdef01234567");
  BOOST_TEST(parsed->ctx.branch == "main");
  BOOST_TEST(parsed->ctx.dirty == false);
  BOOST_TEST(parsed->ctx.cpu_count == 2);
  BOOST_TEST(parsed->ctx.aslr == 2);
  BOOST_TEST(parsed->ctx.load_average == (std::array{0.12, 0.30, 0.25}), boost::test_tools::per_element());
  BOOST_TEST(parsed->ctx.google_benchmark == R"({"num_cpus":2,"host_name":"ci-runner-1"})");
  BOOST_TEST(parsed->ctx.noisy_reasons.empty());
  BOOST_TEST_REQUIRE(parsed->benchmarks.size() == 1U);
  BOOST_TEST(parsed->benchmarks[0].key() == "bench_sys/BM_sys_event_fd_round_trip");
  BOOST_TEST_REQUIRE(parsed->benchmarks[0].repetitions.size() == 1U);
  const auto& rep = parsed->benchmarks[0].repetitions[0];
  BOOST_TEST(rep.real_time == 812.5);
  BOOST_TEST(rep.cpu_time == 810.1);
  BOOST_TEST(rep.iterations == 862000);
  BOOST_TEST((rep.counters == std::vector<std::pair<std::string, double>>{{"items_per_second", 1230000.0}}));
}

BOOST_AUTO_TEST_CASE(fields_a_reader_does_not_know_are_ignored) {
  // docs/results-schema.md: adding an optional field does not change the version, readers ignore it.
  std::string text{documented_example};
  text.insert(text.find("\"machine\""), R"("added_in_a_later_minor_change": {"x": [1, 2]}, )");

  const auto parsed = results::parse_run(text);

  BOOST_TEST_REQUIRE(parsed.has_value(), parsed.error_or("ok"));
  BOOST_TEST(parsed->machine == "ci-runner-1");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_context_string_is_replaced_not_thrown) {
  auto run = full_run();
  run.ctx.cpu_model = "\xff";
  run.ctx.kernel = "Linux \xc3";  // a truncated two-byte sequence

  std::string text;
  BOOST_CHECK_NO_THROW(text = results::to_json(run));
  const auto parsed = results::parse_run(text);

  BOOST_TEST_REQUIRE(parsed.has_value(), parsed.error_or("ok"));
  BOOST_TEST(parsed->ctx.cpu_model == replacement_character);
  BOOST_TEST(parsed->ctx.kernel == std::format("Linux {}", replacement_character));
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_benchmark_name_is_replaced_not_thrown) {
  auto run = full_run();
  run.benchmarks[0].name = "BM_\xfe";

  std::string text;
  BOOST_CHECK_NO_THROW(text = results::to_json(run));
  const auto parsed = results::parse_run(text);

  BOOST_TEST_REQUIRE(parsed.has_value(), parsed.error_or("ok"));
  BOOST_TEST(parsed->benchmarks.at(0).name == std::format("BM_{}", replacement_character));
}

BOOST_AUTO_TEST_CASE(a_google_benchmark_context_that_is_not_json_is_written_as_an_empty_object) {
  auto run = full_run();
  run.ctx.google_benchmark = "{\"truncated\": ";

  const auto parsed = results::parse_run(results::to_json(run));

  BOOST_TEST_REQUIRE(parsed.has_value(), parsed.error_or("ok"));
  BOOST_TEST(parsed->ctx.google_benchmark == "{}");
}

BOOST_AUTO_TEST_CASE(a_google_benchmark_context_that_is_not_an_object_is_written_as_an_empty_object) {
  auto run = full_run();
  run.ctx.google_benchmark = "[1, 2]";

  const auto parsed = results::parse_run(results::to_json(run));

  BOOST_TEST_REQUIRE(parsed.has_value(), parsed.error_or("ok"));
  BOOST_TEST(parsed->ctx.google_benchmark == "{}");
}

BOOST_AUTO_TEST_CASE(extreme_int_values_of_the_context_survive_the_round_trip) {
  auto run = full_run();
  run.ctx.cpu_count = std::numeric_limits<int>::max();
  run.ctx.aslr = std::numeric_limits<int>::min();

  const auto parsed = results::parse_run(results::to_json(run));

  BOOST_TEST_REQUIRE(parsed.has_value(), parsed.error_or("ok"));
  BOOST_TEST(parsed->ctx.cpu_count == std::numeric_limits<int>::max());
  BOOST_TEST(parsed->ctx.aslr == std::numeric_limits<int>::min());
}

BOOST_AUTO_TEST_SUITE_END()
