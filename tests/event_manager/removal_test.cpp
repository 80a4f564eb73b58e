// Removing subscribers while events are being dispatched: self-removal, removing another subscriber whose event is
// still in the batch, and slot reuse within one batch. A report fetched for a removed registration is dropped and
// never reaches the subscriber that reuses its slot.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.event_manager;
import vmm.testing;

namespace em = vmm::event_manager;
namespace sys = vmm::sys;
using vmm::testing::error_of;
using namespace std::chrono_literals;

namespace {

// A subscriber whose process() runs a test-supplied action with the manager (reached through a pointer, as a
// real device thread would hold its manager), after recording that it ran.
struct scripted {
  using manager_type = em::event_manager<std::unique_ptr<scripted>>;
  sys::event_fd fd = sys::event_fd::create({.nonblocking = true}).value();
  std::string name;
  std::vector<std::string>* log;
  manager_type** manager;
  std::function<void(scripted&, manager_type&, const em::events&)> action;
  std::shared_ptr<bool> destroyed = std::make_shared<bool>(false);

  scripted(std::string n, std::vector<std::string>* l, manager_type** m) : name{std::move(n)}, log{l}, manager{m} {}
  scripted(const scripted&) = delete;
  auto operator=(const scripted&) -> scripted& = delete;
  scripted(scripted&&) = delete;
  auto operator=(scripted&&) -> scripted& = delete;
  ~scripted() { *destroyed = true; }

