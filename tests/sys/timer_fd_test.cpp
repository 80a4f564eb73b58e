// timer_fd: one-shot, periodic and absolute timers, disarming, state(), the duration checks, non-blocking waits, the
// three clocks, and a timer in an epoll loop. Timing is only ever checked from below: the machine is slow and noisy.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <poll.h>

import std;
import vmm.sys;
import vmm.testing;

using vmm::testing::os_error;
namespace sys = vmm::sys;
using vmm::testing::error_of;
using namespace std::chrono_literals;

namespace {

// How long a test waits for an expiration before it gives up and fails: generous, the machine is slow and noisy.
// Waits that are expected to succeed return as soon as the timer fires.
constexpr auto patience = std::chrono::milliseconds{5000};
// A delay no test waits out: a timer armed with it stays armed for the whole test.
constexpr auto far_future = std::chrono::hours{1};

// Whether `fd` becomes readable within `timeout` (poll(2)), so that a blocking wait() after it cannot hang.
auto readable_within(sys::borrowed_fd fd, std::chrono::milliseconds timeout) -> bool {
  ::pollfd entry{.fd = fd.get(), .events = POLLIN, .revents = 0};
  return ::poll(&entry, 1, static_cast<int>(timeout.count())) == 1;
}

auto invalid_duration() -> std::error_code {
  return std::error_code{sys::errc::invalid_duration};
}

// CLOCK_BOOTTIME now, as time since that clock's epoch (std::chrono has no boot-time clock).
auto boottime_now() -> std::chrono::nanoseconds {
  ::timespec now{};
  // Cannot fail: the clock exists on every supported kernel and `now` is a live local.
  static_cast<void>(::clock_gettime(CLOCK_BOOTTIME, &now));
  return std::chrono::seconds{now.tv_sec} + std::chrono::nanoseconds{now.tv_nsec};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sys_timer_fd)

// --- creation -------------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(new_timer_is_disarmed) {
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value(), vmm::testing::describe(timer));
  const auto state = timer->state();
  BOOST_TEST_REQUIRE(state.has_value());
  BOOST_TEST(!state->armed());
  BOOST_TEST(state->remaining.count() == 0);
  BOOST_TEST(state->interval.count() == 0);
}

BOOST_AUTO_TEST_CASE(timer_descriptor_is_close_on_exec) {
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST((::fcntl(timer->fd().get(), F_GETFD) & FD_CLOEXEC) != 0);
}

BOOST_AUTO_TEST_CASE(nonblocking_flag_sets_o_nonblock) {
  auto blocking = sys::timer_fd::create(sys::timer_clock::monotonic, false);
  auto nonblocking = sys::timer_fd::create(sys::timer_clock::monotonic, true);
  BOOST_TEST_REQUIRE((blocking.has_value() && nonblocking.has_value()));
  BOOST_TEST(sys::is_nonblocking(blocking->fd()).value() == false);
  BOOST_TEST(sys::is_nonblocking(nonblocking->fd()).value() == true);
}

// --- firing ---------------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(arm_once_fires_once_after_the_delay) {
  constexpr auto delay = 1ms;
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  const auto start = std::chrono::steady_clock::now();

  BOOST_TEST_REQUIRE(timer->arm_once(delay).has_value());
  BOOST_TEST_REQUIRE(readable_within(timer->fd(), patience), "the timer did not fire within " << patience);
  const auto expirations = timer->wait();

  BOOST_TEST(expirations.value() == 1U);
  BOOST_TEST((std::chrono::steady_clock::now() - start >= delay));
}

BOOST_AUTO_TEST_CASE(one_shot_timer_is_disarmed_after_firing) {
  // Long enough to see that nothing comes after the single expiration; a one-shot timer never fires again.
  constexpr auto quiet_period = 20ms;
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST_REQUIRE(timer->arm_once(1ms).has_value());
  BOOST_TEST_REQUIRE(readable_within(timer->fd(), patience));
  BOOST_TEST_REQUIRE(timer->wait().value() == 1U);

  BOOST_TEST(!timer->state().value().armed());
  BOOST_TEST(!readable_within(timer->fd(), quiet_period));
}

