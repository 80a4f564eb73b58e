// Bad input across vmm.sys: each call fails with the exact documented error, leaks no descriptor (counted before and
// after), and leaves the objects and files it was given as they were.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <csignal>
#include <pthread.h>

import std;
import vmm.sys;
import vmm.testing;

using vmm::testing::open_fd_count;
using vmm::testing::os_error;
namespace sys = vmm::sys;
using vmm::testing::bytes;
using vmm::testing::error_of;
namespace fs = std::filesystem;

namespace {

auto entries_in(const fs::path& dir) -> std::size_t {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator{dir}, fs::directory_iterator{}));
}

auto make_scratch_dir() -> sys::temp_dir {
  auto dir = sys::temp_dir::create("negative-");
  BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
  return std::move(*dir);
}

// The largest initial value an eventfd accepts (the kernel takes an unsigned int).
constexpr std::uint64_t max_event_fd_initial = std::numeric_limits<std::uint32_t>::max();

}  // namespace

BOOST_AUTO_TEST_SUITE(sys_negative)

// --- temp files and directories ---

BOOST_AUTO_TEST_CASE(invalid_file_prefix_creates_nothing_and_opens_nothing) {
  const auto dir = make_scratch_dir();
  const auto before = open_fd_count();
  const auto file = sys::temp_file::create("a/b", dir.path());
  BOOST_TEST(error_of(file) == make_error_code(sys::errc::invalid_name));
  BOOST_TEST(open_fd_count() == before);
  BOOST_TEST(entries_in(dir.path()) == 0U);
}

BOOST_AUTO_TEST_CASE(invalid_directory_prefix_creates_nothing) {
  const auto dir = make_scratch_dir();
  constexpr std::string_view with_nul{"x\0y", 3};
  const auto nested = sys::temp_dir::create(with_nul, dir.path());
  BOOST_TEST(error_of(nested) == make_error_code(sys::errc::invalid_name));
  BOOST_TEST(entries_in(dir.path()) == 0U);
}

BOOST_AUTO_TEST_CASE(temp_file_in_a_missing_directory_opens_nothing) {
  const auto dir = make_scratch_dir();
  const auto before = open_fd_count();
  const auto file = sys::temp_file::create("x-", dir.path() / "missing");
  BOOST_TEST(error_of(file) == os_error(ENOENT));
  BOOST_TEST(open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(temp_file_removed_by_someone_else_is_destroyed_quietly) {
  const auto before = open_fd_count();
  {
    const auto file = sys::temp_file::create();
    BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
    fs::remove(file->path());
  }
  BOOST_TEST(open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(temp_dir_removed_by_someone_else_is_destroyed_quietly) {
  fs::path path;
  {
    const auto dir = sys::temp_dir::create();
    BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
    path = dir->path();
    fs::remove(path);
  }
  BOOST_TEST(!fs::exists(path));
}

// --- sockets ---

BOOST_AUTO_TEST_CASE(too_many_fds_sends_nothing) {
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  BOOST_TEST_REQUIRE(sys::set_nonblocking(pair->second, true).has_value());
  const std::vector<sys::borrowed_fd> fds(sys::max_fds_per_message + 1, pipe->second.borrow());
  BOOST_TEST(error_of(sys::send_with_fds(pair->first, bytes("x"), fds)) == make_error_code(sys::errc::too_many_fds));
  std::array<std::byte, 4> buffer{};
  BOOST_TEST(error_of(sys::recv_with_fds(pair->second, buffer, 1)) == os_error(EAGAIN));
}

BOOST_AUTO_TEST_CASE(empty_message_with_fds_sends_nothing) {
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  BOOST_TEST_REQUIRE(sys::set_nonblocking(pair->second, true).has_value());
  const std::array<sys::borrowed_fd, 1> fds{pipe->second};
  BOOST_TEST(error_of(sys::send_with_fds(pair->first, {}, fds)) == make_error_code(sys::errc::empty_message));
  std::array<std::byte, 4> buffer{};
  BOOST_TEST(error_of(sys::recv_with_fds(pair->second, buffer, 1)) == os_error(EAGAIN));
}

BOOST_AUTO_TEST_CASE(closed_fd_among_the_fds_sends_nothing) {
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  BOOST_TEST_REQUIRE(sys::set_nonblocking(pair->second, true).has_value());
  const std::array<sys::borrowed_fd, 2> fds{pipe->second, sys::borrowed_fd{-1}};
  BOOST_TEST(error_of(sys::send_with_fds(pair->first, bytes("x"), fds)) == os_error(EBADF));
  std::array<std::byte, 4> buffer{};
  BOOST_TEST(error_of(sys::recv_with_fds(pair->second, buffer, 2)) == os_error(EAGAIN));
}

BOOST_AUTO_TEST_CASE(rejected_max_fds_leaves_the_message_queued) {
  auto pair = sys::socket_pair();
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("kept")).has_value());
  std::array<std::byte, 8> buffer{};
  const auto rejected = sys::recv_with_fds(pair->second, buffer, sys::max_fds_per_message + 1);
  BOOST_TEST(error_of(rejected) == make_error_code(sys::errc::too_many_fds));
  const auto got = sys::recv_with_fds(pair->second, buffer);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST(got->bytes == 4U);
}

BOOST_AUTO_TEST_CASE(truncated_packet_with_fds_closes_every_received_fd) {
  auto pair = sys::socket_pair(sys::socket_kind::seqpacket);
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::array<sys::borrowed_fd, 2> fds{pipe->first, pipe->second};
  const auto before = open_fd_count();
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("longer than four"), fds).has_value());
  std::array<std::byte, 4> small{};
  const auto got = sys::recv_with_fds(pair->second, small, 2);
  BOOST_TEST(error_of(got) == make_error_code(sys::errc::message_truncated));
  BOOST_TEST(open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(truncated_fds_leave_the_sender_descriptors_usable) {
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::array<sys::borrowed_fd, 3> fds{pipe->second, pipe->second, pipe->second};
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("x"), fds).has_value());
  std::array<std::byte, 4> buffer{};
  BOOST_TEST_REQUIRE(!sys::recv_with_fds(pair->second, buffer, 1).has_value());
  // Closing the received duplicates must not have closed the sender's own write end.
  BOOST_TEST(sys::write(pipe->second, bytes("y")).value() == 1U);
}

