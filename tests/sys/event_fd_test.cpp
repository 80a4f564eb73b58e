// event_fd: counter and semaphore modes, the kernel's limits, cloning, moved-from objects, and blocking reads that
// a write wakes or a kick interrupts.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <fcntl.h>

import std;
import vmm.sys;
import vmm.testing;

using vmm::testing::os_error;
namespace sys = vmm::sys;
using vmm::testing::error_of;
using vmm::testing::kick_until_returned;

namespace {

// The largest initial value eventfd(2) accepts: its parameter is an unsigned int.
constexpr std::uint64_t max_initial = 0xffff'ffffULL;
// The largest value the counter can hold: 2^64-1 itself is reserved, so 2^64-2.
constexpr std::uint64_t max_counter = 0xffff'ffff'ffff'fffeULL;
// 2^64-1: never a valid increment.
constexpr std::uint64_t invalid_increment = 0xffff'ffff'ffff'ffffULL;

// How long a test waits for another thread before it gives up and fails: generous, the machine is slow and noisy.
constexpr auto patience = std::chrono::seconds{5};
// How often a blocked thread is kicked: a kick that lands before the thread blocks is lost, so keep kicking.
constexpr auto kick_interval = std::chrono::milliseconds{1};
// How long the main thread lets a reader get into its blocking read before writing (not needed for correctness).
constexpr auto let_reader_block = std::chrono::milliseconds{20};

auto nonblocking() -> sys::event_fd_options {
  return {.nonblocking = true};
}

// Waits until `returned` is set or patience runs out; returns whether it was set.
auto wait_until_returned(const std::atomic<bool>& returned) -> bool {
  const auto give_up = std::chrono::steady_clock::now() + patience;
  while (!returned.load() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(kick_interval);
  }
  return returned.load();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sys_event_fd)

BOOST_AUTO_TEST_CASE(writes_add_up_and_read_drains_the_counter) {
  auto counter = sys::event_fd::create(nonblocking());
  BOOST_TEST_REQUIRE(counter.has_value(), vmm::testing::describe(counter));
  BOOST_TEST_REQUIRE(counter->write(2).has_value());
  BOOST_TEST_REQUIRE(counter->write(3).has_value());

  BOOST_TEST(counter->read().value() == 5U);
  BOOST_TEST(error_of(counter->read()) == os_error(EAGAIN));  // drained to zero
}

BOOST_AUTO_TEST_CASE(write_without_argument_adds_one) {
  auto counter = sys::event_fd::create(nonblocking());
  BOOST_TEST_REQUIRE(counter.has_value());
  BOOST_TEST_REQUIRE(counter->write().has_value());
  BOOST_TEST(counter->read().value() == 1U);
}

BOOST_AUTO_TEST_CASE(write_of_zero_leaves_the_counter_at_zero) {
  auto counter = sys::event_fd::create(nonblocking());
  BOOST_TEST_REQUIRE(counter.has_value());
  BOOST_TEST(counter->write(0).has_value());
  BOOST_TEST(error_of(counter->read()) == os_error(EAGAIN));
}

BOOST_AUTO_TEST_CASE(semaphore_read_takes_one_at_a_time) {
  auto counter = sys::event_fd::create({.semaphore = true, .nonblocking = true});
  BOOST_TEST_REQUIRE(counter.has_value());
  BOOST_TEST_REQUIRE(counter->write(2).has_value());

  BOOST_TEST(counter->read().value() == 1U);
  BOOST_TEST(counter->read().value() == 1U);
  BOOST_TEST(error_of(counter->read()) == os_error(EAGAIN));  // both units taken
}

BOOST_AUTO_TEST_CASE(initial_value_is_readable) {
  auto counter = sys::event_fd::create({.initial = 7, .nonblocking = true});
  BOOST_TEST_REQUIRE(counter.has_value());
  BOOST_TEST(counter->read().value() == 7U);
}

BOOST_AUTO_TEST_CASE(initial_value_of_two_to_the_32_minus_one_is_accepted) {
  auto counter = sys::event_fd::create({.initial = max_initial, .nonblocking = true});
  BOOST_TEST_REQUIRE(counter.has_value(), vmm::testing::describe(counter));
  BOOST_TEST(counter->read().value() == max_initial);
}

BOOST_AUTO_TEST_CASE(initial_value_above_two_to_the_32_minus_one_returns_einval) {
  BOOST_TEST(error_of(sys::event_fd::create({.initial = max_initial + 1})) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(write_of_two_to_the_64_minus_one_returns_einval) {
  auto counter = sys::event_fd::create(nonblocking());
  BOOST_TEST_REQUIRE(counter.has_value());
  BOOST_TEST(error_of(counter->write(invalid_increment)) == os_error(EINVAL));
  BOOST_TEST(error_of(counter->read()) == os_error(EAGAIN));  // nothing was added
}

BOOST_AUTO_TEST_CASE(counter_holds_up_to_two_to_the_64_minus_two) {
  auto counter = sys::event_fd::create(nonblocking());
  BOOST_TEST_REQUIRE(counter.has_value());
  BOOST_TEST_REQUIRE(counter->write(max_counter).has_value());
  BOOST_TEST(counter->read().value() == max_counter);
}

BOOST_AUTO_TEST_CASE(read_of_zero_counter_nonblocking_returns_eagain) {
  auto counter = sys::event_fd::create(nonblocking());
  BOOST_TEST_REQUIRE(counter.has_value());
  BOOST_TEST(error_of(counter->read()) == os_error(EAGAIN));
}

BOOST_AUTO_TEST_CASE(overflowing_write_nonblocking_returns_eagain_and_keeps_the_counter) {
  auto counter = sys::event_fd::create(nonblocking());
  BOOST_TEST_REQUIRE(counter.has_value());
  BOOST_TEST_REQUIRE(counter->write(max_counter).has_value());

  BOOST_TEST(error_of(counter->write(1)) == os_error(EAGAIN));
  BOOST_TEST(counter->read().value() == max_counter);
}

BOOST_AUTO_TEST_CASE(clone_shares_the_counter_through_a_second_descriptor) {
  auto counter = sys::event_fd::create(nonblocking());
  BOOST_TEST_REQUIRE(counter.has_value());
  auto clone = counter->try_clone();
  BOOST_TEST_REQUIRE(clone.has_value(), vmm::testing::describe(clone));
  BOOST_TEST(clone->fd().get() != counter->fd().get());

  BOOST_TEST_REQUIRE(clone->write(4).has_value());
  BOOST_TEST(counter->read().value() == 4U);
  BOOST_TEST(error_of(clone->read()) == os_error(EAGAIN));  // the original drained the shared counter
}

BOOST_AUTO_TEST_CASE(clone_outlives_the_original) {
  std::optional<sys::event_fd> clone;
  {
    auto counter = sys::event_fd::create(nonblocking());
    BOOST_TEST_REQUIRE(counter.has_value());
    clone = counter->try_clone().value();
    BOOST_TEST_REQUIRE(counter->write(3).has_value());
  }  // the original closes here

  BOOST_TEST(clone->read().value() == 3U);
}

BOOST_AUTO_TEST_CASE(descriptor_and_clone_are_close_on_exec) {
  auto counter = sys::event_fd::create();
  BOOST_TEST_REQUIRE(counter.has_value());
  auto clone = counter->try_clone();
  BOOST_TEST_REQUIRE(clone.has_value());
  BOOST_TEST((::fcntl(counter->fd().get(), F_GETFD) & FD_CLOEXEC) != 0);
  BOOST_TEST((::fcntl(clone->fd().get(), F_GETFD) & FD_CLOEXEC) != 0);
}

BOOST_AUTO_TEST_CASE(nonblocking_option_sets_o_nonblock) {
  auto blocking = sys::event_fd::create();
  auto non_blocking = sys::event_fd::create(nonblocking());
  BOOST_TEST_REQUIRE((blocking.has_value() && non_blocking.has_value()));
  BOOST_TEST(sys::is_nonblocking(blocking->fd()).value() == false);
  BOOST_TEST(sys::is_nonblocking(non_blocking->fd()).value() == true);
}

BOOST_AUTO_TEST_CASE(operations_on_a_moved_from_event_fd_return_ebadf) {
  auto counter = sys::event_fd::create(nonblocking());
  BOOST_TEST_REQUIRE(counter.has_value());
  const sys::event_fd moved = std::move(*counter);
  BOOST_TEST(moved.fd().valid());

  // NOLINTBEGIN(bugprone-use-after-move): checking the moved-from state
  BOOST_TEST(!counter->fd().valid());
  BOOST_TEST(error_of(counter->read()) == os_error(EBADF));
  BOOST_TEST(error_of(counter->write(1)) == os_error(EBADF));
  BOOST_TEST(error_of(counter->try_clone()) == os_error(EBADF));
  // NOLINTEND(bugprone-use-after-move)
}

BOOST_AUTO_TEST_CASE(into_fd_hands_over_the_descriptor_with_its_counter) {
  auto counter = sys::event_fd::create({.initial = 9, .nonblocking = true});
  BOOST_TEST_REQUIRE(counter.has_value());
  const int raw = counter->fd().get();

  const sys::unique_fd owner = std::move(*counter).into_fd();
  BOOST_TEST(owner.get() == raw);
  BOOST_TEST(!counter->fd().valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  std::uint64_t value = 0;
  BOOST_TEST(sys::read(owner, std::as_writable_bytes(std::span{&value, 1})).value() == sizeof value);
  BOOST_TEST(value == 9U);
}

BOOST_AUTO_TEST_CASE(blocking_read_is_woken_by_a_write_from_another_thread) {
  const int kick = sys::default_kick_signal();
  BOOST_TEST_REQUIRE(sys::install_kick_handler(kick).has_value());  // only to free a reader the write did not wake
  auto counter = sys::event_fd::create();
  BOOST_TEST_REQUIRE(counter.has_value());
  std::atomic<bool> returned{false};
  vmm::result<std::uint64_t> got{0U};
  std::thread reader{[&] {
    got = counter->read();
    returned.store(true);
  }};

  std::this_thread::sleep_for(let_reader_block);
  BOOST_TEST(counter->write(5).has_value());  // not REQUIRE: the reader must still be joined
  const bool woke = wait_until_returned(returned);
  static_cast<void>(
      kick_until_returned(reader, kick, returned));  // frees a reader that is still blocked, so join() cannot hang
  reader.join();

  BOOST_TEST_REQUIRE(woke, "the write did not wake the blocked reader within " << patience);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST(*got == 5U);
}

BOOST_AUTO_TEST_CASE(blocking_read_interrupted_by_the_kick_signal_returns_eintr) {
  const int kick = sys::default_kick_signal();
  BOOST_TEST_REQUIRE(sys::install_kick_handler(kick).has_value());
  auto counter = sys::event_fd::create();
  BOOST_TEST_REQUIRE(counter.has_value());
  std::atomic<bool> returned{false};
  vmm::result<std::uint64_t> got{0U};
  std::thread reader{[&] {
    got = counter->read();
    returned.store(true);
  }};

  const bool interrupted = kick_until_returned(reader, kick, returned);
  static_cast<void>(counter->write(1));  // frees the reader if the kick did not, so join() cannot hang
  reader.join();

  BOOST_TEST_REQUIRE(interrupted, "the kicked reader did not return within " << patience);
  BOOST_TEST(error_of(got) == os_error(EINTR));
}

BOOST_AUTO_TEST_SUITE_END()