BOOST_AUTO_TEST_CASE(periodic_timer_keeps_firing) {
  constexpr auto period = 1ms;
  // Sleeping this long after arming guarantees at least 10 expirations of `period` (checked: at least 2).
  constexpr auto several_periods = 10ms;
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST_REQUIRE(timer->arm_periodic(period, period).has_value());

  std::this_thread::sleep_for(several_periods);
  BOOST_TEST_REQUIRE(readable_within(timer->fd(), patience));
  BOOST_TEST(timer->wait().value() >= 2U);
  BOOST_TEST_REQUIRE(readable_within(timer->fd(), patience), "the timer stopped after the first read");
  BOOST_TEST(timer->wait().value() >= 1U);
  BOOST_TEST(timer->state().value().armed());
}

BOOST_AUTO_TEST_CASE(arm_at_fires_at_an_absolute_monotonic_deadline) {
  auto timer = sys::timer_fd::create(sys::timer_clock::monotonic);
  BOOST_TEST_REQUIRE(timer.has_value());
  const std::chrono::nanoseconds deadline = std::chrono::steady_clock::now().time_since_epoch() + 1ms;

  BOOST_TEST_REQUIRE(timer->arm_at(deadline).has_value());
  BOOST_TEST_REQUIRE(readable_within(timer->fd(), patience), "the timer did not fire within " << patience);

  BOOST_TEST(timer->wait().value() == 1U);
  BOOST_TEST((std::chrono::steady_clock::now().time_since_epoch() >= deadline));
}

BOOST_AUTO_TEST_CASE(arm_at_with_a_past_deadline_fires_at_once) {
  // One nanosecond after the monotonic clock's epoch (boot): long past.
  constexpr auto long_ago = 1ns;
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());

  BOOST_TEST_REQUIRE(timer->arm_at(long_ago).has_value());

  BOOST_TEST_REQUIRE(readable_within(timer->fd(), patience), "the timer did not fire within " << patience);
  BOOST_TEST(timer->wait().value() == 1U);
}

BOOST_AUTO_TEST_CASE(arm_at_with_an_interval_keeps_firing_after_the_deadline) {
  constexpr auto period = 1ms;
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  const std::chrono::nanoseconds deadline = std::chrono::steady_clock::now().time_since_epoch() + period;
  BOOST_TEST_REQUIRE(timer->arm_at(deadline, period).has_value());

  BOOST_TEST_REQUIRE(readable_within(timer->fd(), patience));
  BOOST_TEST(timer->wait().value() >= 1U);
  BOOST_TEST_REQUIRE(readable_within(timer->fd(), patience), "the timer did not fire a second time");
  BOOST_TEST(timer->wait().value() >= 1U);
  BOOST_TEST((timer->state().value().interval == period));
}

// --- disarming and state --------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(disarm_stops_an_armed_timer) {
  auto timer = sys::timer_fd::create(sys::timer_clock::monotonic, true);
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST_REQUIRE(timer->arm_periodic(far_future, far_future).has_value());
  BOOST_TEST_REQUIRE(timer->state().value().armed());

  BOOST_TEST_REQUIRE(timer->disarm().has_value());

  const auto state = timer->state();
  BOOST_TEST_REQUIRE(state.has_value());
  BOOST_TEST(!state->armed());
  BOOST_TEST(state->interval.count() == 0);
  BOOST_TEST(error_of(timer->wait()) == os_error(EAGAIN));
}

