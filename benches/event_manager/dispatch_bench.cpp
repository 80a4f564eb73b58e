// Event dispatch through vmm::event_manager: rust-vmm event-manager's five bench shapes, and the raw loop they are
// measured against. One iteration is one run(): one epoll_wait and the dispatch of every ready event. Every
// subscriber's eventfd is a semaphore with a huge count, so it stays ready, and process() reads it once (as the
// raw loop does): both sides make the same system calls, and the difference is the manager's own cost.
// items_per_second counts events, so time per event = 1 / items_per_second.
//
// Cases (all in the PR profile; the whole file runs in well under 60 s):
//   BM_event_manager_all_active          200 subscribers, all ready; static dispatch (no virtual call).
//   BM_event_manager_baseline_all_active the floor: hand-written epoll_wait + eventfd read over the same 200 fds.
//   BM_event_manager_shared_mutex        200 subscribers held as shared_ptr, each locking its own std::mutex in
//                                        process() (rust-vmm's Arc<Mutex<T>>).
//   BM_event_manager_inner_mutability    200 shared_ptr subscribers counting with a relaxed atomic (rust-vmm's
//                                        Arc<dyn EventSubscriber> with interior mutability).
//   BM_event_manager_dynamic_dispatch    dynamic dispatch: 100 subscribers with 3 fds and user data each, plus 100
//                                        plain counters (400 events per run).
//   BM_event_manager_few_active          200 subscribers of which every 23rd is ready (9 events per run).
#include <benchmark/benchmark.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

import std;
import vmm.sys;
import vmm.event_manager;

namespace {

namespace em = vmm::event_manager;
namespace sys = vmm::sys;

constexpr int subscriber_count = 200;
constexpr std::uint64_t always_ready = std::numeric_limits<std::uint32_t>::max();  // semaphore reads left

auto ready_fd(bool ready) -> sys::event_fd {
  return sys::event_fd::create({.initial = ready ? always_ready : 0, .semaphore = true, .nonblocking = true}).value();
}

// The plain counter: one eventfd, read once per event.
struct counter {
  sys::event_fd fd;
  std::uint64_t count = 0;
  explicit counter(bool ready = true) : fd{ready_fd(ready)} {}
  void init(em::event_ops& ops) { ops.add({fd.fd(), sys::event_set::readable}).value(); }
  void process(const em::events& /*ready*/, em::event_ops& /*ops*/) {
    benchmark::DoNotOptimize(fd.read());
    ++count;
  }
};

// Behind a mutex, shared with the outside world.
struct mutexed_counter {
  std::mutex mutex;
  counter inner;
  void init(em::event_ops& ops) { inner.init(ops); }
  void process(const em::events& ready, em::event_ops& ops) {
    const std::scoped_lock lock{mutex};
    inner.process(ready, ops);
  }
};

// Interior mutability: the count is an atomic that other threads may read at any time.
struct atomic_counter {
  sys::event_fd fd = ready_fd(true);
  std::atomic<std::uint64_t> count{0};
  void init(em::event_ops& ops) { ops.add({fd.fd(), sys::event_set::readable}).value(); }
  void process(const em::events& /*ready*/, em::event_ops& /*ops*/) {
    benchmark::DoNotOptimize(fd.read());
    count.fetch_add(1, std::memory_order_relaxed);
  }
};

// Dynamic dispatch: several fds with user data.
class counter_with_data final : public em::dynamic_subscriber {
 public:
  static constexpr std::uint32_t fds_each = 3;
  explicit counter_with_data(std::uint32_t first_data) : first_data_{first_data} {}
  void init(em::event_ops& ops) override {
    for (std::uint32_t i = 0; i < fds_each; ++i) {
      ops.add({fds_[i].fd(), sys::event_set::readable, first_data_ + i}).value();
    }
  }
  void process(const em::events& ready, em::event_ops& /*ops*/) override {
    const auto index = ready.data() - first_data_;
    benchmark::DoNotOptimize(fds_[index].read());
    ++counts_[index];
  }

 private:
  std::uint32_t first_data_;
  std::array<sys::event_fd, fds_each> fds_{ready_fd(true), ready_fd(true), ready_fd(true)};
  std::array<std::uint64_t, fds_each> counts_{};
};

class dynamic_counter final : public em::dynamic_subscriber {
 public:
  void init(em::event_ops& ops) override { inner_.init(ops); }
  void process(const em::events& ready, em::event_ops& ops) override { inner_.process(ready, ops); }

