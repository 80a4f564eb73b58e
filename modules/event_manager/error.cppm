// vmm.event_manager:error — what the event manager reports besides OS errors.
export module vmm.event_manager:error;
import std;

export namespace vmm::event_manager {

/// Failures the event manager detects itself (epoll failures keep their errno in std::system_category()).
enum class errc : std::uint8_t {
  unknown_subscriber = 1,  ///< the subscriber id does not name a live subscriber (never added, or removed)
  fd_already_registered,   ///< the fd is already watched by this manager (by this or another subscriber)
  fd_not_registered,       ///< the subscriber does not watch this fd
  subscriber_busy,         ///< the subscriber is running process() right now and cannot be moved out
  already_running,         ///< run() was called while another thread is inside run() of the same manager
  manager_gone,            ///< the manager was destroyed before the remote call ran
  remote_call_threw,       ///< the closure passed to call_blocking threw an exception
  subscriber_threw,        ///< the subscriber's init() threw, so it was not added
  too_many_subscribers,    ///< the id space (2^32 - 1 slots or registrations) is exhausted
};

/// The category of vmm::event_manager::errc, named "vmm.event_manager".
[[nodiscard]] auto event_manager_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from an errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::event_manager

template <>
struct std::is_error_code_enum<vmm::event_manager::errc> : std::true_type {};
