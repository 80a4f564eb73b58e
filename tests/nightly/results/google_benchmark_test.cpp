// parse_google_benchmark on Google Benchmark 1.7.1's JSON output (--benchmark_out_format=json): every repetition in
// order, aggregates dropped, time units converted exactly, user counters kept, errors (SkipWithError) reported, the
// context kept as compact JSON. Bad input is in negative_test.cpp.
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.results;

namespace results = vmm::bench::results;

namespace {

// What bench_sys --benchmark_repetitions=3 --benchmark_out_format=json writes with Google Benchmark 1.7.1: three
// repetitions of each benchmark followed by its four aggregates (mean, median, stddev, cv). The second benchmark
// reports in microseconds and has two user counters and a label.
constexpr std::string_view repeated_output = R"json({
  "context": {
    "date": "2025-03-02T10:15:42+00:00",
    "host_name": "runner-a",
    "executable": "./benches/sys/bench_sys",
    "num_cpus": 2,
    "mhz_per_cpu": 2450,
    "cpu_scaling_enabled": false,
    "caches": [
      {
        "type": "Data",
        "level": 1,
        "size": 32768,
        "num_sharing": 1
      }
    ],
    "load_avg": [0.5,0.25,0.125],
    "library_build_type": "release"
  },
  "benchmarks": [
    {
      "name": "BM_sys_eventfd_round_trip/real_time",
      "family_index": 0,
      "per_family_instance_index": 0,
      "run_name": "BM_sys_eventfd_round_trip/real_time",
      "run_type": "iteration",
      "repetitions": 3,
      "repetition_index": 0,
      "threads": 1,
      "iterations": 862000,
      "real_time": 8.1250000000000000e+02,
      "cpu_time": 8.1000000000000000e+02,
      "time_unit": "ns"
    },
    {
      "name": "BM_sys_eventfd_round_trip/real_time",
      "family_index": 0,
      "per_family_instance_index": 0,
      "run_name": "BM_sys_eventfd_round_trip/real_time",
      "run_type": "iteration",
      "repetitions": 3,
      "repetition_index": 1,
      "threads": 1,
      "iterations": 862000,
      "real_time": 8.0000000000000000e+02,
      "cpu_time": 7.9750000000000000e+02,
      "time_unit": "ns"
    },
    {
      "name": "BM_sys_eventfd_round_trip/real_time",
      "family_index": 0,
      "per_family_instance_index": 0,
      "run_name": "BM_sys_eventfd_round_trip/real_time",
      "run_type": "iteration",
      "repetitions": 3,
      "repetition_index": 2,
      "threads": 1,
      "iterations": 862000,
      "real_time": 8.2500000000000000e+02,
      "cpu_time": 8.2000000000000000e+02,
      "time_unit": "ns"
    },
    {
      "name": "BM_sys_eventfd_round_trip/real_time_mean",
      "family_index": 0,
      "per_family_instance_index": 0,
      "run_name": "BM_sys_eventfd_round_trip/real_time",
      "run_type": "aggregate",
      "repetitions": 3,
      "threads": 1,
      "aggregate_name": "mean",
      "aggregate_unit": "time",
      "iterations": 3,
      "real_time": 8.1250000000000000e+02,
      "cpu_time": 8.0916666666666663e+02,
      "time_unit": "ns"
    },
    {
      "name": "BM_sys_eventfd_round_trip/real_time_median",
      "family_index": 0,
      "per_family_instance_index": 0,
      "run_name": "BM_sys_eventfd_round_trip/real_time",
      "run_type": "aggregate",
      "repetitions": 3,
      "threads": 1,
      "aggregate_name": "median",
      "aggregate_unit": "time",
      "iterations": 3,
      "real_time": 8.1250000000000000e+02,
      "cpu_time": 8.1000000000000000e+02,
      "time_unit": "ns"
    },
    {
      "name": "BM_sys_eventfd_round_trip/real_time_stddev",
      "family_index": 0,
      "per_family_instance_index": 0,
      "run_name": "BM_sys_eventfd_round_trip/real_time",
      "run_type": "aggregate",
      "repetitions": 3,
      "threads": 1,
      "aggregate_name": "stddev",
      "aggregate_unit": "time",
      "iterations": 3,
      "real_time": 1.2500000000000000e+01,
      "cpu_time": 1.1273124382329055e+01,
      "time_unit": "ns"
    },
    {
      "name": "BM_sys_eventfd_round_trip/real_time_cv",
      "family_index": 0,
      "per_family_instance_index": 0,
      "run_name": "BM_sys_eventfd_round_trip/real_time",
      "run_type": "aggregate",
      "repetitions": 3,
      "threads": 1,
      "aggregate_name": "cv",
      "aggregate_unit": "percentage",
      "iterations": 3,
      "real_time": 1.5384615384615385e-02,
      "cpu_time": 1.3931767516784294e-02,
      "time_unit": "ns"
    },
    {
      "name": "BM_sys_pipe_copy/4096",
      "family_index": 1,
      "per_family_instance_index": 0,
      "run_name": "BM_sys_pipe_copy/4096",
      "run_type": "iteration",
      "repetitions": 3,
      "repetition_index": 0,
      "threads": 1,
      "iterations": 5000,
      "real_time": 1.5000000000000000e+00,
      "cpu_time": 1.2500000000000000e+00,
      "time_unit": "us",
      "bytes_per_second": 2.7306666666666667e+09,
      "copies": 5.0000000000000000e+03,
      "label": "pipe2(O_CLOEXEC)"
    },
    {
      "name": "BM_sys_pipe_copy/4096",
      "family_index": 1,
      "per_family_instance_index": 0,
      "run_name": "BM_sys_pipe_copy/4096",
      "run_type": "iteration",
      "repetitions": 3,
      "repetition_index": 1,
      "threads": 1,
      "iterations": 5000,
      "real_time": 1.7500000000000000e+00,
      "cpu_time": 1.5000000000000000e+00,
      "time_unit": "us",
      "bytes_per_second": 2.3405714285714285e+09,
      "copies": 5.0000000000000000e+03,
      "label": "pipe2(O_CLOEXEC)"
    },
    {
      "name": "BM_sys_pipe_copy/4096",
      "family_index": 1,
      "per_family_instance_index": 0,
      "run_name": "BM_sys_pipe_copy/4096",
      "run_type": "iteration",
      "repetitions": 3,
      "repetition_index": 2,
      "threads": 1,
      "iterations": 5000,
      "real_time": 2.0000000000000000e+00,
      "cpu_time": 1.7500000000000000e+00,
      "time_unit": "us",
      "bytes_per_second": 2.0480000000000000e+09,
      "copies": 5.0000000000000000e+03,
      "label": "pipe2(O_CLOEXEC)"
    },
    {
      "name": "BM_sys_pipe_copy/4096_mean",
      "family_index": 1,
      "per_family_instance_index": 0,
      "run_name": "BM_sys_pipe_copy/4096",
      "run_type": "aggregate",
      "repetitions": 3,
      "threads": 1,
      "aggregate_name": "mean",
      "aggregate_unit": "time",
      "iterations": 3,
      "real_time": 1.7500000000000000e+00,
      "cpu_time": 1.5000000000000000e+00,
      "time_unit": "us",
      "bytes_per_second": 2.3730793650793652e+09,
      "copies": 5.0000000000000000e+03,
      "label": "pipe2(O_CLOEXEC)"
    }
  ]
}
)json";

