// epoll: registration (add, modify, remove) and its errors, what wait() reports in level-triggered, edge-triggered
// and one-shot modes, timeouts, interruption by the kick signal, wake-ups across threads, and the event_set bits.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <fcntl.h>
#include <sys/epoll.h>

import std;
import vmm.sys;
import vmm.testing;

using vmm::testing::os_error;
namespace sys = vmm::sys;
using vmm::testing::bytes;
using vmm::testing::error_of;
using vmm::testing::kick_until_returned;
using namespace std::chrono_literals;

namespace {

// Caller data that uses all 64 bits, so a truncated or mangled value cannot pass for it.
constexpr std::uint64_t wide_data = 0xfeed'face'cafe'beefULL;

// How long a test waits for readiness or for another thread before it gives up and fails: generous, the machine is
// slow and noisy. Waits that are expected to succeed return as soon as the event arrives.
constexpr auto patience = std::chrono::milliseconds{5000};
// How long the main thread lets a waiter get into its blocking wait before waking it (not needed for correctness).
constexpr auto let_waiter_block = std::chrono::milliseconds{20};

}  // namespace

BOOST_AUTO_TEST_SUITE(sys_epoll)

// --- event_set ------------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(event_set_flags_are_the_kernel_epoll_bits) {
  BOOST_TEST(std::to_underlying(sys::event_set::none) == 0U);
  BOOST_TEST(std::to_underlying(sys::event_set::readable) == EPOLLIN);
  BOOST_TEST(std::to_underlying(sys::event_set::writable) == EPOLLOUT);
  BOOST_TEST(std::to_underlying(sys::event_set::priority) == EPOLLPRI);
  BOOST_TEST(std::to_underlying(sys::event_set::error) == EPOLLERR);
  BOOST_TEST(std::to_underlying(sys::event_set::hang_up) == EPOLLHUP);
  BOOST_TEST(std::to_underlying(sys::event_set::read_hang_up) == EPOLLRDHUP);
  BOOST_TEST(std::to_underlying(sys::event_set::edge_triggered) == EPOLLET);
  BOOST_TEST(std::to_underlying(sys::event_set::one_shot) == EPOLLONESHOT);
  BOOST_TEST(std::to_underlying(sys::event_set::exclusive) == EPOLLEXCLUSIVE);
}

BOOST_AUTO_TEST_CASE(or_combines_flags_and_and_keeps_the_common_ones) {
  const auto both = sys::event_set::readable | sys::event_set::writable;
  BOOST_TEST(std::to_underlying(both) == (EPOLLIN | EPOLLOUT));
  BOOST_TEST(((both & sys::event_set::readable) == sys::event_set::readable));
  BOOST_TEST(((both & sys::event_set::hang_up) == sys::event_set::none));
}

BOOST_AUTO_TEST_CASE(complement_clears_exactly_the_given_flags) {
  const auto both = sys::event_set::readable | sys::event_set::writable;
  BOOST_TEST(((both & ~sys::event_set::readable) == sys::event_set::writable));
  BOOST_TEST(((~sys::event_set::none & both) == both));
}

BOOST_AUTO_TEST_CASE(or_assign_adds_flags_and_returns_the_result) {
  auto set = sys::event_set::readable;
  const auto returned = (set |= sys::event_set::edge_triggered);
  BOOST_TEST((set == (sys::event_set::readable | sys::event_set::edge_triggered)));
  BOOST_TEST((returned == set));
}

BOOST_AUTO_TEST_CASE(contains_requires_every_flag) {
  const auto both = sys::event_set::readable | sys::event_set::writable;
  BOOST_TEST(sys::contains(both, sys::event_set::readable));
  BOOST_TEST(sys::contains(both, both));
  BOOST_TEST(!sys::contains(sys::event_set::readable, both));
  BOOST_TEST(!sys::contains(both, sys::event_set::hang_up));
  BOOST_TEST(sys::contains(sys::event_set::none, sys::event_set::none));  // the empty set is in every set
}

// --- creation and registration ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(epoll_descriptor_is_close_on_exec) {
  auto ep = sys::epoll::create();
  BOOST_TEST_REQUIRE(ep.has_value(), vmm::testing::describe(ep));
  BOOST_TEST((::fcntl(ep->fd().get(), F_GETFD) & FD_CLOEXEC) != 0);
}

