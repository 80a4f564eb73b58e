// eventfd round trips through vmm::sys::event_fd, against the same system calls made directly.
//
// Cases:
//   BM_sys_event_fd_round_trip       event_fd::write(1) then event_fd::read() on a non-blocking eventfd: the cost
//                                    of the wrapper's error handling on the doorbell every device uses.
//   BM_sys_baseline_event_fd_round_trip  raw ::write / ::read of 8 bytes on an eventfd: the floor. Read the first
//                                    case as a ratio to this one (both run in the same process and machine state).
#include <benchmark/benchmark.h>

#include <sys/eventfd.h>
#include <unistd.h>

import std;
import vmm.sys;

namespace {

void BM_sys_event_fd_round_trip(benchmark::State& state) {
  auto efd = vmm::sys::event_fd::create({.nonblocking = true});
  if (!efd) {
    state.SkipWithError(efd.error().message().c_str());
    return;
  }
  for (auto _ : state) {
    auto written = efd->write(1);
    auto value = efd->read();
    benchmark::DoNotOptimize(written);
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_sys_event_fd_round_trip);

void BM_sys_baseline_event_fd_round_trip(benchmark::State& state) {
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) {
    state.SkipWithError("eventfd failed");
    return;
  }
  for (auto _ : state) {
    std::uint64_t value = 1;
    benchmark::DoNotOptimize(::write(fd, &value, sizeof value));
    benchmark::DoNotOptimize(::read(fd, &value, sizeof value));
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(state.iterations());
  ::close(fd);
}
BENCHMARK(BM_sys_baseline_event_fd_round_trip);

}  // namespace
