// Bad use of the event manager gets the exact error, and leaves the manager consistent: unknown ids, an fd
// registered twice, closed fds, event sets the kernel rejects, throwing subscribers, bad timeouts, kicks.
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <unistd.h>

import std;
import vmm.sys;
import vmm.event_manager;
import vmm.testing;

namespace em = vmm::event_manager;
namespace sys = vmm::sys;
using vmm::testing::counter_subscriber;
using vmm::testing::error_of;
using vmm::testing::os_error;
using namespace std::chrono_literals;

namespace {

// Registers whatever interest it is given; reports what add() said.
struct registrar {
  em::events interest;
  std::error_code* outcome;
  void init(em::event_ops& ops) { *outcome = ops.add(interest).error_or({}); }
  void process(const em::events&, em::event_ops&) {}
};

// Throws from process() on its first event, then behaves.
struct thrower {
  sys::event_fd fd = sys::event_fd::create({.nonblocking = true}).value();
  int* calls;
  void init(em::event_ops& ops) { ops.add({fd.fd(), sys::event_set::readable}).value(); }
  void process(const em::events&, em::event_ops&) {
    static_cast<void>(fd.read());
    if ((*calls)++ == 0) {
      throw std::runtime_error{"device exploded"};
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(event_manager_negative)

BOOST_AUTO_TEST_CASE(unknown_subscriber_id_is_reported_by_every_call) {
  auto manager = em::event_manager<counter_subscriber>::create().value();
  const em::subscriber_id never_added;
  const auto unknown = make_error_code(em::errc::unknown_subscriber);
  BOOST_TEST(error_of(manager.remove_subscriber(never_added)) == unknown);
  BOOST_TEST(error_of(manager.take_subscriber(never_added)) == unknown);
  BOOST_TEST(error_of(manager.subscriber(never_added)) == unknown);
  BOOST_TEST(error_of(manager.with_subscriber(never_added, [](counter_subscriber&) {})) == unknown);
}

BOOST_AUTO_TEST_CASE(stale_id_of_a_removed_subscriber_is_unknown_even_after_slot_reuse) {
  auto manager = em::event_manager<counter_subscriber>::create().value();
  const auto old_id = manager.add_subscriber(counter_subscriber{}).value();
  BOOST_TEST_REQUIRE(manager.remove_subscriber(old_id).has_value());
  const auto new_id = manager.add_subscriber(counter_subscriber{}).value();
  BOOST_TEST(new_id.slot() == old_id.slot());
  BOOST_TEST(error_of(manager.remove_subscriber(old_id)) == make_error_code(em::errc::unknown_subscriber));
  BOOST_TEST(manager.subscriber_count() == 1U);  // the new subscriber was not touched
}

BOOST_AUTO_TEST_CASE(same_fd_registered_twice_is_fd_already_registered) {
  auto fd = sys::event_fd::create().value();
  std::error_code first;
  std::error_code second;
  auto manager = em::event_manager<registrar>::create().value();
  static_cast<void>(manager.add_subscriber(registrar{{fd.fd(), sys::event_set::readable}, &first}).value());
  static_cast<void>(manager.add_subscriber(registrar{{fd.fd(), sys::event_set::readable}, &second}).value());
  BOOST_TEST(!first);
  BOOST_TEST(second == make_error_code(em::errc::fd_already_registered));
  BOOST_TEST(manager.registration_count() == 1U);
}

BOOST_AUTO_TEST_CASE(closed_fd_is_ebadf) {
  std::error_code outcome;
  auto manager = em::event_manager<registrar>::create().value();
  static_cast<void>(manager.add_subscriber(registrar{{sys::borrowed_fd{-1}, sys::event_set::readable}, &outcome}));
  BOOST_TEST(outcome == os_error(EBADF));
  BOOST_TEST(manager.registration_count() == 0U);
}

BOOST_AUTO_TEST_CASE(regular_file_is_eperm) {
  const auto file = sys::temp_file::create().value();
  std::error_code outcome;
  auto manager = em::event_manager<registrar>::create().value();
  static_cast<void>(manager.add_subscriber(registrar{{file.fd(), sys::event_set::readable}, &outcome}));
  BOOST_TEST(outcome == os_error(EPERM));
}

BOOST_AUTO_TEST_CASE(event_set_the_kernel_rejects_is_einval) {
  auto fd = sys::event_fd::create().value();
  std::error_code outcome;
  auto manager = em::event_manager<registrar>::create().value();
  // EPOLLEXCLUSIVE may not be combined with EPOLLONESHOT.
  const auto invalid = sys::event_set::readable | sys::event_set::exclusive | sys::event_set::one_shot;
  static_cast<void>(manager.add_subscriber(registrar{{fd.fd(), invalid}, &outcome}));
  BOOST_TEST(outcome == os_error(EINVAL));
  BOOST_TEST(manager.registration_count() == 0U);
}

BOOST_AUTO_TEST_CASE(modify_or_remove_of_an_fd_the_subscriber_does_not_watch_is_fd_not_registered) {
  struct meddler {
    sys::borrowed_fd other;
    std::error_code* modify_error;
    std::error_code* remove_error;
    void init(em::event_ops& ops) {
      *modify_error = ops.modify({other, sys::event_set::writable}).error_or({});
      *remove_error = ops.remove(other).error_or({});
    }
    void process(const em::events&, em::event_ops&) {}
  };
  counter_subscriber owner;
  std::error_code modify_error;
  std::error_code remove_error;
  auto counters = em::event_manager<counter_subscriber>::create().value();
  const auto other_fd = owner.fd();
  static_cast<void>(counters.add_subscriber(std::move(owner)).value());
  // The fd belongs to a subscriber of another manager: this one does not watch it at all.
  auto meddlers = em::event_manager<meddler>::create().value();
  static_cast<void>(meddlers.add_subscriber(meddler{other_fd, &modify_error, &remove_error}).value());
  BOOST_TEST(modify_error == make_error_code(em::errc::fd_not_registered));
  BOOST_TEST(remove_error == make_error_code(em::errc::fd_not_registered));
  BOOST_TEST(counters.registration_count() == 1U);
}

BOOST_AUTO_TEST_CASE(subscriber_cannot_remove_another_subscribers_fd_in_the_same_manager) {
  struct pair_member {
    sys::event_fd own = sys::event_fd::create({.nonblocking = true}).value();
    std::optional<sys::borrowed_fd> victim;
    std::error_code* outcome;
    void init(em::event_ops& ops) {
      ops.add({own.fd(), sys::event_set::readable}).value();
      if (victim) {
        *outcome = ops.remove(*victim).error_or({});
      }
    }
    void process(const em::events&, em::event_ops&) {}
  };
  std::error_code outcome;
  auto manager = em::event_manager<pair_member>::create().value();
  pair_member first{.victim = std::nullopt, .outcome = &outcome};
  const auto first_fd = first.own.fd();
  static_cast<void>(manager.add_subscriber(std::move(first)).value());
  static_cast<void>(manager.add_subscriber(pair_member{.victim = first_fd, .outcome = &outcome}).value());
  BOOST_TEST(outcome == make_error_code(em::errc::fd_not_registered));
  BOOST_TEST(manager.registration_count() == 2U);
}

BOOST_AUTO_TEST_CASE(init_that_throws_is_subscriber_threw_and_leaves_nothing_registered) {
  struct bad_init {
    sys::event_fd fd = sys::event_fd::create().value();
    [[noreturn]] void init(em::event_ops& ops) {
      ops.add({fd.fd(), sys::event_set::readable}).value();
      throw std::runtime_error{"half-initialised"};
    }
    void process(const em::events&, em::event_ops&) {}
  };
  auto manager = em::event_manager<bad_init>::create().value();
  BOOST_TEST(error_of(manager.add_subscriber(bad_init{})) == make_error_code(em::errc::subscriber_threw));
  BOOST_TEST(manager.subscriber_count() == 0U);
  BOOST_TEST(manager.registration_count() == 0U);
}

BOOST_AUTO_TEST_CASE(process_that_throws_is_reported_and_dispatch_goes_on) {
  int thrower_calls = 0;
  auto manager = em::event_manager<std::unique_ptr<em::dynamic_subscriber>>::create().value();
  struct dyn_thrower final : em::dynamic_subscriber {
    thrower inner;
    void init(em::event_ops& ops) override { inner.init(ops); }
    void process(const em::events& e, em::event_ops& ops) override { inner.process(e, ops); }
  };
  struct dyn_counter final : em::dynamic_subscriber {
    counter_subscriber inner;
    void init(em::event_ops& ops) override { inner.init(ops); }
    void process(const em::events& e, em::event_ops& ops) override { inner.process(e, ops); }
  };
  auto t = std::make_unique<dyn_thrower>();
  t->inner.calls = &thrower_calls;
  t->inner.fd.write(1).value();
  auto c = std::make_unique<dyn_counter>();
  c->inner.trigger();
  const auto count = c->inner.count;
  std::vector<em::subscriber_id> reported;
  manager.set_error_handler([&](const em::subscriber_error& e) { reported.push_back(e.subscriber); });
  const auto thrower_id = manager.add_subscriber(std::move(t)).value();
  static_cast<void>(manager.add_subscriber(std::move(c)).value());

  BOOST_TEST(manager.run().value() == 1U);  // the counter's event; the thrower's is not counted as dispatched
  BOOST_TEST(*count == 1U);
  BOOST_TEST(manager.subscriber_errors() == 1U);
  BOOST_TEST_REQUIRE(reported.size() == 1U);
  BOOST_TEST((reported[0] == thrower_id));
  const auto last = manager.last_subscriber_error();
  BOOST_TEST_REQUIRE(last.has_value());
  BOOST_CHECK_THROW(std::rethrow_exception(last->exception), std::runtime_error);
  // The thrower stays subscribed and works next time.
  auto& again = manager.subscriber(thrower_id)->get();
  static_cast<dyn_thrower&>(*again).inner.fd.write(1).value();
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(thrower_calls == 2);
}

BOOST_AUTO_TEST_CASE(error_handler_that_throws_does_not_break_the_loop) {
  int calls = 0;
  auto manager = em::event_manager<thrower>::create().value();
  manager.set_error_handler([](const em::subscriber_error&) { throw std::logic_error{"handler bug"}; });
  thrower t{.calls = &calls};
  t.fd.write(1).value();
  static_cast<void>(manager.add_subscriber(std::move(t)).value());
  const auto outcome = manager.run();
  BOOST_TEST(outcome.has_value(), vmm::testing::describe(outcome));
  BOOST_TEST(manager.subscriber_errors() == 1U);
}

BOOST_AUTO_TEST_CASE(negative_timeout_is_invalid_duration) {
  auto manager = em::event_manager<counter_subscriber>::create().value();
  BOOST_TEST(error_of(manager.run_with_timeout(-1ms)) == make_error_code(sys::errc::invalid_duration));
}

BOOST_AUTO_TEST_CASE(kick_signal_interrupts_run_with_eintr) {
  const int kick = sys::default_kick_signal();
  BOOST_TEST_REQUIRE(sys::install_kick_handler(kick).has_value());
  auto manager = em::event_manager<counter_subscriber>::create().value();
  std::atomic<bool> returned{false};
  vmm::result<std::size_t> outcome = 0;
  std::thread runner{[&] {
    outcome = manager.run();
    returned.store(true);
  }};
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!returned.load() && std::chrono::steady_clock::now() < deadline) {
    static_cast<void>(sys::kick_thread(runner.native_handle(), kick));
    std::this_thread::sleep_for(5ms);
  }
  if (!returned.load()) {
    static_cast<void>(manager.remote_endpoint().kick());  // do not hang the suite on failure
  }
  runner.join();
  BOOST_TEST(error_of(outcome) == os_error(EINTR));
}

BOOST_AUTO_TEST_SUITE_END()