BOOST_AUTO_TEST_CASE(wait_returns_the_data_given_at_registration) {
  auto ep = sys::epoll::create();
  auto doorbell = sys::event_fd::create();
  BOOST_TEST_REQUIRE((ep.has_value() && doorbell.has_value()));
  BOOST_TEST_REQUIRE(ep->add(doorbell->fd(), sys::event_set::readable, wide_data).has_value());
  BOOST_TEST_REQUIRE(doorbell->write().has_value());

  std::array<sys::ready_event, 4> out{};
  BOOST_TEST(ep->wait(out, patience).value() == 1U);
  BOOST_TEST(out[0].data() == wide_data);
  BOOST_TEST((out[0].events() == sys::event_set::readable));
}

BOOST_AUTO_TEST_CASE(wait_reports_only_the_conditions_that_hold) {
  auto ep = sys::epoll::create();
  auto doorbell = sys::event_fd::create();  // counter zero: writable, not readable
  BOOST_TEST_REQUIRE((ep.has_value() && doorbell.has_value()));
  BOOST_TEST_REQUIRE(ep->add(doorbell->fd(), sys::event_set::readable | sys::event_set::writable, 0).has_value());

  std::array<sys::ready_event, 1> out{};
  BOOST_TEST_REQUIRE(ep->wait(out, patience).value() == 1U);
  BOOST_TEST((out[0].events() == sys::event_set::writable));
  BOOST_TEST_REQUIRE(doorbell->write().has_value());
  BOOST_TEST_REQUIRE(ep->wait(out, patience).value() == 1U);
  BOOST_TEST((out[0].events() == (sys::event_set::readable | sys::event_set::writable)));
}

BOOST_AUTO_TEST_CASE(wait_reports_every_ready_descriptor_with_its_own_data) {
  auto ep = sys::epoll::create();
  auto first = sys::event_fd::create({.initial = 1});
  auto second = sys::event_fd::create({.initial = 1});
  BOOST_TEST_REQUIRE((ep.has_value() && first.has_value() && second.has_value()));
  BOOST_TEST_REQUIRE(ep->add(first->fd(), sys::event_set::readable, 1).has_value());
  BOOST_TEST_REQUIRE(ep->add(second->fd(), sys::event_set::readable, 2).has_value());

  std::array<sys::ready_event, 4> out{};
  BOOST_TEST_REQUIRE(ep->wait(out, patience).value() == 2U);
  // The kernel does not promise an order.
  const std::set<std::uint64_t> reported{out[0].data(), out[1].data()};
  BOOST_TEST((reported == std::set<std::uint64_t>{1, 2}));
}

BOOST_AUTO_TEST_CASE(wait_fills_no_more_entries_than_the_span_holds) {
  auto ep = sys::epoll::create();
  auto first = sys::event_fd::create({.initial = 1});
  auto second = sys::event_fd::create({.initial = 1});
  BOOST_TEST_REQUIRE((ep.has_value() && first.has_value() && second.has_value()));
  BOOST_TEST_REQUIRE(ep->add(first->fd(), sys::event_set::readable, 1).has_value());
  BOOST_TEST_REQUIRE(ep->add(second->fd(), sys::event_set::readable, 2).has_value());

  std::array<sys::ready_event, 2> out{};
  BOOST_TEST(ep->wait(std::span{out}.first(1), patience).value() == 1U);
  BOOST_TEST(out[0].data() != 0U);
  BOOST_TEST(out[1].data() == 0U);  // past the span: untouched
}

BOOST_AUTO_TEST_CASE(modify_changes_the_data_and_events) {
  auto ep = sys::epoll::create();
  auto doorbell = sys::event_fd::create({.initial = 1});  // readable and writable
  BOOST_TEST_REQUIRE((ep.has_value() && doorbell.has_value()));
  BOOST_TEST_REQUIRE(ep->add(doorbell->fd(), sys::event_set::writable, 1).has_value());

  BOOST_TEST_REQUIRE(ep->modify(doorbell->fd(), sys::event_set::readable, 2).has_value());
  std::array<sys::ready_event, 1> out{};
  BOOST_TEST_REQUIRE(ep->wait(out, patience).value() == 1U);
  BOOST_TEST(out[0].data() == 2U);
  BOOST_TEST((out[0].events() == sys::event_set::readable));
}