// One entry per time unit, in Google Benchmark 1.7.1's shape (one repetition each, no aggregates).
constexpr std::string_view every_time_unit = R"json({
  "context": {"date": "2025-03-02T10:15:42+00:00", "host_name": "runner-a", "num_cpus": 2},
  "benchmarks": [
    {"name": "BM_unit_ns", "family_index": 0, "per_family_instance_index": 0, "run_name": "BM_unit_ns",
     "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1, "iterations": 10,
     "real_time": 1.2500000000000000e+02, "cpu_time": 1.0000000000000000e+02, "time_unit": "ns"},
    {"name": "BM_unit_us", "family_index": 1, "per_family_instance_index": 0, "run_name": "BM_unit_us",
     "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1, "iterations": 10,
     "real_time": 1.5000000000000000e+00, "cpu_time": 2.5000000000000000e-01, "time_unit": "us"},
    {"name": "BM_unit_ms", "family_index": 2, "per_family_instance_index": 0, "run_name": "BM_unit_ms",
     "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1, "iterations": 10,
     "real_time": 2.2500000000000000e+00, "cpu_time": 5.0000000000000000e-01, "time_unit": "ms"},
    {"name": "BM_unit_s", "family_index": 3, "per_family_instance_index": 0, "run_name": "BM_unit_s",
     "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1, "iterations": 10,
     "real_time": 5.0000000000000000e-01, "cpu_time": 1.2500000000000000e-01, "time_unit": "s"}
  ]
}
)json";

