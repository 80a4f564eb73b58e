// The remote endpoint and cross-thread use: closures run on the loop thread, results come back, a call from the
// loop thread runs inline, a destroyed manager fails pending calls cleanly, and other threads add and remove
// subscribers while the loop runs. These tests also run under ThreadSanitizer (the tsan preset).
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.event_manager;
import vmm.testing;

namespace em = vmm::event_manager;
namespace sys = vmm::sys;
using vmm::testing::counter_subscriber;
using vmm::testing::error_of;
using manager_type = em::event_manager<counter_subscriber>;
using namespace std::chrono_literals;

namespace {

// Bounds every loop a test runs so that a bug makes the test fail instead of hanging.
constexpr auto patience = 10s;

// Runs the manager on its own thread until `stop` is set (each run() wakes at least every 10 ms).
class loop_thread {
 public:
  explicit loop_thread(manager_type& manager)
      : thread_{[this, &manager] {
          while (!stop_.load()) {
            static_cast<void>(manager.run_with_timeout(10ms));
          }
        }} {}
  loop_thread(const loop_thread&) = delete;
  auto operator=(const loop_thread&) -> loop_thread& = delete;
  ~loop_thread() {
    stop_.store(true);
    thread_.join();
  }
  [[nodiscard]] auto id() const -> std::thread::id { return thread_.get_id(); }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(event_manager_remote)

BOOST_AUTO_TEST_CASE(call_blocking_runs_on_the_loop_thread_and_returns_the_result) {
  auto manager = manager_type::create().value();
  const auto endpoint = manager.remote_endpoint();
  const loop_thread loop{manager};
  const auto ran_on = endpoint.call_blocking([](manager_type&) { return std::this_thread::get_id(); });
  BOOST_TEST_REQUIRE(ran_on.has_value(), vmm::testing::describe(ran_on));
  BOOST_TEST((*ran_on == loop.id()));
}

BOOST_AUTO_TEST_CASE(call_blocking_can_add_and_remove_subscribers) {
  auto manager = manager_type::create().value();
  const auto endpoint = manager.remote_endpoint();
  const loop_thread loop{manager};
  const auto id = endpoint.call_blocking([](manager_type& m) { return m.add_subscriber(counter_subscriber{}); });
  BOOST_TEST_REQUIRE(id.has_value(), vmm::testing::describe(id));
  BOOST_TEST_REQUIRE(id->has_value());
  const auto count = endpoint.call_blocking([](manager_type& m) { return m.subscriber_count(); });
  BOOST_TEST(count.value() == 1U);
  const auto removed = endpoint.call_blocking([&](manager_type& m) { return m.remove_subscriber(**id); });
  BOOST_TEST(removed.value().has_value());
}

BOOST_AUTO_TEST_CASE(call_blocking_with_a_void_closure_returns_when_it_has_run) {
  auto manager = manager_type::create().value();
  const auto endpoint = manager.remote_endpoint();
  const loop_thread loop{manager};
  bool ran = false;
  const auto done = endpoint.call_blocking([&](manager_type&) { ran = true; });
  BOOST_TEST(done.has_value(), vmm::testing::describe(done));
  BOOST_TEST(ran);  // written on the loop thread, read here after the call: ordered by the promise
}

BOOST_AUTO_TEST_CASE(closure_that_throws_is_reported_as_remote_call_threw) {
  auto manager = manager_type::create().value();
  const auto endpoint = manager.remote_endpoint();
  const loop_thread loop{manager};
  const auto outcome = endpoint.call_blocking([](manager_type&) -> int { throw std::runtime_error{"boom"}; });
  BOOST_TEST(error_of(outcome) == make_error_code(em::errc::remote_call_threw));
  BOOST_TEST(endpoint.call_blocking([](manager_type&) { return 1; }).value() == 1);  // the loop goes on
}

BOOST_AUTO_TEST_CASE(fire_runs_the_closure_later_on_the_loop_thread) {
  auto manager = manager_type::create().value();
  const auto endpoint = manager.remote_endpoint();
  std::promise<std::thread::id> ran_on;
  auto ran_on_future = ran_on.get_future();
  const loop_thread loop{manager};
  BOOST_TEST_REQUIRE(endpoint.fire([&](manager_type&) { ran_on.set_value(std::this_thread::get_id()); }).has_value());
  BOOST_TEST_REQUIRE((ran_on_future.wait_for(patience) == std::future_status::ready));
  BOOST_TEST((ran_on_future.get() == loop.id()));
}

BOOST_AUTO_TEST_CASE(kick_wakes_a_run_blocked_without_timeout) {
  auto manager = manager_type::create().value();
  const auto endpoint = manager.remote_endpoint();
  auto result = std::async(std::launch::async, [&] { return manager.run(); });
  BOOST_TEST_REQUIRE(endpoint.kick().has_value());
  BOOST_TEST_REQUIRE((result.wait_for(patience) == std::future_status::ready));
  BOOST_TEST(result.get().value() == 0U);  // woken, but no subscriber event
}

BOOST_AUTO_TEST_CASE(call_from_the_loop_thread_runs_inline_instead_of_deadlocking) {
  // A subscriber calls the endpoint from inside process(): waiting for the loop thread would wait for itself.
  struct caller {
    sys::event_fd fd = sys::event_fd::create({.nonblocking = true}).value();
    std::optional<em::remote_endpoint<caller>>* endpoint;
    vmm::result<std::size_t>* answer;
    void init(em::event_ops& ops) { ops.add({fd.fd(), sys::event_set::readable}).value(); }
    void process(const em::events&, em::event_ops&) {
      static_cast<void>(fd.read());
      *answer = (*endpoint)->call_blocking([](em::event_manager<caller>& m) { return m.subscriber_count(); });
    }
  };
  std::optional<em::remote_endpoint<caller>> endpoint;
  vmm::result<std::size_t> answer = 0;
  auto manager = em::event_manager<caller>::create().value();
  endpoint.emplace(manager.remote_endpoint());
  caller c{.endpoint = &endpoint, .answer = &answer};
  c.fd.write(1).value();
  static_cast<void>(manager.add_subscriber(std::move(c)).value());
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(answer.value() == 1U);
}

BOOST_AUTO_TEST_CASE(endpoint_of_a_destroyed_manager_reports_manager_gone) {
  auto manager = std::optional{manager_type::create().value()};
  const auto endpoint = manager->remote_endpoint();
  manager.reset();
  BOOST_TEST(error_of(endpoint.call_blocking([](manager_type&) { return 1; })) ==
             make_error_code(em::errc::manager_gone));
  BOOST_TEST(error_of(endpoint.fire([](manager_type&) {})) == make_error_code(em::errc::manager_gone));
  BOOST_TEST(error_of(endpoint.kick()) == make_error_code(em::errc::manager_gone));
}

BOOST_AUTO_TEST_CASE(pending_call_fails_with_manager_gone_when_the_manager_is_destroyed) {
  auto manager = std::optional{manager_type::create().value()};
  const auto endpoint = manager->remote_endpoint();
  // Nobody runs the loop, so the call stays queued until the manager is destroyed.
  auto pending =
      std::async(std::launch::async, [&] { return endpoint.call_blocking([](manager_type&) { return 1; }); });
  std::this_thread::sleep_for(50ms);  // let the call queue up (if it has not, it sees manager_gone at once)
  manager.reset();
  BOOST_TEST_REQUIRE((pending.wait_for(patience) == std::future_status::ready));
  const auto outcome = pending.get();
  // Either the destruction came first (manager_gone) — the case under test — or, on a slow scheduler, the call
  // was not even queued yet and saw the manager gone at once: the same error either way.
  BOOST_TEST(error_of(outcome) == make_error_code(em::errc::manager_gone));
}

BOOST_AUTO_TEST_CASE(second_thread_calling_run_gets_already_running) {
  // The first run() is held inside a subscriber's process() until the second call has been refused, so the
  // overlap is certain however slowly the threads are scheduled.
  struct holder {
    sys::event_fd fd = sys::event_fd::create({.nonblocking = true}).value();
    std::promise<void>* entered;
    std::shared_future<void> release;
    void init(em::event_ops& ops) { ops.add({fd.fd(), sys::event_set::readable}).value(); }
    void process(const em::events&, em::event_ops&) {
      static_cast<void>(fd.read());
      entered->set_value();
      static_cast<void>(release.wait_for(patience));
    }
  };
  std::promise<void> entered;
  std::promise<void> release;
  auto manager = em::event_manager<holder>::create().value();
  holder h{.entered = &entered, .release = release.get_future().share()};
  h.fd.write(1).value();
  static_cast<void>(manager.add_subscriber(std::move(h)).value());
  auto first = std::async(std::launch::async, [&] { return manager.run(); });
  BOOST_TEST_REQUIRE((entered.get_future().wait_for(patience) == std::future_status::ready));
  const auto second = manager.run_with_timeout(0ms);
  release.set_value();
  BOOST_TEST(error_of(second) == make_error_code(em::errc::already_running));
  BOOST_TEST_REQUIRE((first.wait_for(patience) == std::future_status::ready));
  BOOST_TEST(first.get().value() == 1U);
}

BOOST_AUTO_TEST_CASE(other_threads_add_and_remove_subscribers_while_the_loop_runs) {
  constexpr int threads = 4;
  constexpr int rounds = 50;
  auto manager = manager_type::create().value();
  std::atomic<std::uint64_t> delivered{0};
  {
    const loop_thread loop{manager};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        for (int r = 0; r < rounds; ++r) {
          counter_subscriber s;
          s.trigger();
          const auto count = s.count;
          const auto id = manager.add_subscriber(std::move(s));
          if (!id) {
            continue;
          }
          std::this_thread::yield();
          static_cast<void>(manager.remove_subscriber(*id));
          // The subscriber is gone: its count may be read now (removal happened under the manager's lock).
          delivered.fetch_add(*count);
        }
      });
    }
    for (auto& w : workers) {
      w.join();
    }
  }
  BOOST_TEST(manager.subscriber_count() == 0U);
  BOOST_TEST(manager.registration_count() == 0U);
  BOOST_TEST(delivered.load() <= static_cast<std::uint64_t>(threads * rounds));  // never more than one each
}

BOOST_AUTO_TEST_SUITE_END()
