// Signals: signal_set, the thread's mask, pending signals, real-time signal numbers, and the kick handler that makes
// a blocked system call return EINTR. Every test that changes the mask restores it, so tests cannot affect each
// other when the whole executable runs at once.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <csignal>
#include <pthread.h>

import std;
import vmm.sys;
import vmm.testing;

using vmm::testing::os_error;
namespace sys = vmm::sys;
using vmm::testing::error_of;
using vmm::testing::kick_until_returned;

namespace {

// A number that is not a signal on any Linux architecture (they stop at 64).
constexpr int not_a_signal = 1000;

// How long a test waits for another thread before it gives up and fails: generous, the machine is slow and noisy.
constexpr auto patience = std::chrono::seconds{5};

auto invalid_signal() -> std::error_code {
  return std::error_code{sys::errc::invalid_signal};
}

// Real-time signals the mask tests use, apart from the default kick signal (SIGRTMIN) that the kick tests use, so
// that a signal one test leaves pending cannot reach another. Default action of each: terminate the process.
auto pending_test_signal() -> int {
  return SIGRTMIN + 5;
}
auto mask_test_signal() -> int {
  return SIGRTMIN + 6;
}
auto other_mask_test_signal() -> int {
  return SIGRTMIN + 7;
}
auto handler_test_signal() -> int {
  return SIGRTMIN + 8;
}

// Restores the calling thread's signal mask when the test ends, however it ends.
class mask_restorer {
 public:
  mask_restorer() : saved_{sys::current_signal_mask().value()} {}
  mask_restorer(const mask_restorer&) = delete;
  auto operator=(const mask_restorer&) -> mask_restorer& = delete;
  mask_restorer(mask_restorer&&) = delete;
  auto operator=(mask_restorer&&) -> mask_restorer& = delete;
  ~mask_restorer() { static_cast<void>(sys::set_signal_mask(saved_)); }

 private:
  sys::signal_set saved_;
};

// The current disposition of `signal` (sigaction with no new action).
auto disposition_of(int signal) -> struct ::sigaction {
  struct ::sigaction current{};
  ::sigaction(signal, nullptr, &current);
  return current;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sys_signal)

// --- signal_set -----------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(empty_set_contains_no_signal) {
  const auto set = sys::signal_set::empty();
  BOOST_TEST(!set.contains(SIGINT));
  BOOST_TEST(!set.contains(SIGTERM));
  BOOST_TEST(!set.contains(SIGRTMIN));
  BOOST_TEST(!set.contains(SIGRTMAX));
}

BOOST_AUTO_TEST_CASE(full_set_contains_standard_and_realtime_signals) {
  const auto set = sys::signal_set::full();
  BOOST_TEST(set.contains(SIGHUP));
  BOOST_TEST(set.contains(SIGINT));
  BOOST_TEST(set.contains(SIGKILL));
  BOOST_TEST(set.contains(SIGRTMIN));
  BOOST_TEST(set.contains(SIGRTMAX));
}

BOOST_AUTO_TEST_CASE(of_holds_exactly_the_given_signals) {
  const auto set = sys::signal_set::of({SIGINT, SIGTERM});
  BOOST_TEST_REQUIRE(set.has_value(), vmm::testing::describe(set));
  BOOST_TEST(set->contains(SIGINT));
  BOOST_TEST(set->contains(SIGTERM));
  BOOST_TEST(!set->contains(SIGHUP));
  BOOST_TEST(!set->contains(SIGRTMIN));
}

BOOST_AUTO_TEST_CASE(of_with_no_signals_is_empty) {
  const auto set = sys::signal_set::of({});
  BOOST_TEST_REQUIRE(set.has_value());
  BOOST_TEST(!set->contains(SIGINT));
}

BOOST_AUTO_TEST_CASE(add_then_remove_toggles_membership) {
  auto set = sys::signal_set::empty();
  BOOST_TEST_REQUIRE(set.add(SIGUSR1).has_value());
  BOOST_TEST(set.contains(SIGUSR1));
  BOOST_TEST(!set.contains(SIGUSR2));

  BOOST_TEST_REQUIRE(set.remove(SIGUSR1).has_value());
  BOOST_TEST(!set.contains(SIGUSR1));
}

