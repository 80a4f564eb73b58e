// vmm-bench — cpp-vmm's benchmark pipeline tool. `vmm-bench help` prints the subcommands; docs/benchmarks.md tells
// the whole story (profiles, the store, the PR gate, change points, the dashboard).
import std;
import vmm.bench.tool;

namespace {

using namespace vmm::bench::tool;

constexpr std::string_view usage_text = R"(usage: vmm-bench COMMAND [OPTIONS]

  run      --build DIR [--profile pr] [--store DIR] [--machine NAME] [--repetitions 10] [--min-time 0.1]
           [--source DIR] [--manifest FILE] [--cpus all|last|LIST] [--resume | --replace]
           Runs a profile of the manifest and stores every repetition with the run's context.
  compare  (--base-build DIR --head-build DIR | --base-ref REF [--head-ref REF] [--work DIR] [--cmake PATH])
           [--profile pr] [--rounds 60] [--repetitions 1] [--min-time 0.02] [--fdr 0.01] [--confidence 0.95]
           [--seed 1] [--cpus last|all|LIST]
           [--markdown FILE] [--json FILE] [--base-env NAME=VALUE]... [--head-env NAME=VALUE]...
           The PR gate: base and head interleaved; exit 3 for a regression beyond its threshold.
  detect   [--store DIR] [--machine NAME] [--profile NAME] [--benchmark EXE/NAME] [--out FILE]
           [--significance 0.01] [--permutations 199] [--min-segment 3] [--seed 1]
           Change points in every benchmark's history (E-divisive means, permutation test).
  render   [--store DIR] [--changes FILE] [--out DIR] [--dashboards DIR] [--commit-url URL]
           [--machine NAME] [--profile NAME]
           The static dashboard; prints the path of its index.html.
  ratios   FILE.json...          Each BM_<c>_<op> against its BM_<c>_baseline_<op>, from Google Benchmark JSON.
  profile  MANIFEST PROFILE      The executables and filters of a profile.

The store defaults to $VMM_BENCH_STORE, else ~/.local/share/cpp-vmm/results; the machine name to
$VMM_BENCH_MACHINE, else the host name.
Exit status: 0 success, 1 bad input or a failed step (the message names it), 2 bad usage, 3 regression (compare).)";

auto dispatch(std::span<char* const> args) -> int {
  if (args.size() < 2) {
    std::println(std::cerr, "{}", usage_text);
    return exit_usage;
  }
  const std::string_view command = args[1];
  const auto rest = args.subspan(2);
  try {
    if (command == "run") {
      return command_run(rest);
    }
    if (command == "compare") {
      return command_compare(rest);
    }
    if (command == "detect") {
      return command_detect(rest);
    }
    if (command == "render") {
      return command_render(rest);
    }
    if (command == "ratios") {
      return command_ratios(rest);
    }
    if (command == "profile") {
      return command_profile(rest);
    }
    if (command == "help" || command == "--help" || command == "-h") {
      std::println("{}", usage_text);
      return exit_ok;
    }
    throw usage_error{std::format("unknown command \"{}\"", command)};
  } catch (const usage_error& e) {
    std::println(std::cerr, "vmm-bench {}: {}\n\n{}", command, e.message, usage_text);
    return exit_usage;
  } catch (const failure& e) {
    std::println(std::cerr, "vmm-bench {}: {}", command, e.message);
    return exit_failure;
  }
}

}  // namespace

// Only printing the error itself could still throw; then there is nothing left to do but terminate.
// NOLINTNEXTLINE(bugprone-exception-escape)
auto main(int argc, char** argv) -> int {
  try {
    return dispatch(std::span<char* const>{argv, static_cast<std::size_t>(argc)});
  } catch (const std::exception& e) {  // nlohmann::json, std::filesystem or an allocation failed: report, never crash
    std::println(std::cerr, "vmm-bench: {}", e.what());
    return exit_failure;
  }
}