  void init(em::event_ops& ops) { ops.add({fd.fd(), sys::event_set::readable}).value(); }
  void process(const em::events& ready, em::event_ops& /*ops*/) {
    log->push_back(name);
    static_cast<void>(fd.read());
    if (action) {
      action(*this, **manager, ready);
    }
  }
};
using manager_type = scripted::manager_type;

auto make(std::string name, std::vector<std::string>& log, manager_type*& manager) -> std::unique_ptr<scripted> {
  auto s = std::make_unique<scripted>(std::move(name), &log, &manager);
  s->fd.write(1).value();  // ready from the start
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(event_manager_removal)

BOOST_AUTO_TEST_CASE(subscriber_removing_itself_is_destroyed_after_its_process_returns) {
  std::vector<std::string> log;
  manager_type* self = nullptr;
  auto manager = manager_type::create().value();
  self = &manager;
  auto a = make("a", log, self);
  const auto destroyed = a->destroyed;
  std::optional<em::subscriber_id> a_id;
  bool destroyed_during_process = true;
  a->action = [&](scripted& me, manager_type& m, const em::events& /*ready*/) {
    BOOST_TEST_REQUIRE(m.remove_subscriber(*a_id).has_value());
    destroyed_during_process = *me.destroyed;  // still alive: `me` is running
  };
  a_id = manager.add_subscriber(std::move(a)).value();
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(!destroyed_during_process);
  BOOST_TEST(*destroyed);
  BOOST_TEST(manager.subscriber_count() == 0U);
  BOOST_TEST(error_of(manager.remove_subscriber(*a_id)) == make_error_code(em::errc::unknown_subscriber));
}

BOOST_AUTO_TEST_CASE(subscriber_removed_by_another_during_the_batch_gets_no_event) {
  std::vector<std::string> log;
  manager_type* self = nullptr;
  auto manager = manager_type::create().value();
  self = &manager;
  // Both are ready; whichever runs first removes the other, whose report is already in the batch.
  auto a = make("a", log, self);
  auto b = make("b", log, self);
  std::optional<em::subscriber_id> a_id;
  std::optional<em::subscriber_id> b_id;
  a->action = [&](scripted&, manager_type& m, const em::events&) {
    static_cast<void>(m.remove_subscriber(*b_id));
  };
  b->action = [&](scripted&, manager_type& m, const em::events&) {
    static_cast<void>(m.remove_subscriber(*a_id));
  };
  a_id = manager.add_subscriber(std::move(a)).value();
  b_id = manager.add_subscriber(std::move(b)).value();
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(log.size() == 1U);
  BOOST_TEST(manager.dropped_events() == 1U);
  BOOST_TEST(manager.subscriber_count() == 1U);
}

BOOST_AUTO_TEST_CASE(stale_report_never_reaches_a_subscriber_that_reuses_the_slot) {
  std::vector<std::string> log;
  manager_type* self = nullptr;
  auto manager = manager_type::create().value();
  self = &manager;
  auto a = make("a", log, self);
  auto b = make("b", log, self);
  std::optional<em::subscriber_id> a_id;
  std::optional<em::subscriber_id> b_id;
  std::optional<em::subscriber_id> c_id;
  // The first to run removes the other and adds "c", which takes the freed slot. "c" is ready too, but its fd was
  // registered after epoll_wait returned, so the batch's report for the removed subscriber must not reach it.
  const auto replace = [&](em::subscriber_id victim) {
    return [&, victim](scripted&, manager_type& m, const em::events&) {
      static_cast<void>(m.remove_subscriber(victim));
      c_id = m.add_subscriber(make("c", log, self)).value();
    };
  };
  a_id = manager.add_subscriber(std::move(a)).value();
  b_id = manager.add_subscriber(std::move(b)).value();
  manager.subscriber(*a_id)->get()->action = replace(*b_id);
  manager.subscriber(*b_id)->get()->action = replace(*a_id);
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(log.size() == 1U);  // only the first subscriber ran; "c" got nothing from this batch
  BOOST_TEST(manager.dropped_events() == 1U);
  BOOST_TEST_REQUIRE(c_id.has_value());
  const auto removed = log[0] == "a" ? *b_id : *a_id;
  BOOST_TEST(c_id->slot() == removed.slot());              // the slot was reused ...
  BOOST_TEST(c_id->generation() != removed.generation());  // ... under a new generation
  BOOST_TEST(manager.run().value() == 1U);                 // "c" gets its own event in the next batch
  BOOST_TEST(log.back() == "c");
}

BOOST_AUTO_TEST_CASE(take_subscriber_of_the_running_subscriber_is_busy) {
  std::vector<std::string> log;
  manager_type* self = nullptr;
  auto manager = manager_type::create().value();
  self = &manager;
  auto a = make("a", log, self);
  std::optional<em::subscriber_id> a_id;
  std::error_code taken_error;
  a->action = [&](scripted&, manager_type& m, const em::events&) {
    taken_error = m.take_subscriber(*a_id).error_or({});
  };
  a_id = manager.add_subscriber(std::move(a)).value();
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(taken_error == make_error_code(em::errc::subscriber_busy));
  BOOST_TEST(manager.subscriber_count() == 1U);  // nothing changed
}

BOOST_AUTO_TEST_CASE(subscriber_added_during_dispatch_gets_events_from_the_next_run) {
  std::vector<std::string> log;
  manager_type* self = nullptr;
  auto manager = manager_type::create().value();
  self = &manager;
  auto a = make("a", log, self);
  a->action = [&](scripted& me, manager_type& m, const em::events&) {
    me.action = nullptr;  // add only once
    static_cast<void>(m.add_subscriber(make("late", log, self)).value());
  };
  static_cast<void>(manager.add_subscriber(std::move(a)).value());
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(log == (std::vector<std::string>{"a", "late"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(removing_a_subscriber_unregisters_all_its_fds) {
  auto manager = em::event_manager<vmm::testing::counter_subscriber>::create().value();
  vmm::testing::counter_subscriber s;
  s.trigger();
  const auto count = s.count;
  const auto id = manager.add_subscriber(std::move(s)).value();
  BOOST_TEST_REQUIRE(manager.remove_subscriber(id).has_value());
  BOOST_TEST(manager.registration_count() == 0U);
  BOOST_TEST(manager.run_with_timeout(0ms).value() == 0U);
  BOOST_TEST(*count == 0U);
}

BOOST_AUTO_TEST_SUITE_END()
