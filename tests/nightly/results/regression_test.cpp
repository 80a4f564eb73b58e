// One case per bug found in vmm.bench.results, named after it. A case marked DISABLED shows a bug that is not fixed
// yet: it fails against the current module and is enabled by the commit that fixes it.
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.results;

namespace results = vmm::bench::results;

BOOST_AUTO_TEST_SUITE(regression)

// DISABLED (bug): parse_manifest reads "thresholds" through nlohmann::json's default object type, a std::map, so the
// entries come back sorted by regex text instead of in file order (results.cpp, parse_manifest, the loop over
// thresholds->items()). manifest::threshold then returns the first match in sorted order, not "the first matching
// entry of that bench's thresholds" as results.cppm documents. Here "BM_.*" sorts before "BM_sys_.*" ('.' < 's'),
// so BM_sys_x gets 0.3 instead of 0.2. Fix: parse with nlohmann::ordered_json (keeps insertion order).
BOOST_TEST_DECORATOR(*boost::unit_test::disabled())
BOOST_AUTO_TEST_CASE(threshold_takes_the_first_matching_entry_in_file_order) {
  const auto m = results::parse_manifest(R"({"schema_version": 1, "benches": [
      {"executable": "benches/sys/bench_sys", "profiles": {"pr": ["BM_sys_.*"]},
       "thresholds": {"BM_sys_.*": 0.2, "BM_.*": 0.3}}]})");

  BOOST_TEST_REQUIRE(m.has_value(), m.error_or("ok"));
  BOOST_TEST_REQUIRE(m->benches.at(0).thresholds.size() == 2U);
  BOOST_TEST(m->benches[0].thresholds[0].first == "BM_sys_.*");
  BOOST_TEST(m->threshold("bench_sys", "BM_sys_x") == 0.2);
}

// DISABLED (bug): results.cppm promises parse_run(to_json(r)) == r, but to_json writes a repetition's counters into
// a nlohmann::json object (a std::map), so they come back sorted by name (results.cpp, to_json, counters[key] =
// value), and two counters of the same name collapse into one. A run whose counters are not already sorted and
// unique compares unequal after the round trip. Fix: nlohmann::ordered_json for the counters object (and reject or
// document duplicate names), or document that counters are sorted by name.
BOOST_TEST_DECORATOR(*boost::unit_test::disabled())
BOOST_AUTO_TEST_CASE(round_trip_keeps_counters_in_their_order) {
  results::run original;
  original.machine = "runner-a";
  original.profile = "nightly";
  original.ctx.commit = "abcd";
  original.benchmarks = {
      {.executable = "bench_sys",
       .name = "BM_sys_x",
       .repetitions = {
           {.real_time = 1.0, .cpu_time = 1.0, .iterations = 1, .counters = {{"z_rate", 1.0}, {"a_count", 2.0}}}}}};

  const auto parsed = results::parse_run(results::to_json(original));

  BOOST_TEST_REQUIRE(parsed.has_value(), parsed.error_or("ok"));
  BOOST_TEST((parsed->benchmarks.at(0).repetitions.at(0).counters == original.benchmarks[0].repetitions[0].counters));
}

BOOST_AUTO_TEST_SUITE_END()
