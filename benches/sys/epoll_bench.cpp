// epoll wake-up round trips across two threads, through vmm::sys::epoll and event_fd, against raw system calls.
//
// Cases (one iteration = one full round trip: main thread signals, the peer thread wakes in epoll_wait, consumes
// the event and signals back, the main thread wakes in epoll_wait and consumes the reply):
//   BM_sys_epoll_wakeup_round_trip           both sides use vmm::sys::epoll::wait and event_fd read/write.
//   BM_sys_baseline_epoll_wakeup_round_trip  the same protocol with raw epoll_wait/read/write: the floor. Read
//                                            the first case as a ratio to this one.
// The time is dominated by two cross-thread wake-ups (scheduler latency), so expect the ratio near 1.
#include <benchmark/benchmark.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

import std;
import vmm.sys;

namespace {

namespace sys = vmm::sys;

// One side of the vmm.sys ping-pong: an epoll watching the event_fd this side receives on.
struct wrapped_side {
  sys::event_fd inbox;
  sys::epoll poll;

  static auto create() -> vmm::result<wrapped_side> {
    auto inbox = sys::event_fd::create({.nonblocking = true});
    if (!inbox) {
      return std::unexpected(inbox.error());
    }
    auto poll = sys::epoll::create();
    if (!poll) {
      return std::unexpected(poll.error());
    }
    if (auto added = poll->add(inbox->fd(), sys::event_set::readable, 0); !added) {
      return std::unexpected(added.error());
    }
    return wrapped_side{std::move(*inbox), std::move(*poll)};
  }

  // Blocks until the inbox is readable, then drains it; returns the value taken.
  auto receive() const -> std::uint64_t {
    std::array<sys::ready_event, 1> ready;
    while (true) {
      if (auto n = poll.wait(ready); n && *n > 0) {
        if (auto value = inbox.read(); value) {
          return *value;
        }
      }
    }
  }
};

void BM_sys_epoll_wakeup_round_trip(benchmark::State& state) {
  auto ping = wrapped_side::create();
  auto pong = wrapped_side::create();
  if (!ping || !pong) {
    state.SkipWithError("cannot create eventfd/epoll");
    return;
  }
  constexpr std::uint64_t stop = 2;  // a value other than 1 tells the peer to exit
  std::thread peer{[&] {
    while (pong->receive() != stop) {
      static_cast<void>(ping->inbox.write(1));
    }
  }};
  for (auto _ : state) {
    static_cast<void>(pong->inbox.write(1));
    benchmark::DoNotOptimize(ping->receive());
  }
  static_cast<void>(pong->inbox.write(stop));
  peer.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_sys_epoll_wakeup_round_trip)->UseRealTime();

// The raw side: the same protocol with direct system calls.
struct raw_side {
  int inbox = -1;
  int poll = -1;

  raw_side() : inbox{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)}, poll{::epoll_create1(EPOLL_CLOEXEC)} {
    ::epoll_event event{};
    event.events = EPOLLIN;
    ::epoll_ctl(poll, EPOLL_CTL_ADD, inbox, &event);
  }
  raw_side(const raw_side&) = delete;
  auto operator=(const raw_side&) -> raw_side& = delete;
  ~raw_side() {
    ::close(poll);
    ::close(inbox);
  }
  [[nodiscard]] auto ok() const -> bool { return inbox >= 0 && poll >= 0; }

  auto receive() const -> std::uint64_t {
    ::epoll_event event{};
    std::uint64_t value = 0;
    while (true) {
      if (::epoll_wait(poll, &event, 1, -1) > 0 && ::read(inbox, &value, sizeof value) == sizeof value) {
        return value;
      }
    }
  }
  void send(std::uint64_t value) const { static_cast<void>(::write(inbox, &value, sizeof value)); }
};

void BM_sys_baseline_epoll_wakeup_round_trip(benchmark::State& state) {
  const raw_side ping;
  const raw_side pong;
  if (!ping.ok() || !pong.ok()) {
    state.SkipWithError("cannot create eventfd/epoll");
    return;
  }
  constexpr std::uint64_t stop = 2;
  std::thread peer{[&] {
    while (pong.receive() != stop) {
      ping.send(1);
    }
  }};
  for (auto _ : state) {
    pong.send(1);
    benchmark::DoNotOptimize(ping.receive());
  }
  pong.send(stop);
  peer.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_sys_baseline_epoll_wakeup_round_trip)->UseRealTime();

}  // namespace
