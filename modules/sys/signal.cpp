module;
#include <cerrno>
#include <csignal>
#include <ctime>
#include <pthread.h>
module vmm.sys;
import std;

namespace vmm::sys {
namespace {

auto is_realtime(int signal) noexcept -> bool {
  return signal >= SIGRTMIN && signal <= SIGRTMAX;
}

extern "C" void kick_handler(int /*signal*/) {
  // Intentionally empty: the point of the signal is that the interrupted system call returns EINTR.
}

}  // namespace

auto change_signal_mask(int how, const signal_set* set) -> result<signal_set> {
  auto previous = signal_set::empty();
  // SAFETY: pthread_sigmask reads `set` (or nothing) and writes the previous mask into `previous`, both live.
  if (const int err = ::pthread_sigmask(how, set != nullptr ? &set->set_ : nullptr, &previous.set_); err != 0) {
    return os_failure(err);
  }
  return previous;
}

auto signal_set::empty() noexcept -> signal_set {
  signal_set s;
  ::sigemptyset(&s.set_);
  return s;
}

auto signal_set::full() noexcept -> signal_set {
  signal_set s;
  ::sigfillset(&s.set_);
  return s;
}

auto signal_set::of(std::initializer_list<int> signals) -> result<signal_set> {
  auto s = empty();
  for (const int signal : signals) {
    if (auto added = s.add(signal); !added) {
      return std::unexpected(added.error());
    }
  }
  return s;
}

auto signal_set::add(int signal) -> result<void> {
  if (::sigaddset(&set_, signal) < 0) {
    return os_failure();
  }
  return {};
}

auto signal_set::remove(int signal) -> result<void> {
  if (::sigdelset(&set_, signal) < 0) {
    return os_failure();
  }
  return {};
}

auto signal_set::contains(int signal) const noexcept -> bool {
  return ::sigismember(&set_, signal) == 1;
}

auto block_signals(const signal_set& signals) -> result<signal_set> {
  return change_signal_mask(SIG_BLOCK, &signals);
}

auto unblock_signals(const signal_set& signals) -> result<signal_set> {
  return change_signal_mask(SIG_UNBLOCK, &signals);
}

auto set_signal_mask(const signal_set& mask) -> result<signal_set> {
  return change_signal_mask(SIG_SETMASK, &mask);
}

auto current_signal_mask() -> result<signal_set> {
  return change_signal_mask(SIG_BLOCK, nullptr);
}

auto pending_signals() -> result<signal_set> {
  auto pending = signal_set::empty();
  // SAFETY: sigpending writes one sigset_t into `pending.set_`.
  if (::sigpending(&pending.set_) < 0) {
    return os_failure();
  }
  return pending;
}

auto realtime_signal(int offset) -> result<int> {
  if (offset < 0 || offset > SIGRTMAX - SIGRTMIN) {
    return failure(errc::invalid_signal);
  }
  return SIGRTMIN + offset;
}

auto default_kick_signal() noexcept -> int {
  return SIGRTMIN;
}

auto install_kick_handler(int signal) -> result<void> {
  if (!is_realtime(signal)) {
    return failure(errc::invalid_signal);
  }
  struct ::sigaction action{};
  action.sa_handler = kick_handler;
  action.sa_flags = 0;  // no SA_RESTART: the whole point is that blocked calls return EINTR
  ::sigemptyset(&action.sa_mask);
  // SAFETY: the handler is async-signal-safe (it does nothing); sigaction copies `action`.
  if (::sigaction(signal, &action, nullptr) < 0) {
    return os_failure();
  }
  return {};
}

auto kick_thread(std::thread::native_handle_type thread, int signal) -> result<void> {
  if (!is_realtime(signal)) {
    return failure(errc::invalid_signal);
  }
  // SAFETY: pthread_kill only queues a signal; `thread` must be a live or joinable thread (the caller's contract).
  if (const int err = ::pthread_kill(thread, signal); err != 0) {
    return os_failure(err);
  }
  return {};
}

auto clear_pending_signal(int signal) -> result<bool> {
  auto set = signal_set::of({signal});
  if (!set) {
    return std::unexpected(set.error());
  }
  const ::timespec zero{};
  // SAFETY: sigtimedwait reads the set and a zero timeout; it does not block, and the siginfo pointer is null.
  if (::sigtimedwait(&set->native(), nullptr, &zero) < 0) {
    if (errno == EAGAIN) {
      return false;
    }
    return os_failure();
  }
  return true;
}

}  // namespace vmm::sys
