// One case per classic bug that vmm.sys is designed to prevent, named after the bug it rules out.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

import std;
import vmm.sys;
import vmm.testing;

using vmm::testing::open_fd_count;
using vmm::testing::os_error;
namespace sys = vmm::sys;
using vmm::testing::bytes;
using vmm::testing::error_of;
using vmm::testing::exited_with;
using vmm::testing::open_kvm;
using vmm::testing::open_pseudo_terminal;
using vmm::testing::pseudo_terminal;
using vmm::testing::wait_status_of_child;
namespace fs = std::filesystem;

namespace {

// Exit statuses of the forked children.
constexpr int child_ok = 0;
constexpr int child_failed = 1;

// sun_path holds 108 bytes, including the terminating NUL.
constexpr std::size_t sun_path_size = 108;

// The first value an eventfd cannot start from: 2^32 (the kernel takes an unsigned int).
constexpr std::uint64_t two_to_the_32 = std::uint64_t{1} << 32U;

auto make_scratch_dir() -> sys::temp_dir {
  auto dir = sys::temp_dir::create("regression-");
  BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
  return std::move(*dir);
}

auto vtime_of(sys::borrowed_fd tty) -> int {
  ::termios settings{};
  BOOST_TEST_REQUIRE(::tcgetattr(tty.get(), &settings) == 0);
  return settings.c_cc[VTIME];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sys_regression)

// --- SCM_RIGHTS descriptor leaks ---

BOOST_AUTO_TEST_CASE(received_descriptors_beyond_max_fds_are_closed_not_leaked) {
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::array<sys::borrowed_fd, 5> fds{pipe->second, pipe->second, pipe->second, pipe->second, pipe->second};
  const auto before = open_fd_count();
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("x"), fds).has_value());
  std::array<std::byte, 4> buffer{};
  const auto got = sys::recv_with_fds(pair->second, buffer, 2);
  BOOST_TEST(error_of(got) == make_error_code(sys::errc::fds_truncated));
  BOOST_TEST(open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(control_buffer_padding_does_not_let_one_descriptor_more_than_max_fds_through) {
  // CMSG_SPACE rounds the control buffer up to 8 bytes, which has room for two 4-byte descriptors when one is
  // allowed; the kernel fills that room without setting MSG_CTRUNC.
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::array<sys::borrowed_fd, 2> fds{pipe->second, pipe->second};
  const auto before = open_fd_count();
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("x"), fds).has_value());
  std::array<std::byte, 4> buffer{};
  auto got = sys::recv_with_fds(pair->second, buffer, 1);
  BOOST_TEST(!got.has_value(), "received " << (got.has_value() ? got->fds.size() : 0U) << " fds, allowed 1");
  BOOST_TEST((!got.has_value() && got.error() == make_error_code(sys::errc::fds_truncated)));
  got = vmm::result<sys::received_message>{};  // close whatever arrived before counting
  BOOST_TEST(open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(descriptors_arriving_with_a_truncated_datagram_are_closed) {
  auto pair = sys::socket_pair(sys::socket_kind::datagram);
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::array<sys::borrowed_fd, 1> fds{pipe->first};
  const auto before = open_fd_count();
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("too long for it"), fds).has_value());
  std::array<std::byte, 2> small{};
  const auto got = sys::recv_with_fds(pair->second, small, 1);
  BOOST_TEST(error_of(got) == make_error_code(sys::errc::message_truncated));
  BOOST_TEST(open_fd_count() == before);
}

// --- SIGPIPE ---