BOOST_AUTO_TEST_CASE(failed_bind_closes_its_socket) {
  const auto dir = make_scratch_dir();
  const auto path = dir.path() / "taken.sock";
  const auto first = sys::unix_listener::bind(path);
  BOOST_TEST_REQUIRE(first.has_value(), vmm::testing::describe(first));
  const auto before = open_fd_count();
  BOOST_TEST(error_of(sys::unix_listener::bind(path)) == os_error(EADDRINUSE));
  BOOST_TEST(open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(failed_connect_closes_its_socket) {
  const auto dir = make_scratch_dir();
  const auto plain = dir.path() / "plain.txt";
  std::ofstream{plain} << "not a socket";
  const auto before = open_fd_count();
  BOOST_TEST(error_of(sys::unix_connect(dir.path() / "missing.sock")) == os_error(ENOENT));
  BOOST_TEST(error_of(sys::unix_connect(plain)) == os_error(ECONNREFUSED));
  BOOST_TEST(open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(too_long_path_opens_nothing_and_creates_nothing) {
  const auto dir = make_scratch_dir();
  const auto path = dir.path() / std::string(200, 'n');
  const auto before = open_fd_count();
  BOOST_TEST(error_of(sys::unix_listener::bind(path)) == make_error_code(sys::errc::path_too_long));
  BOOST_TEST(error_of(sys::unix_connect(path)) == make_error_code(sys::errc::path_too_long));
  BOOST_TEST(open_fd_count() == before);
  BOOST_TEST(entries_in(dir.path()) == 0U);
}

// --- terminal ---

BOOST_AUTO_TEST_CASE(raw_mode_on_a_non_terminal_opens_nothing) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value(), vmm::testing::describe(pipe));
  const auto before = open_fd_count();
  BOOST_TEST(error_of(sys::raw_terminal::enable(pipe->second)) == os_error(ENOTTY));
  BOOST_TEST(open_fd_count() == before);
}

// --- ioctl ---

BOOST_AUTO_TEST_CASE(ioctl_on_a_non_device_leaves_the_argument_untouched) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value(), vmm::testing::describe(pipe));
  constexpr unsigned long not_a_pipe_request = sys::ior<std::uint64_t>(0xAE, 0x99);  // a KVM-type request
  constexpr std::uint64_t marker = 0x5a5a'5a5a'5a5a'5a5aULL;
  std::uint64_t argument = marker;
  BOOST_TEST(error_of(sys::ioctl_with_mut_ref(pipe->first, not_a_pipe_request, argument)) == os_error(ENOTTY));
  BOOST_TEST(argument == marker);
}

// --- fds, eventfd, timerfd, epoll, signals ---

