// raw_terminal on a pseudo-terminal (never the test's own terminal): the raw settings, and restoration on
// destruction, restore(), moves, exceptions and process exit.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

import std;
import vmm.sys;
import vmm.testing;

using vmm::testing::os_error;
namespace sys = vmm::sys;
using vmm::testing::error_of;
using vmm::testing::exited_with;
using vmm::testing::open_pseudo_terminal;
using vmm::testing::pseudo_terminal;
using vmm::testing::wait_status_of_child;

namespace {

// Exit statuses of the forked children.
constexpr int child_ok = 0;
constexpr int enable_failed = 40;
constexpr int not_restored_by_destructor = 41;

// Settings the raw mode changes, so a restoration that is not exact shows: a fresh pty has VMIN 1 and VTIME 0
// already, so the "original" here has VMIN 0 and VTIME 7 (tenths of a second).
constexpr ::cc_t original_vmin = 0;
constexpr ::cc_t original_vtime = 7;

auto settings_of(sys::borrowed_fd tty) -> ::termios {
  ::termios settings{};
  BOOST_TEST_REQUIRE(::tcgetattr(tty.get(), &settings) == 0);
  return settings;
}

void apply(sys::borrowed_fd tty, const ::termios& settings) {
  BOOST_TEST_REQUIRE(::tcsetattr(tty.get(), TCSANOW, &settings) == 0);
}

// A pty whose slave starts from a cooked mode with VMIN/VTIME values that raw mode changes.
auto open_cooked_terminal() -> pseudo_terminal {
  auto pty = open_pseudo_terminal();
  BOOST_TEST_REQUIRE(pty.has_value(), vmm::testing::describe(pty));
  auto settings = settings_of(pty->slave);
  settings.c_cc[VMIN] = original_vmin;
  settings.c_cc[VTIME] = original_vtime;
  apply(pty->slave, settings);
  return std::move(*pty);
}

// Field by field (the struct has padding): every setting tcsetattr can change.
auto same_settings(const ::termios& a, const ::termios& b) -> bool {
  return a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag && a.c_lflag == b.c_lflag &&
         a.c_line == b.c_line && std::ranges::equal(a.c_cc, b.c_cc) && ::cfgetispeed(&a) == ::cfgetispeed(&b) &&
         ::cfgetospeed(&a) == ::cfgetospeed(&b);
}

auto is_raw(const ::termios& settings) -> bool {
  return (settings.c_lflag & (ICANON | ECHO | ISIG | IEXTEN)) == 0 && (settings.c_iflag & (IXON | ICRNL)) == 0 &&
         settings.c_cc[VMIN] == 1 && settings.c_cc[VTIME] == 0;
}

struct guarded_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail_while_raw(sys::borrowed_fd tty) {
  auto guard = sys::raw_terminal::enable(tty);
  if (!guard) {
    ::_exit(enable_failed);
  }
  throw guarded_failure{"unwinds through the guard"};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sys_terminal)

// --- the raw settings ---

BOOST_AUTO_TEST_CASE(enable_clears_line_editing_echo_signals_and_flow_control) {
  const auto pty = open_cooked_terminal();
  const auto before = settings_of(pty.slave);
  BOOST_TEST_REQUIRE((before.c_lflag & (ICANON | ECHO | ISIG | IEXTEN)) == (ICANON | ECHO | ISIG | IEXTEN));
  BOOST_TEST_REQUIRE((before.c_iflag & (IXON | ICRNL)) == (IXON | ICRNL));
  const auto guard = sys::raw_terminal::enable(pty.slave);
  BOOST_TEST_REQUIRE(guard.has_value(), vmm::testing::describe(guard));
  const auto raw = settings_of(pty.slave);
  BOOST_TEST((raw.c_lflag & ICANON) == 0U);
  BOOST_TEST((raw.c_lflag & ECHO) == 0U);
  BOOST_TEST((raw.c_lflag & ISIG) == 0U);
  BOOST_TEST((raw.c_lflag & IEXTEN) == 0U);
  BOOST_TEST((raw.c_iflag & IXON) == 0U);
  BOOST_TEST((raw.c_iflag & ICRNL) == 0U);
}

BOOST_AUTO_TEST_CASE(enable_sets_vmin_1_and_vtime_0) {
  const auto pty = open_cooked_terminal();
  const auto guard = sys::raw_terminal::enable(pty.slave);
  BOOST_TEST_REQUIRE(guard.has_value(), vmm::testing::describe(guard));
  const auto raw = settings_of(pty.slave);
  BOOST_TEST(raw.c_cc[VMIN] == 1);
  BOOST_TEST(raw.c_cc[VTIME] == 0);
}

BOOST_AUTO_TEST_CASE(raw_terminal_passes_ctrl_c_and_carriage_return_through_unchanged) {
  const auto pty = open_cooked_terminal();
  const auto guard = sys::raw_terminal::enable(pty.slave);
  BOOST_TEST_REQUIRE(guard.has_value(), vmm::testing::describe(guard));
  // Ctrl-C (0x03) would raise SIGINT and CR would become NL in cooked mode; raw mode delivers both as typed.
  const std::array typed{std::byte{0x03}, std::byte{'\r'}};
  BOOST_TEST_REQUIRE(sys::write(pty.master, typed).value() == typed.size());
  std::array<std::byte, 8> got{};
  const auto n = sys::read(pty.slave, got);
  BOOST_TEST_REQUIRE(n.has_value(), vmm::testing::describe(n));
  BOOST_TEST(*n == typed.size());
  BOOST_TEST((got[0] == typed[0]));
  BOOST_TEST((got[1] == typed[1]));
}

BOOST_AUTO_TEST_CASE(fd_is_a_private_duplicate_of_the_guarded_terminal) {
  const auto pty = open_cooked_terminal();
  const auto guard = sys::raw_terminal::enable(pty.slave);
  BOOST_TEST_REQUIRE(guard.has_value(), vmm::testing::describe(guard));
  BOOST_TEST(guard->fd().get() != pty.slave.get());
  BOOST_TEST(is_raw(settings_of(guard->fd())));  // the same terminal, seen through the guard's descriptor
}

// --- restoration ---

BOOST_AUTO_TEST_CASE(destruction_restores_the_exact_previous_settings) {
  const auto pty = open_cooked_terminal();
  const auto before = settings_of(pty.slave);
  {
    const auto guard = sys::raw_terminal::enable(pty.slave);
    BOOST_TEST_REQUIRE(guard.has_value(), vmm::testing::describe(guard));
    BOOST_TEST_REQUIRE(is_raw(settings_of(pty.slave)));
  }
  BOOST_TEST(same_settings(settings_of(pty.slave), before));
}

BOOST_AUTO_TEST_CASE(restore_puts_the_previous_settings_back_at_once) {
  const auto pty = open_cooked_terminal();
  const auto before = settings_of(pty.slave);
  auto guard = sys::raw_terminal::enable(pty.slave);
  BOOST_TEST_REQUIRE(guard.has_value(), vmm::testing::describe(guard));
  const auto restored = guard->restore();
  BOOST_TEST(restored.has_value(), vmm::testing::describe(restored));
  BOOST_TEST(same_settings(settings_of(pty.slave), before));
}

BOOST_AUTO_TEST_CASE(second_restore_succeeds_and_changes_nothing) {
  const auto pty = open_cooked_terminal();
  auto guard = sys::raw_terminal::enable(pty.slave);
  BOOST_TEST_REQUIRE(guard.has_value(), vmm::testing::describe(guard));
  BOOST_TEST_REQUIRE(guard->restore().has_value());
  auto changed_later = settings_of(pty.slave);
  changed_later.c_cc[VTIME] = 3;  // set by someone else after the restore; must survive
  apply(pty.slave, changed_later);
  const auto again = guard->restore();
  BOOST_TEST(again.has_value(), vmm::testing::describe(again));
  BOOST_TEST(same_settings(settings_of(pty.slave), changed_later));
}

BOOST_AUTO_TEST_CASE(destructor_after_restore_changes_nothing) {
  const auto pty = open_cooked_terminal();
  ::termios changed_later{};
  {
    auto guard = sys::raw_terminal::enable(pty.slave);
    BOOST_TEST_REQUIRE(guard.has_value(), vmm::testing::describe(guard));
    BOOST_TEST_REQUIRE(guard->restore().has_value());
    changed_later = settings_of(pty.slave);
    changed_later.c_cc[VTIME] = 3;
    apply(pty.slave, changed_later);
  }
  BOOST_TEST(same_settings(settings_of(pty.slave), changed_later));
}

BOOST_AUTO_TEST_CASE(restore_reaches_the_terminal_after_the_callers_descriptor_was_closed) {
  const auto pty = open_cooked_terminal();
  const auto before = settings_of(pty.slave);
  auto copy = pty.slave.duplicate();
  BOOST_TEST_REQUIRE(copy.has_value(), vmm::testing::describe(copy));
  auto guard = sys::raw_terminal::enable(*copy);
  BOOST_TEST_REQUIRE(guard.has_value(), vmm::testing::describe(guard));
  copy->reset();  // the number may now be reused for anything; the guard holds its own descriptor
  const auto restored = guard->restore();
  BOOST_TEST(restored.has_value(), vmm::testing::describe(restored));
  BOOST_TEST(same_settings(settings_of(pty.slave), before));
}

BOOST_AUTO_TEST_CASE(nested_guards_restore_in_reverse_order) {
  const auto pty = open_cooked_terminal();
  const auto before = settings_of(pty.slave);
  {
    const auto outer = sys::raw_terminal::enable(pty.slave);
    BOOST_TEST_REQUIRE(outer.has_value(), vmm::testing::describe(outer));
    {
      const auto inner = sys::raw_terminal::enable(pty.slave);
      BOOST_TEST_REQUIRE(inner.has_value(), vmm::testing::describe(inner));
    }
    BOOST_TEST(is_raw(settings_of(pty.slave)));
  }
  BOOST_TEST(same_settings(settings_of(pty.slave), before));
}

// --- moves ---

BOOST_AUTO_TEST_CASE(moved_from_guard_does_not_restore) {
  const auto pty = open_cooked_terminal();
  std::optional<sys::raw_terminal> target;
  {
    auto source = sys::raw_terminal::enable(pty.slave);
    BOOST_TEST_REQUIRE(source.has_value(), vmm::testing::describe(source));
    target.emplace(std::move(*source));
  }  // the moved-from guard is destroyed here
  BOOST_TEST(is_raw(settings_of(pty.slave)));
  BOOST_TEST(is_raw(settings_of(target->fd())));  // the target now holds the guard's descriptor
}

BOOST_AUTO_TEST_CASE(moved_to_guard_restores_once_on_destruction) {
  const auto pty = open_cooked_terminal();
  const auto before = settings_of(pty.slave);
  {
    auto source = sys::raw_terminal::enable(pty.slave);
    BOOST_TEST_REQUIRE(source.has_value(), vmm::testing::describe(source));
    const sys::raw_terminal target{std::move(*source)};
  }
  BOOST_TEST(same_settings(settings_of(pty.slave), before));
}

BOOST_AUTO_TEST_CASE(moved_from_guard_restore_is_a_harmless_no_op) {
  const auto pty = open_cooked_terminal();
  auto source = sys::raw_terminal::enable(pty.slave);
  BOOST_TEST_REQUIRE(source.has_value(), vmm::testing::describe(source));
  const sys::raw_terminal target{std::move(*source)};
  const auto r = source->restore();  // NOLINT(bugprone-use-after-move): checking the moved-from state
  BOOST_TEST(r.has_value(), vmm::testing::describe(r));
  BOOST_TEST(is_raw(settings_of(pty.slave)));
}

BOOST_AUTO_TEST_CASE(move_assignment_restores_the_terminal_the_target_guarded) {
  const auto first = open_cooked_terminal();
  const auto second = open_cooked_terminal();
  const auto first_before = settings_of(first.slave);
  const auto second_before = settings_of(second.slave);
  {
    auto target = sys::raw_terminal::enable(first.slave);
    auto source = sys::raw_terminal::enable(second.slave);
    BOOST_TEST_REQUIRE((target.has_value() && source.has_value()));
    *target = std::move(*source);
    BOOST_TEST(same_settings(settings_of(first.slave), first_before));
    BOOST_TEST(is_raw(settings_of(second.slave)));
    BOOST_TEST(is_raw(settings_of(target->fd())));  // the second terminal: the first is cooked again
  }
  BOOST_TEST(same_settings(settings_of(second.slave), second_before));
}

// --- bad input ---

BOOST_AUTO_TEST_CASE(enable_on_a_pipe_returns_enotty) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value(), vmm::testing::describe(pipe));
  BOOST_TEST(error_of(sys::raw_terminal::enable(pipe->first)) == os_error(ENOTTY));
}

