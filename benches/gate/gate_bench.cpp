// The PR gate's own test bench: workloads with a slowdown knob, used to measure how often `vmm-bench compare` catches
// an injected regression and how often it raises a false alarm (tools/gate-power, docs/pr-gate.md).
//
// VMM_GATE_SLOWDOWN=<fraction> (e.g. 0.05) makes every benchmark do that much more work per iteration, so head can be
// made exactly 5 % or 10 % slower than base with the same binary. Unset or 0: no slowdown.
//
// Cases:
//   BM_gate_compute   a dependent chain of integer multiply-adds (CPU-bound, little noise)
//   BM_gate_memory    a pointer chase through 64 KiB (dependent loads served by the L2 cache). A larger working set
//                     measures where the kernel happened to place each process's pages more than the code: through
//                     4 MiB the time varied 6x between processes here, through 256 KiB 2x (page colouring in L2).
//   BM_gate_syscall   getppid() system calls (kernel entry; what most vmm.sys benches look like)
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cstdlib>

import std;

namespace {

// The knob, read once. A value that does not parse as a number in [0, 10] is an error, not a silent 0.
auto slowdown() -> double {
  static const double value = [] {
    const char* text = std::getenv("VMM_GATE_SLOWDOWN");  // NOLINT(concurrency-mt-unsafe): read before any thread
    if (text == nullptr || *text == '\0') {
      return 0.0;
    }
    char* end = nullptr;
    const double parsed = std::strtod(text, &end);
    if (*end != '\0' || !(parsed >= 0 && parsed <= 10)) {
      std::println(std::cerr, "bench_gate: VMM_GATE_SLOWDOWN=\"{}\" is not a fraction from 0 to 10", text);
      std::exit(2);  // NOLINT(concurrency-mt-unsafe): before any benchmark thread starts
    }
    return parsed;
  }();
  return value;
}

// Work units per iteration: `base` scaled by the knob.
auto scaled(std::size_t base) -> std::size_t {
  return static_cast<std::size_t>(std::llround(static_cast<double>(base) * (1.0 + slowdown())));
}

void BM_gate_compute(benchmark::State& state) {
  const auto steps = scaled(2000);
  std::uint64_t x = 1;
  for (auto _ : state) {
    for (std::size_t i = 0; i < steps; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      benchmark::DoNotOptimize(x);
    }
  }
}
BENCHMARK(BM_gate_compute);

void BM_gate_memory(benchmark::State& state) {
  // A random cyclic permutation, so every load depends on the previous one and misses the cache.
  constexpr std::size_t slots = (64U << 10U) / sizeof(std::uint32_t);
  std::vector<std::uint32_t> next(slots);
  std::vector<std::uint32_t> order(slots);
  for (std::size_t i = 0; i < slots; ++i) {
    order[i] = static_cast<std::uint32_t>(i);
  }
  std::ranges::shuffle(order, std::mt19937{7});
  for (std::size_t i = 0; i < slots; ++i) {
    next[order[i]] = order[(i + 1) % slots];
  }
  const auto steps = scaled(2000);
  std::uint32_t at = order[0];
  for (auto _ : state) {
    for (std::size_t i = 0; i < steps; ++i) {
      at = next[at];
    }
    benchmark::DoNotOptimize(at);
  }
}
BENCHMARK(BM_gate_memory);

void BM_gate_syscall(benchmark::State& state) {
  const auto steps = scaled(20);
  for (auto _ : state) {
    for (std::size_t i = 0; i < steps; ++i) {
      benchmark::DoNotOptimize(::getppid());
    }
  }
}
BENCHMARK(BM_gate_syscall);

}  // namespace
