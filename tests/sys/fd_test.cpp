// unique_fd / borrowed_fd ownership, and the plain fd operations (read, write, pipe, O_NONBLOCK).
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <csignal>
#include <fcntl.h>

import std;
import vmm.sys;
import vmm.testing;

using vmm::testing::os_error;
namespace sys = vmm::sys;
using vmm::testing::bytes;
using vmm::testing::error_of;

namespace {}  // namespace

BOOST_AUTO_TEST_SUITE(sys_fd)

BOOST_AUTO_TEST_CASE(default_unique_fd_is_empty) {
  const sys::unique_fd fd;
  BOOST_TEST(!fd.valid());
  BOOST_TEST(fd.get() == -1);
  BOOST_TEST(!fd.borrow().valid());
}

BOOST_AUTO_TEST_CASE(destructor_closes_the_descriptor) {
  int raw = -1;
  {
    auto pipe = sys::make_pipe();
    BOOST_TEST_REQUIRE(pipe.has_value(), vmm::testing::describe(pipe));
    raw = pipe->first.get();
    BOOST_TEST(sys::is_open(sys::borrowed_fd{raw}));
  }
  BOOST_TEST(!sys::is_open(sys::borrowed_fd{raw}));
}

BOOST_AUTO_TEST_CASE(move_transfers_ownership_and_empties_the_source) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  const int raw = pipe->first.get();
  sys::unique_fd moved = std::move(pipe->first);
  BOOST_TEST(moved.get() == raw);
  BOOST_TEST(pipe->first.get() == -1);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  BOOST_TEST(sys::is_open(moved));
}

BOOST_AUTO_TEST_CASE(move_assignment_closes_the_previous_descriptor) {
  auto a = sys::make_pipe();
  auto b = sys::make_pipe();
  BOOST_TEST_REQUIRE((a.has_value() && b.has_value()));
  const int old_raw = a->first.get();
  a->first = std::move(b->first);
  BOOST_TEST(!sys::is_open(sys::borrowed_fd{old_raw}));
  BOOST_TEST(sys::is_open(a->first));
}

BOOST_AUTO_TEST_CASE(release_gives_up_ownership_without_closing) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  const int raw = pipe->first.release();
  BOOST_TEST(!pipe->first.valid());
  BOOST_TEST(sys::is_open(sys::borrowed_fd{raw}));
  const sys::unique_fd owner{raw};  // closes it at the end of the test
}

BOOST_AUTO_TEST_CASE(reset_preserves_errno) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  errno = ENOSPC;  // as if a call just failed and the caller has not read errno yet
  pipe->first.reset();
  BOOST_TEST(errno == ENOSPC);
}

BOOST_AUTO_TEST_CASE(duplicate_is_a_separate_close_on_exec_descriptor) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  auto copy = pipe->second.duplicate();
  BOOST_TEST_REQUIRE(copy.has_value(), vmm::testing::describe(copy));
  BOOST_TEST(copy->get() != pipe->second.get());
  BOOST_TEST((::fcntl(copy->get(), F_GETFD) & FD_CLOEXEC) != 0);
  pipe->second.reset();
  // The duplicate still writes into the same pipe.
  BOOST_TEST_REQUIRE(sys::write(*copy, bytes("x")).has_value());
  std::array<std::byte, 1> got{};
  BOOST_TEST(sys::read(pipe->first, got).value() == 1U);
}

BOOST_AUTO_TEST_CASE(duplicate_of_empty_fd_returns_ebadf) {
  const sys::unique_fd empty;
  BOOST_TEST(error_of(empty.duplicate()) == os_error(EBADF));
}

BOOST_AUTO_TEST_CASE(pipe_ends_are_close_on_exec) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  BOOST_TEST((::fcntl(pipe->first.get(), F_GETFD) & FD_CLOEXEC) != 0);
  BOOST_TEST((::fcntl(pipe->second.get(), F_GETFD) & FD_CLOEXEC) != 0);
}

BOOST_AUTO_TEST_CASE(write_then_read_round_trips_bytes) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  BOOST_TEST(sys::write(pipe->second, bytes("hello")).value() == 5U);
  std::array<std::byte, 16> buffer{};
  const auto got = sys::read(pipe->first, buffer);
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(*got == 5U);
  BOOST_TEST(std::string_view(reinterpret_cast<const char*>(buffer.data()), *got) == "hello");
}