// Two benchmarks whose repetitions Google Benchmark interleaved (--benchmark_enable_random_interleaving=true).
constexpr std::string_view interleaved_output = R"json({
  "context": {"date": "2025-03-02T10:15:42+00:00", "host_name": "runner-a", "num_cpus": 2},
  "benchmarks": [
    {"name": "BM_b", "family_index": 1, "per_family_instance_index": 0, "run_name": "BM_b", "run_type": "iteration",
     "repetitions": 2, "repetition_index": 0, "threads": 1, "iterations": 7, "real_time": 20.0, "cpu_time": 19.0,
     "time_unit": "ns"},
    {"name": "BM_a", "family_index": 0, "per_family_instance_index": 0, "run_name": "BM_a", "run_type": "iteration",
     "repetitions": 2, "repetition_index": 0, "threads": 1, "iterations": 5, "real_time": 10.0, "cpu_time": 9.0,
     "time_unit": "ns"},
    {"name": "BM_b", "family_index": 1, "per_family_instance_index": 0, "run_name": "BM_b", "run_type": "iteration",
     "repetitions": 2, "repetition_index": 1, "threads": 1, "iterations": 7, "real_time": 21.0, "cpu_time": 20.0,
     "time_unit": "ns"},
    {"name": "BM_a", "family_index": 0, "per_family_instance_index": 0, "run_name": "BM_a", "run_type": "iteration",
     "repetitions": 2, "repetition_index": 1, "threads": 1, "iterations": 5, "real_time": 11.0, "cpu_time": 10.0,
     "time_unit": "ns"}
  ]
}
)json";

// A bench whose second benchmark called state.SkipWithError in both repetitions (Google Benchmark 1.7.1 reports
// each errored repetition and computes no aggregates for it), and a third whose error has no message.
constexpr std::string_view output_with_errors = R"json({
  "context": {"date": "2025-03-02T10:15:42+00:00", "host_name": "runner-a", "num_cpus": 2},
  "benchmarks": [
    {"name": "BM_kvm_ok", "family_index": 0, "per_family_instance_index": 0, "run_name": "BM_kvm_ok",
     "run_type": "iteration", "repetitions": 2, "repetition_index": 0, "threads": 1, "iterations": 100,
     "real_time": 3.0e+02, "cpu_time": 2.0e+02, "time_unit": "ns"},
    {"name": "BM_kvm_ok", "family_index": 0, "per_family_instance_index": 0, "run_name": "BM_kvm_ok",
     "run_type": "iteration", "repetitions": 2, "repetition_index": 1, "threads": 1, "iterations": 100,
     "real_time": 3.5e+02, "cpu_time": 2.5e+02, "time_unit": "ns"},
    {"name": "BM_kvm_create_vm", "family_index": 1, "per_family_instance_index": 0, "run_name": "BM_kvm_create_vm",
     "run_type": "iteration", "repetitions": 2, "repetition_index": 0, "threads": 1,
     "error_occurred": true, "error_message": "/dev/kvm is not available",
     "iterations": 0, "real_time": 0.0e+00, "cpu_time": 0.0e+00, "time_unit": "ns"},
    {"name": "BM_kvm_create_vm", "family_index": 1, "per_family_instance_index": 0, "run_name": "BM_kvm_create_vm",
     "run_type": "iteration", "repetitions": 2, "repetition_index": 1, "threads": 1,
     "error_occurred": true, "error_message": "/dev/kvm is not available",
     "iterations": 0, "real_time": 0.0e+00, "cpu_time": 0.0e+00, "time_unit": "ns"},
    {"name": "BM_kvm_run", "family_index": 2, "per_family_instance_index": 0, "run_name": "BM_kvm_run",
     "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1, "error_occurred": true,
     "iterations": 0, "real_time": 0.0e+00, "cpu_time": 0.0e+00, "time_unit": "ns"},
    {"name": "BM_kvm_ok_mean", "family_index": 0, "per_family_instance_index": 0, "run_name": "BM_kvm_ok",
     "run_type": "aggregate", "repetitions": 2, "threads": 1, "aggregate_name": "mean", "aggregate_unit": "time",
     "iterations": 2, "real_time": 3.25e+02, "cpu_time": 2.25e+02, "time_unit": "ns"}
  ]
}
)json";

using counters = std::vector<std::pair<std::string, double>>;