BOOST_AUTO_TEST_CASE(remove_of_an_absent_signal_succeeds_and_keeps_the_others) {
  auto set = sys::signal_set::of({SIGINT});
  BOOST_TEST_REQUIRE(set.has_value());
  BOOST_TEST(set->remove(SIGTERM).has_value());
  BOOST_TEST(set->contains(SIGINT));
}

BOOST_AUTO_TEST_CASE(add_of_an_invalid_signal_number_returns_einval) {
  auto set = sys::signal_set::empty();
  BOOST_TEST(error_of(set.add(0)) == os_error(EINVAL));
  BOOST_TEST(error_of(set.add(not_a_signal)) == os_error(EINVAL));
  BOOST_TEST(error_of(set.add(-1)) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(remove_of_an_invalid_signal_number_returns_einval) {
  auto set = sys::signal_set::full();
  BOOST_TEST(error_of(set.remove(0)) == os_error(EINVAL));
  BOOST_TEST(error_of(set.remove(not_a_signal)) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(of_with_an_invalid_signal_number_returns_einval) {
  BOOST_TEST(error_of(sys::signal_set::of({SIGINT, not_a_signal})) == os_error(EINVAL));
  BOOST_TEST(error_of(sys::signal_set::of({0})) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(contains_of_an_invalid_signal_number_is_false) {
  const auto set = sys::signal_set::full();
  BOOST_TEST(!set.contains(0));
  BOOST_TEST(!set.contains(not_a_signal));
}

// --- the thread's mask ----------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(block_and_unblock_return_the_previous_mask) {
  const mask_restorer restore;
  const int signal = mask_test_signal();
  const auto set = sys::signal_set::of({signal});
  BOOST_TEST_REQUIRE(set.has_value());

  const auto before_block = sys::block_signals(*set);
  BOOST_TEST_REQUIRE(before_block.has_value(), vmm::testing::describe(before_block));
  BOOST_TEST(!before_block->contains(signal));
  BOOST_TEST(sys::current_signal_mask().value().contains(signal));

  const auto before_unblock = sys::unblock_signals(*set);
  BOOST_TEST_REQUIRE(before_unblock.has_value(), vmm::testing::describe(before_unblock));
  BOOST_TEST(before_unblock->contains(signal));
  BOOST_TEST(!sys::current_signal_mask().value().contains(signal));
}

BOOST_AUTO_TEST_CASE(block_adds_to_the_mask_without_removing_other_signals) {
  const mask_restorer restore;
  const auto first = sys::signal_set::of({mask_test_signal()});
  const auto second = sys::signal_set::of({other_mask_test_signal()});
  BOOST_TEST_REQUIRE((first.has_value() && second.has_value()));

  BOOST_TEST_REQUIRE(sys::block_signals(*first).has_value());
  BOOST_TEST_REQUIRE(sys::block_signals(*second).has_value());

  const auto mask = sys::current_signal_mask();
  BOOST_TEST_REQUIRE(mask.has_value());
  BOOST_TEST(mask->contains(mask_test_signal()));
  BOOST_TEST(mask->contains(other_mask_test_signal()));
}

BOOST_AUTO_TEST_CASE(set_signal_mask_replaces_the_mask_and_returns_the_previous_one) {
  const mask_restorer restore;
  const auto first = sys::signal_set::of({mask_test_signal()});
  const auto second = sys::signal_set::of({other_mask_test_signal()});
  BOOST_TEST_REQUIRE((first.has_value() && second.has_value()));
  BOOST_TEST_REQUIRE(sys::set_signal_mask(*first).has_value());

  const auto previous = sys::set_signal_mask(*second);

  BOOST_TEST_REQUIRE(previous.has_value());
  BOOST_TEST(previous->contains(mask_test_signal()));
  BOOST_TEST(!previous->contains(other_mask_test_signal()));
  const auto mask = sys::current_signal_mask();
  BOOST_TEST_REQUIRE(mask.has_value());
  BOOST_TEST(!mask->contains(mask_test_signal()));
  BOOST_TEST(mask->contains(other_mask_test_signal()));
}

// --- pending signals ------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(pending_signals_reports_a_blocked_raised_signal) {
  const mask_restorer restore;
  const int signal = pending_test_signal();
  const auto set = sys::signal_set::of({signal});
  BOOST_TEST_REQUIRE(set.has_value());
  BOOST_TEST_REQUIRE(sys::block_signals(*set).has_value());
  BOOST_TEST_REQUIRE(!sys::pending_signals().value().contains(signal));

  BOOST_TEST_REQUIRE(::pthread_kill(::pthread_self(), signal) == 0);

  BOOST_TEST(sys::pending_signals().value().contains(signal));
  BOOST_TEST_REQUIRE(sys::clear_pending_signal(signal).value());  // so that restoring the mask cannot deliver it
}

BOOST_AUTO_TEST_CASE(clear_pending_signal_consumes_it_then_returns_false) {
  const mask_restorer restore;
  const int signal = pending_test_signal();
  const auto set = sys::signal_set::of({signal});
  BOOST_TEST_REQUIRE(set.has_value());
  BOOST_TEST_REQUIRE(sys::block_signals(*set).has_value());
  BOOST_TEST_REQUIRE(::pthread_kill(::pthread_self(), signal) == 0);

  BOOST_TEST(sys::clear_pending_signal(signal).value() == true);
  BOOST_TEST(sys::clear_pending_signal(signal).value() == false);
  BOOST_TEST(!sys::pending_signals().value().contains(signal));
}

BOOST_AUTO_TEST_CASE(clear_pending_signal_consumes_one_queued_instance_at_a_time) {
  // Real-time signals queue: two sends leave two instances pending.
  const mask_restorer restore;
  const int signal = pending_test_signal();
  const auto set = sys::signal_set::of({signal});
  BOOST_TEST_REQUIRE(set.has_value());
  BOOST_TEST_REQUIRE(sys::block_signals(*set).has_value());
  BOOST_TEST_REQUIRE(::pthread_kill(::pthread_self(), signal) == 0);
  BOOST_TEST_REQUIRE(::pthread_kill(::pthread_self(), signal) == 0);

  BOOST_TEST(sys::clear_pending_signal(signal).value() == true);
  BOOST_TEST(sys::pending_signals().value().contains(signal));  // the second instance
  BOOST_TEST(sys::clear_pending_signal(signal).value() == true);
  BOOST_TEST(sys::clear_pending_signal(signal).value() == false);
}

BOOST_AUTO_TEST_CASE(clear_pending_signal_with_nothing_pending_returns_false) {
  const mask_restorer restore;
  const int signal = pending_test_signal();
  const auto set = sys::signal_set::of({signal});
  BOOST_TEST_REQUIRE(set.has_value());
  BOOST_TEST_REQUIRE(sys::block_signals(*set).has_value());

  BOOST_TEST(sys::clear_pending_signal(signal).value() == false);
}

BOOST_AUTO_TEST_CASE(clear_pending_signal_of_an_invalid_signal_number_returns_einval) {
  BOOST_TEST(error_of(sys::clear_pending_signal(0)) == os_error(EINVAL));
  BOOST_TEST(error_of(sys::clear_pending_signal(not_a_signal)) == os_error(EINVAL));
}

// --- real-time signal numbers ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(realtime_signal_counts_from_sigrtmin_to_sigrtmax) {
  BOOST_TEST(sys::realtime_signal(0).value() == SIGRTMIN);
  BOOST_TEST(sys::realtime_signal(1).value() == SIGRTMIN + 1);
  BOOST_TEST(sys::realtime_signal(SIGRTMAX - SIGRTMIN).value() == SIGRTMAX);
}

BOOST_AUTO_TEST_CASE(realtime_signal_outside_the_range_returns_invalid_signal) {
  BOOST_TEST(error_of(sys::realtime_signal(-1)) == invalid_signal());
  BOOST_TEST(error_of(sys::realtime_signal(SIGRTMAX - SIGRTMIN + 1)) == invalid_signal());
}

BOOST_AUTO_TEST_CASE(default_kick_signal_is_sigrtmin) {
  BOOST_TEST(sys::default_kick_signal() == SIGRTMIN);
}

// --- the kick handler -----------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(install_kick_handler_of_a_standard_signal_returns_invalid_signal) {
  BOOST_TEST(error_of(sys::install_kick_handler(SIGINT)) == invalid_signal());
  BOOST_TEST(error_of(sys::install_kick_handler(SIGUSR1)) == invalid_signal());
  BOOST_TEST(error_of(sys::install_kick_handler(0)) == invalid_signal());
  BOOST_TEST(error_of(sys::install_kick_handler(SIGRTMAX + 1)) == invalid_signal());
}

BOOST_AUTO_TEST_CASE(rejected_install_kick_handler_leaves_the_disposition_alone) {
  const auto before = disposition_of(SIGUSR2);
  BOOST_TEST_REQUIRE(!sys::install_kick_handler(SIGUSR2).has_value());
  BOOST_TEST((disposition_of(SIGUSR2).sa_handler == before.sa_handler));
}

BOOST_AUTO_TEST_CASE(kick_thread_with_a_standard_signal_returns_invalid_signal) {
  // Had SIGTERM been sent, this process would have died.
  BOOST_TEST(error_of(sys::kick_thread(::pthread_self(), SIGTERM)) == invalid_signal());
  BOOST_TEST(error_of(sys::kick_thread(::pthread_self(), 0)) == invalid_signal());
}

BOOST_AUTO_TEST_CASE(installed_kick_handler_has_no_sa_restart) {
  const int signal = handler_test_signal();
  // Start from an ignoring disposition with SA_RESTART, so that the install must replace both.
  struct ::sigaction restarting{};
  restarting.sa_handler = SIG_IGN;
  restarting.sa_flags = SA_RESTART;
  BOOST_TEST_REQUIRE(::sigaction(signal, &restarting, nullptr) == 0);

  BOOST_TEST_REQUIRE(sys::install_kick_handler(signal).has_value());

  const auto installed = disposition_of(signal);
  BOOST_TEST((installed.sa_flags & SA_RESTART) == 0);
  BOOST_TEST((installed.sa_flags & SA_SIGINFO) == 0);  // a plain sa_handler, which the next check reads
  BOOST_TEST((installed.sa_handler != SIG_IGN));
  BOOST_TEST((installed.sa_handler != SIG_DFL));
}

BOOST_AUTO_TEST_CASE(install_kick_handler_is_idempotent) {
  const int signal = sys::default_kick_signal();
  BOOST_TEST_REQUIRE(sys::install_kick_handler(signal).has_value());
  const auto first = disposition_of(signal);

  BOOST_TEST(sys::install_kick_handler(signal).has_value());

  const auto second = disposition_of(signal);
  BOOST_TEST((second.sa_handler == first.sa_handler));
  BOOST_TEST(second.sa_flags == first.sa_flags);
}

BOOST_AUTO_TEST_CASE(kick_of_the_calling_thread_runs_the_handler_and_returns) {
  // The handler does nothing; without it the default action of a real-time signal would end the process.
  const int signal = sys::default_kick_signal();
  BOOST_TEST_REQUIRE(sys::install_kick_handler(signal).has_value());
  BOOST_TEST(sys::kick_thread(::pthread_self(), signal).has_value());
}

BOOST_AUTO_TEST_CASE(kick_interrupts_a_blocked_read_with_eintr) {
  const int kick = sys::default_kick_signal();
  BOOST_TEST_REQUIRE(sys::install_kick_handler(kick).has_value());
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  std::atomic<bool> returned{false};
  vmm::result<std::size_t> got{0U};
  std::thread reader{[&] {
    std::array<std::byte, 1> buffer{};
    got = sys::read(pipe->first, buffer);
    returned.store(true);
  }};

  const bool interrupted = kick_until_returned(reader, kick, returned);
  const std::array<std::byte, 1> one_byte{};
  static_cast<void>(sys::write(pipe->second, one_byte));  // frees the reader if the kick did not: join() cannot hang
  reader.join();

  BOOST_TEST_REQUIRE(interrupted, "the kicked reader did not return within " << patience);
  BOOST_TEST(error_of(got) == os_error(EINTR));
}

BOOST_AUTO_TEST_CASE(kick_of_a_thread_that_blocks_it_stays_pending) {
  // A vCPU thread blocks the kick outside KVM_RUN; the kick must then wait, not vanish.
  const int kick = sys::default_kick_signal();
  BOOST_TEST_REQUIRE(sys::install_kick_handler(kick).has_value());
  const mask_restorer restore;
  const auto set = sys::signal_set::of({kick});
  BOOST_TEST_REQUIRE(set.has_value());
  BOOST_TEST_REQUIRE(sys::block_signals(*set).has_value());

  BOOST_TEST_REQUIRE(sys::kick_thread(::pthread_self(), kick).has_value());

  BOOST_TEST(sys::pending_signals().value().contains(kick));
  BOOST_TEST(sys::clear_pending_signal(kick).value() == true);
}

BOOST_AUTO_TEST_SUITE_END()