BOOST_AUTO_TEST_CASE(enable_on_a_closed_descriptor_returns_ebadf) {
  BOOST_TEST(error_of(sys::raw_terminal::enable(sys::borrowed_fd{-1})) == os_error(EBADF));
}

// --- every exit path ---

BOOST_AUTO_TEST_CASE(std_exit_restores_a_terminal_whose_guard_is_never_destroyed) {
  const auto pty = open_cooked_terminal();
  const auto before = settings_of(pty.slave);
  const sys::borrowed_fd slave = pty.slave;
  const int status = wait_status_of_child([slave] {
    auto guard = sys::raw_terminal::enable(slave);
    if (!guard) {
      ::_exit(enable_failed);
    }
    std::exit(child_ok);  // does not unwind: the guard above is never destroyed
  });
  BOOST_TEST(exited_with(status, child_ok), "wait status " << status);
  BOOST_TEST(same_settings(settings_of(pty.slave), before));
}

BOOST_AUTO_TEST_CASE(forked_child_exiting_does_not_restore_its_parents_terminal) {
  const auto pty = open_cooked_terminal();
  const auto guard = sys::raw_terminal::enable(pty.slave);
  BOOST_TEST_REQUIRE(guard.has_value(), vmm::testing::describe(guard));
  // The child inherits the exit hook and the registry; its std::exit must leave the parent's raw mode alone.
  const int status = wait_status_of_child([] { std::exit(child_ok); });
  BOOST_TEST(exited_with(status, child_ok), "wait status " << status);
  BOOST_TEST(is_raw(settings_of(pty.slave)));
}

BOOST_AUTO_TEST_CASE(exception_unwinding_through_the_guard_restores_the_terminal) {
  const auto pty = open_cooked_terminal();
  const auto before = settings_of(pty.slave);
  const sys::borrowed_fd slave = pty.slave;
  const int status = wait_status_of_child([slave, &before] {
    try {
      fail_while_raw(slave);
    } catch (const guarded_failure&) {
      ::termios now{};
      const bool restored = ::tcgetattr(slave.get(), &now) == 0 && same_settings(now, before);
      // _exit skips the process-exit hook, so only the destructor can have restored the terminal.
      ::_exit(restored ? child_ok : not_restored_by_destructor);
    }
  });
  BOOST_TEST(exited_with(status, child_ok), "wait status " << status);
  BOOST_TEST(same_settings(settings_of(pty.slave), before));
}

BOOST_AUTO_TEST_SUITE_END()
