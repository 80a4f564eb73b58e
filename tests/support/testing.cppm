// vmm.testing — helpers shared by cpp-vmm's tests (not installed, not part of the library).
export module vmm.testing;
import std;
import vmm.sys;
export import :event_manager;

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

}  // namespace vmm::testing
