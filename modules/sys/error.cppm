// vmm.sys:error — the error conventions every cpp-vmm component follows.
//
// Fallible functions return vmm::result<T> (std::expected<T, std::error_code>) and are [[nodiscard]]. OS failures
// carry errno in std::system_category(), so callers compare against std::errc values. Failures a component detects
// itself carry that component's errc enum in a category named after the module ("vmm.sys"). Programmer errors
// (broken preconditions) go through vmm::contract_check, never through result.
module;
#include <cerrno>
export module vmm.sys:error;
import std;

export namespace vmm {

/// The return type of every fallible cpp-vmm function: the value, or the reason it could not be produced.
template <class T>
using result = std::expected<T, std::error_code>;

/// The error code for the calling thread's current errno. Call it immediately after the failing system call.
[[nodiscard]] inline auto last_os_error() noexcept -> std::error_code {
  return {errno, std::system_category()};
}

/// An unexpected<error_code> for an OS error number, for `return os_failure(EINVAL);`.
[[nodiscard]] inline auto os_failure(int error_number) noexcept -> std::unexpected<std::error_code> {
  return std::unexpected(std::error_code{error_number, std::system_category()});
}

/// An unexpected<error_code> for errno right now, for `if (::close(fd) < 0) return os_failure();`.
[[nodiscard]] inline auto os_failure() noexcept -> std::unexpected<std::error_code> {
  return std::unexpected(last_os_error());
}

/// An unexpected<error_code> from any error enum that std::error_code accepts (a component's errc, std::errc).
template <class Enum>
  requires std::is_error_code_enum_v<Enum> || std::is_error_condition_enum_v<Enum>
[[nodiscard]] auto failure(Enum e) noexcept -> std::unexpected<std::error_code> {
  if constexpr (std::is_error_code_enum_v<Enum>) {
    return std::unexpected(make_error_code(e));
  } else {
    return std::unexpected(std::make_error_code(e));
  }
}

/// What a contract violation handler receives: the broken condition's description and where it was checked.
struct contract_violation {
  std::string_view message;
  std::source_location where;
};

/// Called when a precondition is broken. The default handler prints the violation to stderr and aborts; tests may
/// install one that throws. The handler must not return.
using contract_violation_handler = void (*)(const contract_violation&);

/// Installs `handler` (nullptr restores the default) and returns the previous one. Thread-safe.
auto set_contract_violation_handler(contract_violation_handler handler) noexcept -> contract_violation_handler;

/// Reports a broken precondition through the installed handler. Never returns.
[[noreturn]] void report_contract_violation(std::string_view message, std::source_location where);

/// The project's one assertion: checks a precondition (a programmer error, not bad input) and reports a violation
/// when it does not hold. Always on, also in release builds: the checks guard memory safety. constexpr, so checked
/// functions stay usable in constant expressions (where a failing check is a compile error).
constexpr void contract_check(bool condition, std::string_view message,
                              std::source_location where = std::source_location::current()) {
  if (!condition) [[unlikely]] {
    report_contract_violation(message, where);
  }
}

}  // namespace vmm

export namespace vmm::sys {

/// Failures that vmm.sys detects itself (OS failures keep their errno in std::system_category()).
enum class errc : std::uint8_t {
  invalid_signal = 1,  ///< the signal number is outside the range the call accepts
  too_many_fds,        ///< more file descriptors than one SCM_RIGHTS message may carry
  fds_truncated,       ///< the peer sent more file descriptors than the receiver allowed
  message_truncated,   ///< a datagram or packet was larger than the receive buffer
  empty_message,       ///< fds must travel with at least one byte; a receive buffer must hold one
  path_too_long,       ///< a unix socket path does not fit in sockaddr_un
  invalid_duration,    ///< a timer duration is negative, or zero where zero would mean "disarm"
  invalid_name,        ///< a temporary file prefix contains '/' or NUL, or a memfd name contains NUL
};

/// The category of vmm::sys::errc, named "vmm.sys".
[[nodiscard]] auto sys_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from a vmm::sys::errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::sys

template <>
struct std::is_error_code_enum<vmm::sys::errc> : std::true_type {};
