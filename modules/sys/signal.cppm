// vmm.sys:signal — signal masks, and the "kick" signal that interrupts a thread blocked in a system call.
//
// A vCPU thread spends its life blocked in ioctl(KVM_RUN); to stop it, another thread sends it a real-time signal
// whose handler does nothing. Because the handler is installed without SA_RESTART, the blocked call returns EINTR
// and the thread regains control. The same kick interrupts epoll_wait, read, and every other blocking call here.
module;
#include <csignal>
export module vmm.sys:signal;
import std;
import :error;

export namespace vmm::sys {

/// A set of signals (sigset_t).
class signal_set {
 public:
  /// The empty set.
  [[nodiscard]] static auto empty() noexcept -> signal_set;
  /// Every signal.
  [[nodiscard]] static auto full() noexcept -> signal_set;
  /// The set holding exactly `signals`. Errors: EINVAL for a number that is not a signal.
  [[nodiscard]] static auto of(std::initializer_list<int> signals) -> result<signal_set>;

  /// Adds `signal`. Errors: EINVAL when `signal` is not a valid signal number.
  [[nodiscard]] auto add(int signal) -> result<void>;
  /// Removes `signal`. Errors: EINVAL when `signal` is not a valid signal number.
  [[nodiscard]] auto remove(int signal) -> result<void>;
  /// Whether `signal` is in the set (false for invalid numbers).
  [[nodiscard]] auto contains(int signal) const noexcept -> bool;

  [[nodiscard]] auto native() const noexcept -> const ::sigset_t& { return set_; }

 private:
  friend auto change_signal_mask(int how, const signal_set* set) -> result<signal_set>;
  friend auto pending_signals() -> result<signal_set>;
  ::sigset_t set_{};
};

/// Adds `signals` to the calling thread's mask; returns the previous mask.
[[nodiscard]] auto block_signals(const signal_set& signals) -> result<signal_set>;
/// Removes `signals` from the calling thread's mask; returns the previous mask.
[[nodiscard]] auto unblock_signals(const signal_set& signals) -> result<signal_set>;
/// Replaces the calling thread's mask; returns the previous mask.
[[nodiscard]] auto set_signal_mask(const signal_set& mask) -> result<signal_set>;
/// The calling thread's current mask.
[[nodiscard]] auto current_signal_mask() -> result<signal_set>;
/// The signals pending for the calling thread or the process.
[[nodiscard]] auto pending_signals() -> result<signal_set>;

/// The real-time signal SIGRTMIN + offset. Errors: vmm::sys::errc::invalid_signal when it would pass SIGRTMAX.
[[nodiscard]] auto realtime_signal(int offset) -> result<int>;

/// The kick signal cpp-vmm uses unless told otherwise: SIGRTMIN (as rust-vmm's vCPU kick does).
[[nodiscard]] auto default_kick_signal() noexcept -> int;

/// Installs a do-nothing handler for `signal` without SA_RESTART (process-wide), so a thread blocked in a system
/// call returns EINTR when kicked. Idempotent. Errors: vmm::sys::errc::invalid_signal unless `signal` is a
/// real-time signal (the standard ones have meanings of their own).
[[nodiscard]] auto install_kick_handler(int signal) -> result<void>;

/// Sends `signal` to one thread of this process (pthread_kill). Errors: ESRCH for a thread that has exited (only
/// detectable while its handle is still valid); vmm::sys::errc::invalid_signal for a non-real-time signal.
[[nodiscard]] auto kick_thread(std::thread::native_handle_type thread, int signal) -> result<void>;

/// Consumes one pending instance of `signal` without running its handler, if one is pending for the calling
/// thread or the process; returns whether one was. The signal must be blocked in the calling thread, else it would
/// have been delivered already. Errors: EINVAL for an invalid signal number.
[[nodiscard]] auto clear_pending_signal(int signal) -> result<bool>;

}  // namespace vmm::sys
