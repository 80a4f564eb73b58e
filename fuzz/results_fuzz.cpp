// Fuzzes the three readers of vmm.bench.results that take bytes from files anyone can commit to a results branch or
// a pull request: Google Benchmark output, stored run files and the bench manifest. The first byte picks the reader;
// the rest is its input. Beyond "no crash, no sanitizer report", it checks the invariants the store relies on:
//   - a run that parses serialises to a file that parses back to the same run (nothing stored is lost or changed);
//   - every benchmark of a parsed Google Benchmark output has at least one repetition with finite, non-negative
//     times, and no aggregate is taken for a repetition;
//   - a parsed manifest answers plan() and threshold() for any name without throwing, with a threshold in (0, 10].
#include <cstddef>
#include <cstdint>

import std;
import vmm.bench.results;

namespace results = vmm::bench::results;

namespace {

[[noreturn]] void broken(std::string_view what) {
  std::println(std::cerr, "results_fuzz: invariant broken: {}", what);
  std::abort();
}

void check_google_benchmark(std::string_view text) {
  const auto out = results::parse_google_benchmark(text, "bench_fuzz");
  if (!out) {
    if (out.error().empty()) {
      broken("a problem without a message");
    }
    return;
  }
  for (const auto& b : out->benchmarks) {
    if (b.repetitions.empty() || b.name.empty() || b.executable != "bench_fuzz") {
      broken("a benchmark without repetitions, name or executable");
    }
    for (const auto& r : b.repetitions) {
      if (!std::isfinite(r.real_time) || !std::isfinite(r.cpu_time) || r.real_time < 0 || r.cpu_time < 0 ||
          r.iterations < 0) {
        broken("a repetition with a non-finite or negative time");
      }
    }
  }
}

void check_run(std::string_view text) {
  const auto r = results::parse_run(text);
  if (!r) {
    if (r.error().empty()) {
      broken("a problem without a message");
    }
    return;
  }
  const auto again = results::parse_run(results::to_json(*r));
  if (!again) {
    broken("a parsed run does not parse after to_json: " + again.error());
  }
  if (!(*again == *r)) {
    broken("a parsed run changes through to_json and parse_run");
  }
  if (!results::run_path("/store", *r)) {
    broken("a parsed run has no path in the store");
  }
}

void check_manifest(std::string_view text) {
  const auto m = results::parse_manifest(text);
  if (!m) {
    if (m.error().empty()) {
      broken("a problem without a message");
    }
    return;
  }
  for (const auto* profile : {"pr", "nightly", ""}) {
    for (const auto& [executable, filter] : m->plan(profile)) {
      if (executable.empty() || !filter.starts_with("^(") || !filter.ends_with(")$")) {
        broken("a plan entry without executable or with a malformed filter");
      }
    }
  }
  for (const auto& bench : m->benches) {
    const auto name = std::filesystem::path{bench.executable}.filename().string();
    for (const auto* benchmark : {"BM_x", "", "BM_sys_epoll_wakeup_round_trip/real_time"}) {
      const double t = m->threshold(name, benchmark);
      if (!(t > 0 && t <= 10)) {
        broken("a threshold outside (0, 10]");
      }
    }
  }
}

}  // namespace

extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) -> int {
  if (size == 0) {
    return 0;
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): libFuzzer hands over bytes; the readers take text
  const std::string_view text{reinterpret_cast<const char*>(data) + 1, size - 1};
  switch (data[0] % 3) {
    case 0:
      check_google_benchmark(text);
      break;
    case 1:
      check_run(text);
      break;
    default:
      check_manifest(text);
      break;
  }
  return 0;
}