BOOST_AUTO_TEST_CASE(send_to_a_closed_peer_never_raises_sigpipe_even_at_its_default_disposition) {
  auto pair = sys::socket_pair();
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  pair->second.reset();
  const sys::borrowed_fd socket = pair->first;
  const int status = wait_status_of_child([socket] {
    static_cast<void>(std::signal(SIGPIPE, SIG_DFL));  // a raised SIGPIPE now kills the child
    const auto sent = sys::send_with_fds(socket, bytes("x"));
    ::_exit(!sent.has_value() && sent.error() == os_error(EPIPE) ? child_ok : child_failed);
  });
  BOOST_TEST(!WIFSIGNALED(status), "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  BOOST_TEST(exited_with(status, child_ok), "wait status " << status);
}

// --- memory safety at the system-call boundary ---

BOOST_AUTO_TEST_CASE(epoll_wait_with_an_empty_span_returns_einval_without_touching_memory) {
  const auto poller = sys::epoll::create();
  BOOST_TEST_REQUIRE(poller.has_value(), vmm::testing::describe(poller));
  const std::span<sys::ready_event> nothing{};  // data() is nullptr
  BOOST_TEST(error_of(poller->wait(nothing)) == os_error(EINVAL));
  BOOST_TEST(error_of(poller->wait(nothing, std::chrono::milliseconds{0})) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(ioctl_without_argument_passes_zero_so_kvm_does_not_reject_it) {
  // KVM fails KVM_GET_VCPU_MMAP_SIZE with EINVAL unless the (unused) argument is 0; a call that leaves the third
  // ioctl argument unset passes whatever the register happens to hold.
  const auto kvm = open_kvm();
  if (!kvm) {
    BOOST_TEST_MESSAGE("skipped: /dev/kvm cannot be opened here: " << vmm::testing::describe(kvm));
    return;
  }
  const auto size = sys::ioctl(*kvm, KVM_GET_VCPU_MMAP_SIZE);
  BOOST_TEST_REQUIRE(size.has_value(), vmm::testing::describe(size));
  BOOST_TEST(*size > 0);
}

// --- errno clobbering ---

BOOST_AUTO_TEST_CASE(unique_fd_destructor_preserves_errno) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value(), vmm::testing::describe(pipe));
  {
    const sys::unique_fd doomed = std::move(pipe->first);
    errno = ENOSPC;  // as if a call just failed and the caller has not read errno yet
  }
  BOOST_TEST(errno == ENOSPC);
}

BOOST_AUTO_TEST_CASE(unique_fd_reset_of_a_closed_number_preserves_errno) {
  // close() of a number that is no longer open fails with EBADF; that must not replace the caller's errno.
  sys::unique_fd stale{std::numeric_limits<int>::max()};
  errno = ENOSPC;
  stale.reset();
  BOOST_TEST(errno == ENOSPC);
}

// --- path handling ---

BOOST_AUTO_TEST_CASE(temp_prefix_with_a_parent_directory_component_is_rejected) {
  const auto outer = make_scratch_dir();
  const auto inner = outer.path() / "inner";
  fs::create_directory(inner);
  BOOST_TEST(error_of(sys::temp_file::create("../escape-", inner)) == make_error_code(sys::errc::invalid_name));
  BOOST_TEST(error_of(sys::temp_dir::create("../escape-", inner)) == make_error_code(sys::errc::invalid_name));
  BOOST_TEST(std::distance(fs::directory_iterator{outer.path()}, fs::directory_iterator{}) == 1);
}

BOOST_AUTO_TEST_CASE(socket_path_without_room_for_the_nul_is_rejected_not_truncated) {
  // Truncating a 108-byte path to fit sun_path would silently reach the socket at its 107-byte prefix.
  const auto dir = make_scratch_dir();
  const auto base = dir.path().native() + "/";
  const fs::path prefix{base + std::string(sun_path_size - 1 - base.size(), 'p')};
  const auto listener = sys::unix_listener::bind(prefix);
  BOOST_TEST_REQUIRE(listener.has_value(), vmm::testing::describe(listener));
  const fs::path longer{prefix.native() + "q"};
  BOOST_TEST(error_of(sys::unix_connect(longer)) == make_error_code(sys::errc::path_too_long));
}

BOOST_AUTO_TEST_CASE(failed_bind_does_not_unlink_a_file_it_does_not_own) {
  const auto dir = make_scratch_dir();
  const auto path = dir.path() / "someone-elses";
  std::ofstream{path} << "precious";
  BOOST_TEST_REQUIRE(!sys::unix_listener::bind(path).has_value());
  BOOST_TEST(fs::is_regular_file(path));
}

// --- ownership: double removal and self-assignment ---

BOOST_AUTO_TEST_CASE(self_move_assignment_keeps_the_temp_file) {
  auto file = sys::temp_file::create();
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  const auto path = file->path();
  auto& alias = *file;
  *file = std::move(alias);
  BOOST_TEST(fs::exists(path));
  BOOST_TEST(file->path() == path);
  BOOST_TEST(sys::is_open(file->fd()));
}

BOOST_AUTO_TEST_CASE(self_move_assignment_keeps_the_listener_path) {
  const auto dir = make_scratch_dir();
  const auto path = dir.path() / "self.sock";
  auto listener = sys::unix_listener::bind(path);
  BOOST_TEST_REQUIRE(listener.has_value(), vmm::testing::describe(listener));
  auto& alias = *listener;
  *listener = std::move(alias);
  BOOST_TEST(fs::exists(path));
  BOOST_TEST(sys::unix_connect(path).has_value());
}

BOOST_AUTO_TEST_CASE(moved_from_temp_dir_does_not_remove_the_new_owners_directory) {
  std::optional<sys::temp_dir> owner;
  {
    auto original = sys::temp_dir::create();
    BOOST_TEST_REQUIRE(original.has_value(), vmm::testing::describe(original));
    owner.emplace(std::move(*original));
  }
  BOOST_TEST(fs::is_directory(owner->path()));
}

// --- silent narrowing of arguments ---

BOOST_AUTO_TEST_CASE(event_fd_initial_value_above_32_bits_is_rejected_not_truncated) {
  // Truncated to unsigned int, 2^32 + 1 would start the counter at 1.
  const auto event = sys::event_fd::create({.initial = two_to_the_32 + 1});
  BOOST_TEST(error_of(event) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(timer_arm_once_with_zero_is_rejected_not_a_silent_disarm) {
  const auto timer = sys::timer_fd::create();
  BOOST_TEST_REQUIRE(timer.has_value(), vmm::testing::describe(timer));
  BOOST_TEST_REQUIRE(timer->arm_once(std::chrono::hours{1}).has_value());
  BOOST_TEST(error_of(timer->arm_once(std::chrono::nanoseconds::zero())) ==
             make_error_code(sys::errc::invalid_duration));
  BOOST_TEST(timer->state().value().armed());
}

// --- terminal left raw ---

BOOST_AUTO_TEST_CASE(restored_guard_is_forgotten_by_the_exit_hook) {
  // A guard restored early must not re-apply its stale saved settings at process exit.
  auto pty = open_pseudo_terminal();
  BOOST_TEST_REQUIRE(pty.has_value(), vmm::testing::describe(pty));
  constexpr ::cc_t vtime_set_after_restore = 9;
  const sys::borrowed_fd slave = pty->slave;
  const int status = wait_status_of_child([slave] {
    auto guard = sys::raw_terminal::enable(slave);
    if (!guard || !guard->restore()) {
      ::_exit(child_failed);
    }
    ::termios settings{};
    ::tcgetattr(slave.get(), &settings);
    settings.c_cc[VTIME] = vtime_set_after_restore;
    ::tcsetattr(slave.get(), TCSANOW, &settings);
    std::exit(child_ok);  // runs the exit hook; the guard is never destroyed
  });
  BOOST_TEST(exited_with(status, child_ok), "wait status " << status);
  BOOST_TEST(vtime_of(pty->slave) == vtime_set_after_restore);
}

BOOST_AUTO_TEST_SUITE_END()