 private:
  counter inner_;
};

template <class S>
void run_manager(benchmark::State& state, em::event_manager<S>& manager, std::int64_t events_per_run) {
  for (auto _ : state) {
    auto dispatched = manager.run();
    if (!dispatched || static_cast<std::int64_t>(*dispatched) != events_per_run) {
      state.SkipWithError("run() did not dispatch every ready event");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * events_per_run);
}

void BM_event_manager_all_active(benchmark::State& state) {
  auto manager = em::event_manager<counter>::create().value();
  for (int i = 0; i < subscriber_count; ++i) {
    static_cast<void>(manager.add_subscriber(counter{}).value());
  }
  run_manager(state, manager, subscriber_count);
}
BENCHMARK(BM_event_manager_all_active);

void BM_event_manager_baseline_all_active(benchmark::State& state) {
  const int poll = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> fds;
  std::vector<std::uint64_t> counts(subscriber_count);
  for (int i = 0; i < subscriber_count; ++i) {
    fds.push_back(::eventfd(static_cast<unsigned>(always_ready), EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE));
    ::epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = static_cast<std::uint64_t>(i);
    ::epoll_ctl(poll, EPOLL_CTL_ADD, fds.back(), &event);
  }
  std::vector<::epoll_event> ready(256);
  for (auto _ : state) {
    const int n = ::epoll_wait(poll, ready.data(), static_cast<int>(ready.size()), -1);
    if (n != subscriber_count) {
      state.SkipWithError("epoll_wait did not report every fd");
      break;
    }
    for (const auto& event : std::span{ready}.first(static_cast<std::size_t>(n))) {
      const auto index = event.data.u64;
      std::uint64_t value = 0;
      benchmark::DoNotOptimize(::read(fds[index], &value, sizeof value));
      ++counts[index];
    }
  }
  state.SetItemsProcessed(state.iterations() * subscriber_count);
  for (const int fd : fds) {
    ::close(fd);
  }
  ::close(poll);
}
BENCHMARK(BM_event_manager_baseline_all_active);

void BM_event_manager_shared_mutex(benchmark::State& state) {
  auto manager = em::event_manager<std::shared_ptr<mutexed_counter>>::create().value();
  std::vector<std::shared_ptr<mutexed_counter>> outside;  // the other owners of each subscriber
  for (int i = 0; i < subscriber_count; ++i) {
    outside.push_back(std::make_shared<mutexed_counter>());
    static_cast<void>(manager.add_subscriber(outside.back()).value());
  }
  run_manager(state, manager, subscriber_count);
}
BENCHMARK(BM_event_manager_shared_mutex);

void BM_event_manager_inner_mutability(benchmark::State& state) {
  auto manager = em::event_manager<std::shared_ptr<atomic_counter>>::create().value();
  std::vector<std::shared_ptr<atomic_counter>> outside;
  for (int i = 0; i < subscriber_count; ++i) {
    outside.push_back(std::make_shared<atomic_counter>());
    static_cast<void>(manager.add_subscriber(outside.back()).value());
  }
  run_manager(state, manager, subscriber_count);
}
BENCHMARK(BM_event_manager_inner_mutability);

void BM_event_manager_dynamic_dispatch(benchmark::State& state) {
  constexpr int with_data = 100;
  constexpr int plain = 100;
  constexpr std::int64_t events = (with_data * counter_with_data::fds_each) + plain;
  auto manager = em::dynamic_event_manager::create(512).value();
  for (int i = 0; i < with_data; ++i) {
    const auto first = static_cast<std::uint32_t>(i) * counter_with_data::fds_each;
    static_cast<void>(manager.add_subscriber(std::make_unique<counter_with_data>(first)).value());
  }
  for (int i = 0; i < plain; ++i) {
    static_cast<void>(manager.add_subscriber(std::make_unique<dynamic_counter>()).value());
  }
  run_manager(state, manager, events);
}
BENCHMARK(BM_event_manager_dynamic_dispatch);

void BM_event_manager_few_active(benchmark::State& state) {
  constexpr int every = 23;
  auto manager = em::event_manager<counter>::create().value();
  std::int64_t active = 0;
  for (int i = 0; i < subscriber_count; ++i) {
    const bool ready = i % every == 0;
    active += ready ? 1 : 0;
    static_cast<void>(manager.add_subscriber(counter{ready}).value());
  }
  run_manager(state, manager, active);
}
BENCHMARK(BM_event_manager_few_active);

}  // namespace