auto real_times(const results::benchmark& b) -> std::vector<double> {
  std::vector<double> out;
  for (const auto& rep : b.repetitions) {
    out.push_back(rep.real_time);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(google_benchmark)

BOOST_AUTO_TEST_CASE(repetitions_are_kept_in_order_and_aggregates_dropped) {
  const auto out = results::parse_google_benchmark(repeated_output, "bench_sys");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  BOOST_TEST_REQUIRE(out->benchmarks.size() == 2U);
  BOOST_TEST(out->benchmarks[0].name == "BM_sys_eventfd_round_trip/real_time");
  BOOST_TEST(out->benchmarks[1].name == "BM_sys_pipe_copy/4096");
  BOOST_TEST(real_times(out->benchmarks[0]) == (std::vector{812.5, 800.0, 825.0}), boost::test_tools::per_element());
  BOOST_TEST(out->benchmarks[1].repetitions.size() == 3U);
  BOOST_TEST(out->errors.empty());
}

BOOST_AUTO_TEST_CASE(every_benchmark_carries_the_executable_name) {
  const auto out = results::parse_google_benchmark(repeated_output, "bench_sys");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  BOOST_TEST_REQUIRE(out->benchmarks.size() == 2U);
  BOOST_TEST(out->benchmarks[0].executable == "bench_sys");
  BOOST_TEST(out->benchmarks[1].key() == "bench_sys/BM_sys_pipe_copy/4096");
}

BOOST_AUTO_TEST_CASE(a_repetition_keeps_cpu_time_and_iterations) {
  const auto out = results::parse_google_benchmark(repeated_output, "bench_sys");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  const auto& rep = out->benchmarks.at(0).repetitions.at(1);
  BOOST_TEST(rep.real_time == 800.0);
  BOOST_TEST(rep.cpu_time == 797.5);
  BOOST_TEST(rep.iterations == 862000);
}

BOOST_AUTO_TEST_CASE(microseconds_are_converted_to_nanoseconds) {
  const auto out = results::parse_google_benchmark(repeated_output, "bench_sys");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  const auto& reps = out->benchmarks.at(1).repetitions;
  BOOST_TEST(real_times(out->benchmarks.at(1)) == (std::vector{1500.0, 1750.0, 2000.0}),
             boost::test_tools::per_element());
  BOOST_TEST(reps.at(0).cpu_time == 1250.0);
}

BOOST_AUTO_TEST_CASE(every_time_unit_is_converted_exactly) {
  const auto out = results::parse_google_benchmark(every_time_unit, "bench_units");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  BOOST_TEST_REQUIRE(out->benchmarks.size() == 4U);
  // The inputs are binary fractions (1.5, 2.25, 0.5, ...): each product is exact, so == is the right comparison.
  BOOST_TEST(out->benchmarks[0].repetitions.at(0).real_time == 125.0);
  BOOST_TEST(out->benchmarks[0].repetitions.at(0).cpu_time == 100.0);
  BOOST_TEST(out->benchmarks[1].repetitions.at(0).real_time == 1500.0);
  BOOST_TEST(out->benchmarks[1].repetitions.at(0).cpu_time == 250.0);
  BOOST_TEST(out->benchmarks[2].repetitions.at(0).real_time == 2250000.0);
  BOOST_TEST(out->benchmarks[2].repetitions.at(0).cpu_time == 500000.0);
  BOOST_TEST(out->benchmarks[3].repetitions.at(0).real_time == 500000000.0);
  BOOST_TEST(out->benchmarks[3].repetitions.at(0).cpu_time == 125000000.0);
}

BOOST_AUTO_TEST_CASE(user_counters_are_kept_by_name) {
  const auto out = results::parse_google_benchmark(repeated_output, "bench_sys");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  const auto& rep = out->benchmarks.at(1).repetitions.at(0);
  // Google Benchmark's own numeric members (family_index, repetitions, threads, iterations, ...) are not counters,
  // and neither is the string label.
  BOOST_TEST((rep.counters == counters{{"bytes_per_second", 2.7306666666666667e+09}, {"copies", 5000.0}}));
}

BOOST_AUTO_TEST_CASE(known_numeric_fields_are_not_taken_as_counters) {
  const auto out = results::parse_google_benchmark(repeated_output, "bench_sys");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  BOOST_TEST(out->benchmarks.at(0).repetitions.at(0).counters.empty());
}

BOOST_AUTO_TEST_CASE(the_context_is_kept_as_compact_json_in_file_order) {
  const auto out = results::parse_google_benchmark(repeated_output, "bench_sys");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  BOOST_TEST(out->context ==
             R"({"date":"2025-03-02T10:15:42+00:00","host_name":"runner-a","executable":"./benches/sys/bench_sys",)"
             R"("num_cpus":2,"mhz_per_cpu":2450,"cpu_scaling_enabled":false,)"
             R"("caches":[{"type":"Data","level":1,"size":32768,"num_sharing":1}],"load_avg":[0.5,0.25,0.125],)"
             R"("library_build_type":"release"})");
}

BOOST_AUTO_TEST_CASE(a_missing_context_is_an_empty_object) {
  const auto out = results::parse_google_benchmark(R"({"benchmarks": []})", "bench_sys");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  BOOST_TEST(out->context == "{}");
  BOOST_TEST(out->benchmarks.empty());
}

BOOST_AUTO_TEST_CASE(a_context_that_is_not_an_object_is_an_empty_object) {
  const auto out = results::parse_google_benchmark(R"({"context": [1, 2], "benchmarks": []})", "bench_sys");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  BOOST_TEST(out->context == "{}");
}

BOOST_AUTO_TEST_CASE(interleaved_repetitions_are_grouped_in_first_appearance_order) {
  const auto out = results::parse_google_benchmark(interleaved_output, "bench_x");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  BOOST_TEST_REQUIRE(out->benchmarks.size() == 2U);
  BOOST_TEST(out->benchmarks[0].name == "BM_b");
  BOOST_TEST(real_times(out->benchmarks[0]) == (std::vector{20.0, 21.0}), boost::test_tools::per_element());
  BOOST_TEST(out->benchmarks[1].name == "BM_a");
  BOOST_TEST(real_times(out->benchmarks[1]) == (std::vector{10.0, 11.0}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(errored_repetitions_are_reported_with_their_message) {
  const auto out = results::parse_google_benchmark(output_with_errors, "bench_kvm");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  BOOST_TEST(out->errors == (std::vector<std::string>{"BM_kvm_create_vm: /dev/kvm is not available",
                                                      "BM_kvm_create_vm: /dev/kvm is not available",
                                                      "BM_kvm_run: error_occurred"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(errored_benchmarks_have_no_repetitions_and_the_others_are_kept) {
  const auto out = results::parse_google_benchmark(output_with_errors, "bench_kvm");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  BOOST_TEST_REQUIRE(out->benchmarks.size() == 1U);
  BOOST_TEST(out->benchmarks[0].name == "BM_kvm_ok");
  BOOST_TEST(real_times(out->benchmarks[0]) == (std::vector{300.0, 350.0}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_run_name_names_the_benchmark) {
  // Google Benchmark 1.7.1 writes run_name; the per-entry name is only the fallback for older output.
  const auto out = results::parse_google_benchmark(
      R"({"benchmarks": [{"name": "BM_x/iterations:5", "run_name": "BM_x", "run_type": "iteration",
          "iterations": 5, "real_time": 4.0, "cpu_time": 3.0, "time_unit": "ns"}]})",
      "bench_x");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  BOOST_TEST_REQUIRE(out->benchmarks.size() == 1U);
  BOOST_TEST(out->benchmarks[0].name == "BM_x");
}

BOOST_AUTO_TEST_CASE(without_run_name_or_time_unit_the_name_and_nanoseconds_are_used) {
  const auto out = results::parse_google_benchmark(
      R"({"benchmarks": [{"name": "BM_old", "iterations": 5, "real_time": 4.5, "cpu_time": 3.5}]})", "bench_x");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  BOOST_TEST_REQUIRE(out->benchmarks.size() == 1U);
  BOOST_TEST(out->benchmarks[0].name == "BM_old");
  BOOST_TEST(out->benchmarks[0].repetitions.at(0).real_time == 4.5);
  BOOST_TEST(out->benchmarks[0].repetitions.at(0).cpu_time == 3.5);
}

BOOST_AUTO_TEST_CASE(non_numeric_extra_members_are_not_counters) {
  const auto out = results::parse_google_benchmark(
      R"({"benchmarks": [{"name": "BM_x", "iterations": 5, "real_time": 4.0, "cpu_time": 3.0, "time_unit": "ns",
          "note": "text", "flag": true, "list": [1, 2], "object": {"a": 1}, "missing": null, "rate": 2.5}]})",
      "bench_x");

  BOOST_TEST_REQUIRE(out.has_value(), out.error_or("ok"));
  BOOST_TEST((out->benchmarks.at(0).repetitions.at(0).counters == counters{{"rate", 2.5}}));
}

BOOST_AUTO_TEST_SUITE_END()