BOOST_AUTO_TEST_CASE(disarm_discards_expirations_not_yet_read) {
  // timerfd_settime resets the kernel's expiration count, so disarm() (like any re-arm) drops an unread expiry;
  // the interface documents exactly this.
  auto timer = sys::timer_fd::create(sys::timer_clock::monotonic, true);
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST_REQUIRE(timer->arm_once(1ms).has_value());
  BOOST_TEST_REQUIRE(readable_within(timer->fd(), patience));  // expired once, not yet read

  BOOST_TEST_REQUIRE(timer->disarm().has_value());

  BOOST_TEST(error_of(timer->wait()) == os_error(EAGAIN));
}

BOOST_AUTO_TEST_CASE(state_reports_remaining_time_and_interval) {
  constexpr auto first = far_future;
  constexpr auto interval = 2h;
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST_REQUIRE(timer->arm_periodic(first, interval).has_value());

  const auto state = timer->state();

  BOOST_TEST_REQUIRE(state.has_value());
  BOOST_TEST(state->armed());
  BOOST_TEST(state->remaining.count() > 0);
  BOOST_TEST((state->remaining <= first));  // time only counts down
  BOOST_TEST((state->interval == interval));
}

BOOST_AUTO_TEST_CASE(state_keeps_the_nanoseconds_of_an_interval) {
  // One second and one nanosecond: both halves of the kernel's timespec must survive the round trip.
  constexpr auto interval = 1s + 1ns;
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST_REQUIRE(timer->arm_periodic(far_future, interval).has_value());
  BOOST_TEST(timer->state().value().interval.count() == interval.count());
}

BOOST_AUTO_TEST_CASE(arm_once_replaces_an_earlier_setting) {
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST_REQUIRE(timer->arm_periodic(far_future, far_future).has_value());

  BOOST_TEST_REQUIRE(timer->arm_once(far_future).has_value());

  BOOST_TEST(timer->state().value().interval.count() == 0);
}

// --- invalid durations ----------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(arm_once_with_zero_or_negative_delay_returns_invalid_duration) {
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST(error_of(timer->arm_once(0ns)) == invalid_duration());
  BOOST_TEST(error_of(timer->arm_once(-1ms)) == invalid_duration());
}

BOOST_AUTO_TEST_CASE(arm_periodic_with_a_zero_or_negative_duration_returns_invalid_duration) {
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST(error_of(timer->arm_periodic(1ms, 0ns)) == invalid_duration());
  BOOST_TEST(error_of(timer->arm_periodic(0ns, 1ms)) == invalid_duration());
  BOOST_TEST(error_of(timer->arm_periodic(1ms, -1ms)) == invalid_duration());
  BOOST_TEST(error_of(timer->arm_periodic(-1ms, 1ms)) == invalid_duration());
}

BOOST_AUTO_TEST_CASE(arm_at_with_a_zero_or_negative_deadline_returns_invalid_duration) {
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST(error_of(timer->arm_at(0ns)) == invalid_duration());
  BOOST_TEST(error_of(timer->arm_at(-1ns)) == invalid_duration());
}

BOOST_AUTO_TEST_CASE(arm_at_with_a_negative_interval_returns_invalid_duration) {
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST(error_of(timer->arm_at(far_future, -1ns)) == invalid_duration());
}

BOOST_AUTO_TEST_CASE(rejected_arm_leaves_the_timer_armed) {
  // Zero would tell the kernel to disarm; the check must stop it before it gets there.
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST_REQUIRE(timer->arm_once(far_future).has_value());

  BOOST_TEST_REQUIRE(!timer->arm_once(0ns).has_value());

  BOOST_TEST(timer->state().value().armed());
}

// --- waiting --------------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(nonblocking_wait_on_a_disarmed_timer_returns_eagain) {
  auto timer = sys::timer_fd::create(sys::timer_clock::monotonic, true);
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST(error_of(timer->wait()) == os_error(EAGAIN));
}

