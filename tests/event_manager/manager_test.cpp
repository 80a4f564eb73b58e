// event_manager basics: subscribing, dispatching with user data, static and dynamic dispatch, changing interest,
// timeouts, the capacity bound, and reaching subscribers by id.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.event_manager;
import vmm.testing;

namespace em = vmm::event_manager;
namespace sys = vmm::sys;
using vmm::testing::counter_subscriber;
using namespace std::chrono_literals;

namespace {

// A subscriber of a second type, for dynamic dispatch: two eventfds, each with its own user data.
class two_fd_subscriber final : public em::dynamic_subscriber {
 public:
  static constexpr std::uint32_t first_data = 7;
  static constexpr std::uint32_t second_data = 8;

  void init(em::event_ops& ops) override {
    ops.add({first_.fd(), sys::event_set::readable, first_data}).value();
    ops.add({second_.fd(), sys::event_set::readable, second_data}).value();
  }
  void process(const em::events& ready, em::event_ops& /*ops*/) override {
    seen->push_back(ready.data());
    static_cast<void>((ready.data() == first_data ? first_ : second_).read());
  }

  sys::event_fd first_ = sys::event_fd::create({.nonblocking = true}).value();
  sys::event_fd second_ = sys::event_fd::create({.nonblocking = true}).value();
  std::shared_ptr<std::vector<std::uint32_t>> seen = std::make_shared<std::vector<std::uint32_t>>();
};

// Adds 1 to the eventfd counter behind `fd` (which the manager's subscriber owns).
auto add_one(sys::borrowed_fd fd) -> bool {
  const std::uint64_t one = 1;
  return sys::write(fd, std::as_bytes(std::span{&one, 1})).has_value();
}

// Wraps counter_subscriber for the dynamic manager.
class dynamic_counter final : public em::dynamic_subscriber {
 public:
  void init(em::event_ops& ops) override { inner.init(ops); }
  void process(const em::events& ready, em::event_ops& ops) override { inner.process(ready, ops); }
  counter_subscriber inner;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(event_manager_basics)

BOOST_AUTO_TEST_CASE(init_registers_the_subscribers_fd) {
  auto manager = em::event_manager<counter_subscriber>::create();
  BOOST_TEST_REQUIRE(manager.has_value(), vmm::testing::describe(manager));
  const auto id = manager->add_subscriber(counter_subscriber{});
  BOOST_TEST_REQUIRE(id.has_value(), vmm::testing::describe(id));
  BOOST_TEST(manager->subscriber_count() == 1U);
  BOOST_TEST(manager->registration_count() == 1U);
  BOOST_TEST(!manager->subscriber(*id)->get().last_init_error);
}

BOOST_AUTO_TEST_CASE(ready_fd_is_dispatched_with_its_user_data_and_conditions) {
  constexpr std::uint32_t user_data = 0xC0FFEE;
  auto manager = em::event_manager<counter_subscriber>::create().value();
  counter_subscriber subscriber{user_data};
  const int fd = subscriber.fd().get();
  subscriber.trigger();
  const auto id = manager.add_subscriber(std::move(subscriber)).value();
  const auto dispatched = manager.run();
  BOOST_TEST_REQUIRE(dispatched.has_value(), vmm::testing::describe(dispatched));
  BOOST_TEST(*dispatched == 1U);
  const auto& s = manager.subscriber(id)->get();
  BOOST_TEST(*s.count == 1U);
  BOOST_TEST(s.last_data == user_data);
  BOOST_TEST(s.last_fd == fd);
  BOOST_TEST(sys::contains(s.last_set, sys::event_set::readable));
}

BOOST_AUTO_TEST_CASE(only_ready_subscribers_are_dispatched) {
  auto manager = em::event_manager<counter_subscriber>::create().value();
  std::vector<std::shared_ptr<std::uint64_t>> counts;
  std::vector<em::subscriber_id> ids;
  for (int i = 0; i < 5; ++i) {
    counter_subscriber s;
    if (i % 2 == 0) {
      s.trigger();  // subscribers 0, 2 and 4 are ready
    }
    counts.push_back(s.count);
    ids.push_back(manager.add_subscriber(std::move(s)).value());
  }
  BOOST_TEST(manager.run().value() == 3U);
  BOOST_TEST(*counts[0] == 1U);
  BOOST_TEST(*counts[1] == 0U);
  BOOST_TEST(*counts[2] == 1U);
  BOOST_TEST(*counts[3] == 0U);
  BOOST_TEST(*counts[4] == 1U);
}

BOOST_AUTO_TEST_CASE(run_with_timeout_returns_zero_when_nothing_is_ready) {
  auto manager = em::event_manager<counter_subscriber>::create().value();
  static_cast<void>(manager.add_subscriber(counter_subscriber{}).value());
  BOOST_TEST(manager.run_with_timeout(0ms).value() == 0U);
  BOOST_TEST(manager.run_with_timeout(5ms).value() == 0U);
}

BOOST_AUTO_TEST_CASE(events_beyond_the_capacity_wait_for_the_next_run) {
  constexpr std::size_t capacity = 2;
  auto manager = em::event_manager<counter_subscriber>::create(capacity).value();
  for (int i = 0; i < 3; ++i) {
    counter_subscriber s;
    s.trigger();
    static_cast<void>(manager.add_subscriber(std::move(s)).value());
  }
  BOOST_TEST(manager.run().value() == 2U);
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(manager.run_with_timeout(0ms).value() == 0U);
}

BOOST_AUTO_TEST_CASE(dynamic_dispatch_reaches_subscribers_of_different_types) {
  auto manager = em::dynamic_event_manager::create().value();
  auto two = std::make_unique<two_fd_subscriber>();
  auto counter = std::make_unique<dynamic_counter>();
  two->first_.write(1).value();
  two->second_.write(1).value();
  counter->inner.trigger();
  const auto seen = two->seen;
  const auto count = counter->inner.count;
  static_cast<void>(manager.add_subscriber(std::move(two)).value());
  static_cast<void>(manager.add_subscriber(std::move(counter)).value());
  BOOST_TEST(manager.run().value() == 3U);
  auto sorted = *seen;
  std::ranges::sort(sorted);
  BOOST_TEST(sorted == (std::vector<std::uint32_t>{two_fd_subscriber::first_data, two_fd_subscriber::second_data}),
             boost::test_tools::per_element());
  BOOST_TEST(*count == 1U);
}

BOOST_AUTO_TEST_CASE(shared_pointer_subscribers_are_dispatched_through_the_pointer) {
  auto manager = em::event_manager<std::shared_ptr<counter_subscriber>>::create().value();
  auto shared = std::make_shared<counter_subscriber>();
  shared->trigger();
  static_cast<void>(manager.add_subscriber(shared).value());
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(*shared->count == 1U);  // the caller's pointer sees the same object
}

BOOST_AUTO_TEST_CASE(with_subscriber_runs_a_function_on_the_subscriber) {
  auto manager = em::event_manager<counter_subscriber>::create().value();
  const auto id = manager.add_subscriber(counter_subscriber{42}).value();
  const auto fd = manager.with_subscriber(id, [](counter_subscriber& s) { return s.fd().get(); });
  BOOST_TEST_REQUIRE(fd.has_value());
  BOOST_TEST(*fd >= 0);
  BOOST_TEST(manager.with_subscriber(id, [](counter_subscriber& s) { s.trigger(); }).has_value());
  BOOST_TEST(manager.run().value() == 1U);
}

BOOST_AUTO_TEST_CASE(take_subscriber_returns_it_and_stops_its_events) {
  auto manager = em::event_manager<counter_subscriber>::create().value();
  const auto id = manager.add_subscriber(counter_subscriber{}).value();
  auto taken = manager.take_subscriber(id);
  BOOST_TEST_REQUIRE(taken.has_value(), vmm::testing::describe(taken));
  taken->trigger();
  BOOST_TEST(manager.run_with_timeout(0ms).value() == 0U);
  BOOST_TEST(*taken->count == 0U);
  BOOST_TEST(manager.subscriber_count() == 0U);
  BOOST_TEST(manager.registration_count() == 0U);
}

BOOST_AUTO_TEST_CASE(modify_changes_conditions_and_user_data) {
  // Watches a pipe's write end: writable at once; modify() switches it to readable-only with new data.
  struct switching {
    sys::unique_fd write_end;
    std::vector<std::uint32_t>* seen;
    void init(em::event_ops& ops) { ops.add({write_end, sys::event_set::writable, 1}).value(); }
    void process(const em::events& ready, em::event_ops& ops) {
      seen->push_back(ready.data());
      ops.modify({write_end, sys::event_set::readable, 2}).value();  // a write end never becomes readable
    }
  };
  auto pipe = sys::make_pipe().value();
  std::vector<std::uint32_t> seen;
  auto manager = em::event_manager<switching>::create().value();
  static_cast<void>(manager.add_subscriber(switching{std::move(pipe.second), &seen}).value());
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(manager.run_with_timeout(0ms).value() == 0U);
  BOOST_TEST(seen == std::vector<std::uint32_t>{1}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(ops_remove_stops_events_for_that_fd) {
  struct one_shot_reader {
    sys::event_fd fd = sys::event_fd::create({.nonblocking = true}).value();
    int* calls;
    void init(em::event_ops& ops) { ops.add({fd.fd(), sys::event_set::readable}).value(); }
    void process(const em::events& ready, em::event_ops& ops) {
      ++*calls;
      ops.remove(ready.fd()).value();  // the fd stays readable, but nobody watches it any more
    }
  };
  int calls = 0;
  one_shot_reader reader{.calls = &calls};
  reader.fd.write(1).value();
  auto manager = em::event_manager<one_shot_reader>::create().value();
  static_cast<void>(manager.add_subscriber(std::move(reader)).value());
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(manager.run_with_timeout(0ms).value() == 0U);
  BOOST_TEST(calls == 1);
  BOOST_TEST(manager.registration_count() == 0U);
}

BOOST_AUTO_TEST_CASE(edge_triggered_interest_reports_once_per_change) {
  struct edge_watcher {
    sys::event_fd fd = sys::event_fd::create({.nonblocking = true}).value();
    int* calls;
    void init(em::event_ops& ops) {
      ops.add({fd.fd(), sys::event_set::readable | sys::event_set::edge_triggered}).value();
    }
    void process(const em::events& /*ready*/, em::event_ops& /*ops*/) { ++*calls; }  // never drains
  };
  int calls = 0;
  edge_watcher watcher{.calls = &calls};
  const auto fd = watcher.fd.fd();
  auto manager = em::event_manager<edge_watcher>::create().value();
  static_cast<void>(manager.add_subscriber(std::move(watcher)).value());
  BOOST_TEST_REQUIRE(add_one(fd));
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(manager.run_with_timeout(0ms).value() == 0U);  // still readable, but no new edge
  BOOST_TEST_REQUIRE(add_one(fd));
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(calls == 2);
}

BOOST_AUTO_TEST_CASE(moved_manager_keeps_its_subscribers) {
  auto manager = em::event_manager<counter_subscriber>::create().value();
  counter_subscriber s;
  s.trigger();
  const auto count = s.count;
  static_cast<void>(manager.add_subscriber(std::move(s)).value());
  auto moved = std::move(manager);
  BOOST_TEST(moved.run().value() == 1U);
  BOOST_TEST(*count == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
