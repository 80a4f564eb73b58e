// vmm.sys:epoll — a thin, typed wrapper over epoll(7) for event loops.
module;
#include <sys/epoll.h>
export module vmm.sys:epoll;
import std;
import :error;
import :fd;

export namespace vmm::sys {

/// Readiness conditions and modes of an epoll registration (a bit set over the kernel's EPOLL* flags).
enum class event_set : std::uint32_t {
  none = 0,
  readable = EPOLLIN,
  writable = EPOLLOUT,
  priority = EPOLLPRI,
  error = EPOLLERR,            ///< always reported, even when not asked for
  hang_up = EPOLLHUP,          ///< always reported, even when not asked for
  read_hang_up = EPOLLRDHUP,   ///< the peer shut down its writing half
  edge_triggered = EPOLLET,    ///< report a condition when it arises, not while it lasts
  one_shot = EPOLLONESHOT,     ///< disable the registration after one report (re-arm with modify)
  exclusive = EPOLLEXCLUSIVE,  ///< wake one of several epoll instances waiting on the same fd (add only)
};

// event_set is a bit set: combinations of enumerators are valid values of its fixed underlying type, which the
// static analyser's EnumCastOutOfRange check does not know (hence the NOLINTs below).
[[nodiscard]] constexpr auto operator|(event_set a, event_set b) noexcept -> event_set {
  return static_cast<event_set>(std::to_underlying(a) | std::to_underlying(b));  // NOLINT(*EnumCastOutOfRange)
}
[[nodiscard]] constexpr auto operator&(event_set a, event_set b) noexcept -> event_set {
  return static_cast<event_set>(std::to_underlying(a) & std::to_underlying(b));  // NOLINT(*EnumCastOutOfRange)
}
[[nodiscard]] constexpr auto operator~(event_set a) noexcept -> event_set {
  return static_cast<event_set>(~std::to_underlying(a));  // NOLINT(*EnumCastOutOfRange)
}
constexpr auto operator|=(event_set& a, event_set b) noexcept -> event_set& {
  return a = a | b;
}
/// Whether every flag of `flags` is set in `set`.
[[nodiscard]] constexpr auto contains(event_set set, event_set flags) noexcept -> bool {
  return (set & flags) == flags;
}

/// One readiness report from epoll::wait: which conditions hold, and the 64-bit data given at registration.
/// Layout-identical to the kernel's (packed) epoll_event, so wait() hands a span of these straight to the kernel.
class ready_event {
 public:
  // Explicitly inline: clang does not import bodies of non-inline functions across module boundaries, and these
  // two are read once per event on every event loop's hot path.
  [[nodiscard]] inline auto events() const noexcept -> event_set { return static_cast<event_set>(raw_.events); }
  [[nodiscard]] inline auto data() const noexcept -> std::uint64_t { return raw_.data.u64; }

 private:
  friend class epoll;
  ::epoll_event raw_{};
};

/// An epoll instance (close-on-exec). Each registered fd carries 64 bits of caller data returned with its events.
class epoll {
 public:
  /// Creates an epoll instance. Errors: EMFILE/ENFILE when out of descriptors.
  [[nodiscard]] static auto create() -> result<epoll>;

  /// Registers `fd` for `events`. Errors: EEXIST when already registered; EBADF for a closed fd; EPERM for a
  /// regular file or directory (epoll cannot watch them); EINVAL for an invalid combination (exclusive with
  /// one_shot, or watching the epoll fd itself); ELOOP for a cycle of epoll instances.
  [[nodiscard]] auto add(borrowed_fd fd, event_set events, std::uint64_t data) const -> result<void>;

  /// Changes the events and data of a registered fd. Errors: ENOENT when not registered; EBADF; EINVAL.
  [[nodiscard]] auto modify(borrowed_fd fd, event_set events, std::uint64_t data) const -> result<void>;

  /// Unregisters `fd`. Errors: ENOENT when not registered; EBADF for a closed fd (close() already removed it).
  [[nodiscard]] auto remove(borrowed_fd fd) const -> result<void>;

  /// Waits until at least one registered fd is ready, and fills `out` from the front. Returns how many entries were
  /// filled. Errors: EINVAL when `out` is empty; EINTR when a signal interrupts the wait (returned, not retried).
  [[nodiscard]] auto wait(std::span<ready_event> out) const -> result<std::size_t>;

  /// As wait(out), but returns 0 when nothing is ready within `timeout` (0 polls without blocking).
  /// Errors: as wait(out), plus vmm::sys::errc::invalid_duration for a negative timeout.
  [[nodiscard]] auto wait(std::span<ready_event> out, std::chrono::milliseconds timeout) const -> result<std::size_t>;

  [[nodiscard]] auto fd() const noexcept -> borrowed_fd { return fd_.borrow(); }

 private:
  explicit epoll(unique_fd fd) noexcept : fd_{std::move(fd)} {}
  [[nodiscard]] auto control(int op, borrowed_fd fd, event_set events, std::uint64_t data) const -> result<void>;
  [[nodiscard]] auto wait_for(std::span<ready_event> out, int timeout_ms) const -> result<std::size_t>;
  unique_fd fd_;
};

}  // namespace vmm::sys