BOOST_AUTO_TEST_CASE(nonblocking_wait_before_expiry_returns_eagain) {
  auto timer = sys::timer_fd::create(sys::timer_clock::monotonic, true);
  BOOST_TEST_REQUIRE(timer.has_value());
  BOOST_TEST_REQUIRE(timer->arm_once(far_future).has_value());
  BOOST_TEST(error_of(timer->wait()) == os_error(EAGAIN));
}

BOOST_AUTO_TEST_CASE(wait_on_a_moved_from_timer_returns_ebadf) {
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value());
  const sys::timer_fd moved = std::move(*timer);
  BOOST_TEST(moved.fd().valid());
  // NOLINTBEGIN(bugprone-use-after-move): checking the moved-from state
  BOOST_TEST(error_of(timer->wait()) == os_error(EBADF));
  BOOST_TEST(error_of(timer->state()) == os_error(EBADF));
  BOOST_TEST(error_of(timer->arm_once(1ms)) == os_error(EBADF));
  // NOLINTEND(bugprone-use-after-move)
}

// --- clocks ---------------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(realtime_timer_fires_at_a_wall_clock_deadline) {
  // On any other clock a deadline of "now" on the wall clock lies decades away, and the timer would not fire.
  auto timer = sys::timer_fd::create(sys::timer_clock::realtime);
  BOOST_TEST_REQUIRE(timer.has_value(), vmm::testing::describe(timer));
  const std::chrono::nanoseconds deadline = std::chrono::system_clock::now().time_since_epoch() + 1ms;

  BOOST_TEST_REQUIRE(timer->arm_at(deadline).has_value());

  BOOST_TEST_REQUIRE(readable_within(timer->fd(), patience), "the timer did not fire within " << patience);
  BOOST_TEST(timer->wait().value() == 1U);
}

BOOST_AUTO_TEST_CASE(boottime_timer_fires_at_a_boot_clock_deadline) {
  auto timer = sys::timer_fd::create(sys::timer_clock::boottime);
  BOOST_TEST_REQUIRE(timer.has_value(), vmm::testing::describe(timer));
  const auto deadline = boottime_now() + 1ms;

  BOOST_TEST_REQUIRE(timer->arm_at(deadline).has_value());

  BOOST_TEST_REQUIRE(readable_within(timer->fd(), patience), "the timer did not fire within " << patience);
  BOOST_TEST(timer->wait().value() == 1U);
  BOOST_TEST((boottime_now() >= deadline));
}

BOOST_AUTO_TEST_CASE(monotonic_timer_ignores_a_wall_clock_deadline) {
  // A wall-clock "now" read as a monotonic time lies decades after boot: the timer stays armed.
  auto timer = sys::timer_fd::create(sys::timer_clock::monotonic, true);
  BOOST_TEST_REQUIRE(timer.has_value());
  const std::chrono::nanoseconds wall_now = std::chrono::system_clock::now().time_since_epoch();

  BOOST_TEST_REQUIRE(timer->arm_at(wall_now).has_value());

  BOOST_TEST(error_of(timer->wait()) == os_error(EAGAIN));
  BOOST_TEST(timer->state().value().armed());
}

// --- epoll ----------------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(expired_timer_is_readable_in_epoll) {
  constexpr std::uint64_t timer_data = 7;
  auto ep = sys::epoll::create();
  auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE((ep.has_value() && timer.has_value()));
  BOOST_TEST_REQUIRE(ep->add(timer->fd(), sys::event_set::readable, timer_data).has_value());
  std::array<sys::ready_event, 1> out{};
  BOOST_TEST_REQUIRE(ep->wait(out, 0ms).value() == 0U);  // not armed: not readable

  BOOST_TEST_REQUIRE(timer->arm_once(1ms).has_value());

  BOOST_TEST_REQUIRE(ep->wait(out, patience).value() == 1U);
  BOOST_TEST(out[0].data() == timer_data);
  BOOST_TEST(sys::contains(out[0].events(), sys::event_set::readable));
  BOOST_TEST(timer->wait().value() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