BOOST_AUTO_TEST_CASE(removed_descriptor_is_no_longer_reported) {
  auto ep = sys::epoll::create();
  auto doorbell = sys::event_fd::create({.initial = 1});
  BOOST_TEST_REQUIRE((ep.has_value() && doorbell.has_value()));
  BOOST_TEST_REQUIRE(ep->add(doorbell->fd(), sys::event_set::readable, 0).has_value());

  BOOST_TEST_REQUIRE(ep->remove(doorbell->fd()).has_value());
  std::array<sys::ready_event, 1> out{};
  BOOST_TEST(ep->wait(out, 0ms).value() == 0U);
}

BOOST_AUTO_TEST_CASE(add_of_a_registered_descriptor_returns_eexist) {
  auto ep = sys::epoll::create();
  auto doorbell = sys::event_fd::create();
  BOOST_TEST_REQUIRE((ep.has_value() && doorbell.has_value()));
  BOOST_TEST_REQUIRE(ep->add(doorbell->fd(), sys::event_set::readable, 0).has_value());
  BOOST_TEST(error_of(ep->add(doorbell->fd(), sys::event_set::readable, 0)) == os_error(EEXIST));
}

BOOST_AUTO_TEST_CASE(modify_of_an_unregistered_descriptor_returns_enoent) {
  auto ep = sys::epoll::create();
  auto doorbell = sys::event_fd::create();
  BOOST_TEST_REQUIRE((ep.has_value() && doorbell.has_value()));
  BOOST_TEST(error_of(ep->modify(doorbell->fd(), sys::event_set::readable, 0)) == os_error(ENOENT));
}

BOOST_AUTO_TEST_CASE(remove_of_an_unregistered_descriptor_returns_enoent) {
  auto ep = sys::epoll::create();
  auto doorbell = sys::event_fd::create();
  BOOST_TEST_REQUIRE((ep.has_value() && doorbell.has_value()));
  BOOST_TEST(error_of(ep->remove(doorbell->fd())) == os_error(ENOENT));
}

BOOST_AUTO_TEST_CASE(add_of_a_closed_descriptor_returns_ebadf) {
  auto ep = sys::epoll::create();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((ep.has_value() && pipe.has_value()));
  const sys::borrowed_fd closed{pipe->first.get()};
  pipe->first.reset();
  BOOST_TEST(error_of(ep->add(closed, sys::event_set::readable, 0)) == os_error(EBADF));
}

BOOST_AUTO_TEST_CASE(remove_of_a_closed_descriptor_returns_ebadf) {
  auto ep = sys::epoll::create();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((ep.has_value() && pipe.has_value()));
  BOOST_TEST_REQUIRE(ep->add(pipe->first, sys::event_set::readable, 0).has_value());
  const sys::borrowed_fd closed{pipe->first.get()};
  pipe->first.reset();
  BOOST_TEST(error_of(ep->remove(closed)) == os_error(EBADF));
}

BOOST_AUTO_TEST_CASE(add_of_a_regular_file_returns_eperm) {
  auto ep = sys::epoll::create();
  auto file = sys::temp_file::create();
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  BOOST_TEST(error_of(ep->add(file->fd(), sys::event_set::readable, 0)) == os_error(EPERM));
}