BOOST_AUTO_TEST_CASE(read_at_end_of_file_returns_zero) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  pipe->second.reset();
  std::array<std::byte, 4> buffer{};
  BOOST_TEST(sys::read(pipe->first, buffer).value() == 0U);
}

BOOST_AUTO_TEST_CASE(nonblocking_read_of_empty_pipe_returns_eagain) {
  auto pipe = sys::make_pipe(true);
  BOOST_TEST_REQUIRE(pipe.has_value());
  std::array<std::byte, 4> buffer{};
  BOOST_TEST(error_of(sys::read(pipe->first, buffer)) == os_error(EAGAIN));
}

BOOST_AUTO_TEST_CASE(set_nonblocking_toggles_o_nonblock) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  BOOST_TEST(sys::is_nonblocking(pipe->first).value() == false);
  BOOST_TEST_REQUIRE(sys::set_nonblocking(pipe->first, true).has_value());
  BOOST_TEST(sys::is_nonblocking(pipe->first).value() == true);
  BOOST_TEST_REQUIRE(sys::set_nonblocking(pipe->first, false).has_value());
  BOOST_TEST(sys::is_nonblocking(pipe->first).value() == false);
}

BOOST_AUTO_TEST_CASE(operations_on_a_closed_descriptor_return_ebadf) {
  const sys::borrowed_fd closed{-1};
  std::array<std::byte, 4> buffer{};
  BOOST_TEST(error_of(sys::read(closed, buffer)) == os_error(EBADF));
  BOOST_TEST(error_of(sys::write(closed, buffer)) == os_error(EBADF));
  BOOST_TEST(error_of(sys::set_nonblocking(closed, true)) == os_error(EBADF));
  BOOST_TEST(error_of(sys::is_nonblocking(closed)) == os_error(EBADF));
  BOOST_TEST(!sys::is_open(closed));
}

BOOST_AUTO_TEST_CASE(write_to_pipe_without_reader_returns_epipe) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  pipe->first.reset();
  // SIGPIPE would kill the test process; ignore it for this case and restore it afterwards.
  auto* previous = std::signal(SIGPIPE, SIG_IGN);
  const auto written = sys::write(pipe->second, bytes("x"));
  std::signal(SIGPIPE, previous);
  BOOST_TEST(error_of(written) == os_error(EPIPE));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sys_file_and_random)

BOOST_AUTO_TEST_CASE(open_file_opens_an_existing_node_close_on_exec_with_the_asked_mode) {
  const auto fd = sys::open_file("/dev/null", {.read = true, .write = true, .nonblocking = true});

  BOOST_TEST_REQUIRE(fd.has_value(), vmm::testing::describe(fd));
  BOOST_TEST(vmm::testing::is_close_on_exec(*fd));
  BOOST_TEST(sys::is_nonblocking(*fd).value_or(false));
  BOOST_TEST(sys::write(*fd, bytes("x")).value_or(0) == 1U);
}

BOOST_AUTO_TEST_CASE(open_file_refuses_no_mode_an_embedded_nul_and_a_missing_path) {
  BOOST_TEST(error_of(sys::open_file("/dev/null", {.read = false})) == os_error(EINVAL));
  BOOST_TEST(error_of(sys::open_file(std::string{"/dev/null\0x", 11})) == os_error(EINVAL));
  BOOST_TEST(error_of(sys::open_file("/nonexistent/vmm-file")) == os_error(ENOENT));
}

BOOST_AUTO_TEST_CASE(get_random_fills_the_buffer_and_an_empty_one_costs_nothing) {
  std::array<std::byte, 64> first{};
  std::array<std::byte, 64> second{};

  BOOST_TEST(sys::get_random(first).value_or(0) == 64U);
  BOOST_TEST(sys::get_random(second, {.nonblocking = false}).value_or(0) == 64U);
  BOOST_TEST(sys::get_random({}).value_or(1) == 0U);
  BOOST_TEST((first != second));  // two 512-bit draws collide with probability 2^-512
}

BOOST_AUTO_TEST_SUITE_END()
