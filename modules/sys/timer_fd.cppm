// vmm.sys:timer_fd — timerfd(2): a timer whose expirations are read from a descriptor, so it fits an epoll loop.
export module vmm.sys:timer_fd;
import std;
import :error;
import :fd;

export namespace vmm::sys {

/// The clock a timer_fd measures against.
enum class timer_clock : std::uint8_t {
  monotonic,  ///< CLOCK_MONOTONIC: never jumps, stops during suspend (std::chrono::steady_clock on Linux)
  realtime,   ///< CLOCK_REALTIME: wall-clock time, may jump (std::chrono::system_clock)
  boottime,   ///< CLOCK_BOOTTIME: like monotonic, but keeps counting during suspend
};

/// What timer_fd::state() reports: the time to the next expiration (zero when disarmed) and the period (zero for a
/// one-shot timer).
struct timer_state {
  std::chrono::nanoseconds remaining{};
  std::chrono::nanoseconds interval{};
  [[nodiscard]] constexpr auto armed() const noexcept -> bool { return remaining.count() != 0; }
};

/// A timerfd (close-on-exec). Reading it returns how many times it expired since the last read.
class timer_fd {
 public:
  /// Creates a disarmed timer. `nonblocking`: wait() returns EAGAIN instead of blocking when nothing expired.
  [[nodiscard]] static auto create(timer_clock clock = timer_clock::monotonic, bool nonblocking = false)
      -> result<timer_fd>;

  /// Expires once, `after` from now. Errors: vmm::sys::errc::invalid_duration when `after` is not positive.
  [[nodiscard]] auto arm_once(std::chrono::nanoseconds after) const -> result<void>;

  /// Expires `first` from now, then every `interval`. Errors: invalid_duration unless both are positive.
  [[nodiscard]] auto arm_periodic(std::chrono::nanoseconds first, std::chrono::nanoseconds interval) const
      -> result<void>;

  /// Expires at the absolute time `deadline`, measured on this timer's clock since that clock's epoch (for a
  /// monotonic timer: steady_clock::now().time_since_epoch() + delay). A deadline already past expires at once.
  /// `interval` > 0 repeats afterwards. Errors: invalid_duration for a non-positive deadline or negative interval.
  [[nodiscard]] auto arm_at(std::chrono::nanoseconds deadline,
                            std::chrono::nanoseconds interval = std::chrono::nanoseconds::zero()) const -> result<void>;

  /// Stops the timer. Like every re-arm (timerfd_settime), it also discards expirations not yet read, so a later
  /// wait() on a non-blocking timer returns EAGAIN.
  [[nodiscard]] auto disarm() const -> result<void>;

  /// Blocks until the timer has expired at least once (unless non-blocking) and returns the expiration count.
  /// Errors: EAGAIN when non-blocking and nothing expired; EINTR when a signal interrupts the wait.
  [[nodiscard]] auto wait() const -> result<std::uint64_t>;

  /// The time to the next expiration and the period.
  [[nodiscard]] auto state() const -> result<timer_state>;

  [[nodiscard]] auto fd() const noexcept -> borrowed_fd { return fd_.borrow(); }

 private:
  explicit timer_fd(unique_fd fd) noexcept : fd_{std::move(fd)} {}
  [[nodiscard]] auto set(std::chrono::nanoseconds first, std::chrono::nanoseconds interval, bool absolute) const
      -> result<void>;
  unique_fd fd_;
};

}  // namespace vmm::sys
