// vmm.testing — helpers shared by cpp-vmm's tests (not installed, not part of the library).
module;
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
export module vmm.testing;
import std;
import vmm.sys;
export import :event_manager;
export import :virtio;

export namespace vmm::testing {

/// The exact error code an OS failure with `error_number` produces (system category), for comparisons such as
/// BOOST_TEST(result.error() == os_error(EBADF)).
[[nodiscard]] inline auto os_error(int error_number) -> std::error_code {
  return {error_number, std::system_category()};
}

/// The error a result holds, or an empty error_code when it holds a value. Compare with this rather than with
/// r.error(), which is undefined behaviour on a result that (wrongly) succeeded:
/// BOOST_TEST(error_of(r) == os_error(EBADF)) fails readably as "system:0 != system:9".
template <class T>
[[nodiscard]] auto error_of(const vmm::result<T>& r) -> std::error_code {
  return r.error_or(std::error_code{});
}

/// "ok", or the category, value and message of the error: a readable failure message for BOOST_TEST.
template <class T>
[[nodiscard]] auto describe(const vmm::result<T>& r) -> std::string {
  if (r) {
    return "ok";
  }
  return std::format("{}:{} ({})", r.error().category().name(), r.error().value(), r.error().message());
}

/// Thrown by the handler that contract_violation_guard installs, so a test can observe a contract violation.
struct contract_violation_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// While alive, contract violations throw contract_violation_error instead of aborting the test process.
class contract_violation_guard {
 public:
  contract_violation_guard() : previous_{vmm::set_contract_violation_handler(&throw_violation)} {}
  contract_violation_guard(const contract_violation_guard&) = delete;
  auto operator=(const contract_violation_guard&) -> contract_violation_guard& = delete;
  ~contract_violation_guard() { vmm::set_contract_violation_handler(previous_); }

 private:
  [[noreturn]] static void throw_violation(const vmm::contract_violation& violation) {
    throw contract_violation_error{std::string{violation.message}};
  }
  vmm::contract_violation_handler previous_;
};

/// How many descriptors this process has open (entries of /proc/self/fd), for leak checks.
[[nodiscard]] inline auto open_fd_count() -> std::size_t {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator{"/proc/self/fd"}) {
    ++count;
  }
  return count - 1;  // the iterator's own directory descriptor
}

/// The bytes of `text`, for the byte-span APIs (write, send_with_fds).
[[nodiscard]] inline auto bytes(std::string_view text) -> std::span<const std::byte> {
  return std::as_bytes(std::span{text.data(), text.size()});
}

/// Whether FD_CLOEXEC is set on `fd`.
[[nodiscard]] inline auto is_close_on_exec(vmm::sys::borrowed_fd fd) -> bool {
  return (::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) != 0;
}

/// A pseudo-terminal pair, so terminal tests never touch the test's own terminal.
struct pseudo_terminal {
  vmm::sys::unique_fd master;
  vmm::sys::unique_fd slave;
};

/// Opens a new pseudo-terminal (master and slave, both close-on-exec and not the controlling terminal).
[[nodiscard]] inline auto open_pseudo_terminal() -> vmm::result<pseudo_terminal> {
  vmm::sys::unique_fd master{::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)};
  if (!master.valid()) {
    return vmm::os_failure();
  }
  if (::grantpt(master.get()) < 0 || ::unlockpt(master.get()) < 0) {
    return vmm::os_failure();
  }
  std::array<char, 64> name{};
  if (const int error = ::ptsname_r(master.get(), name.data(), name.size()); error != 0) {
    return vmm::os_failure(error);
  }
  vmm::sys::unique_fd slave{::open(name.data(), O_RDWR | O_NOCTTY | O_CLOEXEC)};
  if (!slave.valid()) {
    return vmm::os_failure();
  }
  return pseudo_terminal{.master = std::move(master), .slave = std::move(slave)};
}

/// Exit status of a child whose body returned (see wait_status_of_child).
inline constexpr int child_returned_status = 42;
/// Exit status of a child whose body threw (see wait_status_of_child).
inline constexpr int child_threw_status = 43;

/// Runs `body` in a forked child and returns the child's wait status (-1 when fork fails). The child never returns
/// into the test framework: when `body` returns it exits with child_returned_status, when it throws with
/// child_threw_status, both through _exit. SIGABRT is reset to its default in the child (Boost.Test catches it), so
/// an abort shows as WIFSIGNALED. When `stderr_sink` is valid, the child's stderr goes there.
[[nodiscard]] inline auto wait_status_of_child(const std::function<void()>& body,
                                               vmm::sys::borrowed_fd stderr_sink = {}) -> int {
  std::cout.flush();
  std::cerr.flush();
  static_cast<void>(std::fflush(nullptr));
  const ::pid_t pid = ::fork();
  if (pid == 0) {
    static_cast<void>(std::signal(SIGABRT, SIG_DFL));
    if (stderr_sink.valid()) {
      ::dup2(stderr_sink.get(), STDERR_FILENO);
    }
    try {
      body();
    } catch (...) {
      ::_exit(child_threw_status);
    }
    ::_exit(child_returned_status);
  }
  int status = -1;
  if (pid > 0) {
    ::waitpid(pid, &status, 0);
  }
  return status;
}

/// Whether a wait status says "exited normally with `code`".
[[nodiscard]] inline auto exited_with(int status, int code) -> bool {
  return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

/// Sends `signal` to `thread` every millisecond until `returned` is set or `patience` runs out; returns whether it
/// was set. Repeating covers the window between the flag check and the thread entering its blocking call.
[[nodiscard]] inline auto kick_until_returned(std::thread& thread, int signal, const std::atomic<bool>& returned,
                                              std::chrono::milliseconds patience = std::chrono::seconds{5}) -> bool {
  const auto give_up = std::chrono::steady_clock::now() + patience;
  while (!returned.load() && std::chrono::steady_clock::now() < give_up) {
    static_cast<void>(vmm::sys::kick_thread(thread.native_handle(), signal));
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  return returned.load();
}

/// /dev/kvm opened read-write, or why it cannot be (ENOENT without KVM, EACCES without permission): KVM tests
/// print the reason and skip.
[[nodiscard]] inline auto open_kvm() -> vmm::result<vmm::sys::unique_fd> {
  vmm::sys::unique_fd kvm{::open("/dev/kvm", O_RDWR | O_CLOEXEC)};
  if (!kvm.valid()) {
    return vmm::os_failure();
  }
  return kvm;
}

}  // namespace vmm::testing