BOOST_AUTO_TEST_CASE(duplicating_an_empty_fd_returns_ebadf_and_opens_nothing) {
  const sys::unique_fd empty;
  const auto before = open_fd_count();
  BOOST_TEST(error_of(empty.duplicate()) == os_error(EBADF));
  BOOST_TEST(open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(event_fd_initial_value_above_32_bits_returns_einval) {
  const auto before = open_fd_count();
  const auto event = sys::event_fd::create({.initial = max_event_fd_initial + 1});
  BOOST_TEST(error_of(event) == os_error(EINVAL));
  BOOST_TEST(open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(event_fd_write_of_all_ones_returns_einval_and_keeps_the_counter) {
  const auto event = sys::event_fd::create({.nonblocking = true});
  BOOST_TEST_REQUIRE(event.has_value(), vmm::testing::describe(event));
  BOOST_TEST_REQUIRE(event->write(5).has_value());
  BOOST_TEST(error_of(event->write(std::numeric_limits<std::uint64_t>::max())) == os_error(EINVAL));
  BOOST_TEST(event->read().value() == 5U);
}

BOOST_AUTO_TEST_CASE(timer_rejects_non_positive_durations_and_stays_disarmed) {
  const auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value(), vmm::testing::describe(timer));
  const auto invalid = make_error_code(sys::errc::invalid_duration);
  BOOST_TEST(error_of(timer->arm_once(std::chrono::nanoseconds::zero())) == invalid);
  BOOST_TEST(error_of(timer->arm_once(std::chrono::nanoseconds{-1})) == invalid);
  BOOST_TEST(error_of(timer->arm_periodic(std::chrono::seconds{1}, std::chrono::nanoseconds::zero())) == invalid);
  BOOST_TEST(error_of(timer->arm_at(std::chrono::seconds{1}, std::chrono::nanoseconds{-1})) == invalid);
  BOOST_TEST(!timer->state().value().armed());
}

BOOST_AUTO_TEST_CASE(epoll_add_of_a_closed_fd_returns_ebadf) {
  const auto poller = sys::epoll::create();
  BOOST_TEST_REQUIRE(poller.has_value(), vmm::testing::describe(poller));
  BOOST_TEST(error_of(poller->add(sys::borrowed_fd{-1}, sys::event_set::readable, 0)) == os_error(EBADF));
}

BOOST_AUTO_TEST_CASE(epoll_remove_of_an_unregistered_fd_returns_enoent) {
  const auto poller = sys::epoll::create();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((poller.has_value() && pipe.has_value()));
  BOOST_TEST(error_of(poller->remove(pipe->first)) == os_error(ENOENT));
}

BOOST_AUTO_TEST_CASE(epoll_add_of_a_regular_file_returns_eperm) {
  const auto poller = sys::epoll::create();
  const auto file = sys::temp_file::create();
  BOOST_TEST_REQUIRE((poller.has_value() && file.has_value()));
  BOOST_TEST(error_of(poller->add(file->fd(), sys::event_set::readable, 0)) == os_error(EPERM));
}

BOOST_AUTO_TEST_CASE(epoll_wait_with_a_negative_timeout_is_an_invalid_duration) {
  const auto poller = sys::epoll::create();
  BOOST_TEST_REQUIRE(poller.has_value(), vmm::testing::describe(poller));
  std::array<sys::ready_event, 1> events{};
  const auto waited = poller->wait(events, std::chrono::milliseconds{-1});
  BOOST_TEST(error_of(waited) == make_error_code(sys::errc::invalid_duration));
}

BOOST_AUTO_TEST_CASE(signal_numbers_outside_the_real_time_range_are_invalid_signals) {
  const auto invalid = make_error_code(sys::errc::invalid_signal);
  BOOST_TEST(error_of(sys::realtime_signal(-1)) == invalid);
  BOOST_TEST(error_of(sys::realtime_signal(SIGRTMAX - SIGRTMIN + 1)) == invalid);
  BOOST_TEST(error_of(sys::install_kick_handler(SIGINT)) == invalid);
  BOOST_TEST(error_of(sys::kick_thread(::pthread_self(), SIGTERM)) == invalid);
}

BOOST_AUTO_TEST_CASE(signal_set_rejects_a_number_that_is_no_signal) {
  auto set = sys::signal_set::empty();
  constexpr int not_a_signal = 0;
  BOOST_TEST(error_of(set.add(not_a_signal)) == os_error(EINVAL));
  BOOST_TEST(error_of(sys::signal_set::of({SIGUSR1, not_a_signal})) == os_error(EINVAL));
  BOOST_TEST(!set.contains(not_a_signal));
}

BOOST_AUTO_TEST_SUITE_END()