BOOST_AUTO_TEST_CASE(add_of_the_epoll_descriptor_itself_returns_einval) {
  auto ep = sys::epoll::create();
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(error_of(ep->add(ep->fd(), sys::event_set::readable, 0)) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(add_of_exclusive_with_one_shot_returns_einval) {
  auto ep = sys::epoll::create();
  auto doorbell = sys::event_fd::create();
  BOOST_TEST_REQUIRE((ep.has_value() && doorbell.has_value()));
  const auto invalid = sys::event_set::readable | sys::event_set::exclusive | sys::event_set::one_shot;
  BOOST_TEST(error_of(ep->add(doorbell->fd(), invalid, 0)) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(modify_with_exclusive_returns_einval) {
  auto ep = sys::epoll::create();
  auto doorbell = sys::event_fd::create();
  BOOST_TEST_REQUIRE((ep.has_value() && doorbell.has_value()));
  BOOST_TEST_REQUIRE(ep->add(doorbell->fd(), sys::event_set::readable, 0).has_value());
  const auto add_only = sys::event_set::readable | sys::event_set::exclusive;
  BOOST_TEST(error_of(ep->modify(doorbell->fd(), add_only, 0)) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(add_that_closes_a_cycle_of_epoll_instances_returns_eloop) {
  auto outer = sys::epoll::create();
  auto inner = sys::epoll::create();
  BOOST_TEST_REQUIRE((outer.has_value() && inner.has_value()));
  BOOST_TEST_REQUIRE(outer->add(inner->fd(), sys::event_set::readable, 0).has_value());
  BOOST_TEST(error_of(inner->add(outer->fd(), sys::event_set::readable, 0)) == os_error(ELOOP));
}

// --- triggering modes -----------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(level_triggered_reports_again_while_data_is_unread) {
  auto ep = sys::epoll::create();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((ep.has_value() && pipe.has_value()));
  BOOST_TEST_REQUIRE(ep->add(pipe->first, sys::event_set::readable, 0).has_value());
  BOOST_TEST_REQUIRE(sys::write(pipe->second, bytes("x")).has_value());

  std::array<sys::ready_event, 1> out{};
  BOOST_TEST(ep->wait(out, patience).value() == 1U);
  BOOST_TEST(ep->wait(out, 0ms).value() == 1U);  // nothing read: still reported
  std::array<std::byte, 1> drained{};
  BOOST_TEST_REQUIRE(sys::read(pipe->first, drained).has_value());
  BOOST_TEST(ep->wait(out, 0ms).value() == 0U);
}

BOOST_AUTO_TEST_CASE(edge_triggered_reports_once_until_new_data_arrives) {
  auto ep = sys::epoll::create();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((ep.has_value() && pipe.has_value()));
  const auto edge = sys::event_set::readable | sys::event_set::edge_triggered;
  BOOST_TEST_REQUIRE(ep->add(pipe->first, edge, 0).has_value());
  BOOST_TEST_REQUIRE(sys::write(pipe->second, bytes("x")).has_value());

  std::array<sys::ready_event, 1> out{};
  BOOST_TEST(ep->wait(out, patience).value() == 1U);
  BOOST_TEST(ep->wait(out, 0ms).value() == 0U);  // still readable, but no new edge
  BOOST_TEST_REQUIRE(sys::write(pipe->second, bytes("y")).has_value());
  BOOST_TEST(ep->wait(out, patience).value() == 1U);
}

BOOST_AUTO_TEST_CASE(one_shot_reports_once_until_modify_rearms_it) {
  auto ep = sys::epoll::create();
  auto doorbell = sys::event_fd::create({.initial = 1});
  BOOST_TEST_REQUIRE((ep.has_value() && doorbell.has_value()));
  const auto once = sys::event_set::readable | sys::event_set::one_shot;
  BOOST_TEST_REQUIRE(ep->add(doorbell->fd(), once, 1).has_value());

  std::array<sys::ready_event, 1> out{};
  BOOST_TEST(ep->wait(out, patience).value() == 1U);
  BOOST_TEST(ep->wait(out, 0ms).value() == 0U);  // disabled, although still readable
  BOOST_TEST_REQUIRE(ep->modify(doorbell->fd(), once, 2).has_value());
  BOOST_TEST(ep->wait(out, patience).value() == 1U);
  BOOST_TEST(out[0].data() == 2U);
}

BOOST_AUTO_TEST_CASE(hang_up_is_reported_when_the_write_end_of_a_pipe_closes) {
  auto ep = sys::epoll::create();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((ep.has_value() && pipe.has_value()));
  BOOST_TEST_REQUIRE(ep->add(pipe->first, sys::event_set::readable, 0).has_value());
  std::array<sys::ready_event, 1> out{};
  BOOST_TEST_REQUIRE(ep->wait(out, 0ms).value() == 0U);  // nothing yet

  pipe->second.reset();
  BOOST_TEST_REQUIRE(ep->wait(out, patience).value() == 1U);
  BOOST_TEST(sys::contains(out[0].events(), sys::event_set::hang_up));
}

// --- waiting --------------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(wait_with_zero_timeout_returns_zero_when_nothing_is_ready) {
  auto ep = sys::epoll::create();
  auto doorbell = sys::event_fd::create();
  BOOST_TEST_REQUIRE((ep.has_value() && doorbell.has_value()));
  BOOST_TEST_REQUIRE(ep->add(doorbell->fd(), sys::event_set::readable, 0).has_value());
  std::array<sys::ready_event, 1> out{};
  BOOST_TEST(ep->wait(out, 0ms).value() == 0U);
}

BOOST_AUTO_TEST_CASE(wait_with_a_short_timeout_returns_zero_after_the_timeout) {
  constexpr auto timeout = 10ms;
  auto ep = sys::epoll::create();
  BOOST_TEST_REQUIRE(ep.has_value());
  std::array<sys::ready_event, 1> out{};
  const auto start = std::chrono::steady_clock::now();

  const auto got = ep->wait(out, timeout);

  const auto waited = std::chrono::steady_clock::now() - start;
  BOOST_TEST(got.value() == 0U);
  BOOST_TEST((waited >= timeout));  // a lower bound only: the machine may be slow
}

BOOST_AUTO_TEST_CASE(wait_with_a_negative_timeout_returns_invalid_duration) {
  auto ep = sys::epoll::create();
  BOOST_TEST_REQUIRE(ep.has_value());
  std::array<sys::ready_event, 1> out{};
  BOOST_TEST(error_of(ep->wait(out, -1ms)) == std::error_code{sys::errc::invalid_duration});
}

BOOST_AUTO_TEST_CASE(wait_into_an_empty_span_returns_einval) {
  auto ep = sys::epoll::create();
  BOOST_TEST_REQUIRE(ep.has_value());
  const std::span<sys::ready_event> none{};
  BOOST_TEST(error_of(ep->wait(none)) == os_error(EINVAL));
  BOOST_TEST(error_of(ep->wait(none, 0ms)) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(wait_on_another_thread_sees_a_write_from_this_thread) {
  auto ep = sys::epoll::create();
  auto doorbell = sys::event_fd::create();
  BOOST_TEST_REQUIRE((ep.has_value() && doorbell.has_value()));
  BOOST_TEST_REQUIRE(ep->add(doorbell->fd(), sys::event_set::readable, wide_data).has_value());
  std::array<sys::ready_event, 1> out{};
  vmm::result<std::size_t> got{0U};
  // Bounded: returns 0 if never woken, so join() cannot hang.
  std::thread waiter{[&] {
    got = ep->wait(out, patience);
  }};

  std::this_thread::sleep_for(let_waiter_block);
  BOOST_TEST(doorbell->write().has_value());  // not REQUIRE: the waiter must still be joined
  waiter.join();

  BOOST_TEST(got.value() == 1U);
  BOOST_TEST(out[0].data() == wide_data);
}

BOOST_AUTO_TEST_CASE(blocking_wait_interrupted_by_the_kick_signal_returns_eintr) {
  const int kick = sys::default_kick_signal();
  BOOST_TEST_REQUIRE(sys::install_kick_handler(kick).has_value());
  auto ep = sys::epoll::create();
  auto release = sys::event_fd::create();
  BOOST_TEST_REQUIRE((ep.has_value() && release.has_value()));
  BOOST_TEST_REQUIRE(ep->add(release->fd(), sys::event_set::readable, 0).has_value());
  std::array<sys::ready_event, 1> out{};
  std::atomic<bool> returned{false};
  vmm::result<std::size_t> got{0U};
  std::thread waiter{[&] {
    got = ep->wait(out);
    returned.store(true);
  }};

  const bool interrupted = kick_until_returned(waiter, kick, returned);
  static_cast<void>(release->write());  // frees the waiter if the kick did not, so join() cannot hang
  waiter.join();

  BOOST_TEST_REQUIRE(interrupted, "the kicked waiter did not return within " << patience);
  BOOST_TEST(error_of(got) == os_error(EINTR));
}

BOOST_AUTO_TEST_SUITE_END()
