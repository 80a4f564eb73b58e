// One case per bug class the design defends against, named after it.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

import std;
import vmm.sys;
import vmm.event_manager;
import vmm.testing;

namespace em = vmm::event_manager;
namespace sys = vmm::sys;
using namespace std::chrono_literals;

namespace {

// Registers the fd number it is given; its eventfd (if any) is owned elsewhere.
struct watcher {
  sys::borrowed_fd fd;
  int* calls;
  void init(em::event_ops& ops) { ops.add({fd, sys::event_set::readable}).value(); }
  void process(const em::events&, em::event_ops&) { ++*calls; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(event_manager_regression)

// An fd closed without being unregistered leaves a stale fd → registration entry; when the number is reused for a
// new fd, registering it must work (the kernel already forgot the old one) instead of failing as a duplicate.
BOOST_AUTO_TEST_CASE(fd_number_reused_after_close_can_be_registered_again) {
  int first_calls = 0;
  int second_calls = 0;
  auto manager = em::event_manager<watcher>::create().value();
  auto first = sys::event_fd::create({.nonblocking = true}).value();
  const int number = first.fd().get();
  static_cast<void>(manager.add_subscriber(watcher{first.fd(), &first_calls}).value());
  first = sys::event_fd::create({.nonblocking = true}).value();    // closes the old fd ...
  auto reused = sys::unique_fd{::dup2(first.fd().get(), number)};  // ... and puts a new file at its number
  BOOST_TEST_REQUIRE(reused.valid());
  const auto id = manager.add_subscriber(watcher{reused, &second_calls});
  BOOST_TEST_REQUIRE(id.has_value(), vmm::testing::describe(id));
  BOOST_TEST(manager.registration_count() == 1U);  // the stale entry was replaced
  first.write(1).value();
  BOOST_TEST(manager.run().value() == 1U);
  BOOST_TEST(second_calls == 1);
  BOOST_TEST(first_calls == 0);
  static_cast<void>(reused.release());  // dup2 made `number` refer to the same file as `first`; let `first` close it
  static_cast<void>(::close(number));
}

// Removing a subscriber whose fd was closed first must not fail (epoll already dropped the fd: EBADF/ENOENT).
BOOST_AUTO_TEST_CASE(removing_a_subscriber_after_its_fd_was_closed_succeeds) {
  int calls = 0;
  auto manager = em::event_manager<watcher>::create().value();
  auto fd = std::optional{sys::event_fd::create().value()};
  const auto id = manager.add_subscriber(watcher{fd->fd(), &calls}).value();
  fd.reset();
  BOOST_TEST(manager.remove_subscriber(id).has_value());
  BOOST_TEST(manager.registration_count() == 0U);
}

// rust-vmm's event-manager looks subscribers up by fd in a hash map, so an event for an fd that was removed and
// re-added by another subscriber in the same batch reaches the new owner. Here a stale report is dropped.
BOOST_AUTO_TEST_CASE(report_for_an_fd_moved_to_another_subscriber_in_the_batch_is_dropped) {
  struct mover {
    sys::event_fd own = sys::event_fd::create({.nonblocking = true}).value();
    std::shared_ptr<std::vector<int>> log;
    int name;
    em::event_manager<std::unique_ptr<mover>>** manager;
    std::optional<em::subscriber_id>* victim;
    void init(em::event_ops& ops) { ops.add({own.fd(), sys::event_set::readable}).value(); }
    void process(const em::events&, em::event_ops&) {
      log->push_back(name);
      static_cast<void>(own.read());
      if (victim->has_value()) {
        // Take the victim out (its report may still be in this batch) and subscribe its fd again elsewhere.
        auto taken = (*manager)->take_subscriber(**victim);
        victim->reset();
        if (taken) {
          (*taken)->name += 100;  // a new identity for the same fd
          (*taken)->victim = victim;
          static_cast<void>((*manager)->add_subscriber(std::move(*taken)));
        }
      }
    }
  };
  using manager_type = em::event_manager<std::unique_ptr<mover>>;
  auto manager = manager_type::create().value();
  manager_type* self = &manager;
  auto log = std::make_shared<std::vector<int>>();
  std::optional<em::subscriber_id> victim;
  auto a = std::make_unique<mover>(mover{.log = log, .name = 1, .manager = &self, .victim = &victim});
  auto b = std::make_unique<mover>(mover{.log = log, .name = 2, .manager = &self, .victim = &victim});
  a->own.write(1).value();
  b->own.write(1).value();
  const auto a_id = manager.add_subscriber(std::move(a)).value();
  const auto b_id = manager.add_subscriber(std::move(b)).value();
  // The first to run takes the other out and re-adds it; the batch's report for the old registration is dropped.
  victim = b_id;
  static_cast<void>(a_id);
  const auto first = manager.run();
  BOOST_TEST_REQUIRE(first.has_value(), vmm::testing::describe(first));
  BOOST_TEST(manager.dropped_events() + *first == 2U);
  BOOST_TEST(manager.subscriber_count() == 2U);
}

BOOST_AUTO_TEST_SUITE_END()
