// The error conventions: vmm::result, the os_failure/failure helpers, the vmm.sys error category, and the contract
// check with its replaceable violation handler.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>

import std;
import vmm.sys;
import vmm.testing;

using vmm::testing::os_error;
namespace sys = vmm::sys;
using vmm::testing::error_of;
using vmm::testing::wait_status_of_child;

namespace {

// Every enumerator of vmm::sys::errc, in declaration order. Keep in step with error.cppm.
constexpr std::array all_sys_errors{
    sys::errc::invalid_signal, sys::errc::too_many_fds,  sys::errc::fds_truncated,    sys::errc::message_truncated,
    sys::errc::empty_message,  sys::errc::path_too_long, sys::errc::invalid_duration, sys::errc::invalid_name,
};

// The first value past the last enumerator (invalid_name == 8).
constexpr int first_unknown_value = 9;

// Exit status of the handler that exits instead of returning, to tell it apart from the default handler's abort.
constexpr int custom_handler_ran = 44;

auto half(int value) -> vmm::result<int> {
  if (value % 2 != 0) {
    return vmm::os_failure(EINVAL);
  }
  return value / 2;
}

// Everything readable from `fd` until end of file.
auto read_all(sys::borrowed_fd fd) -> std::string {
  std::string text;
  std::array<std::byte, 256> chunk{};
  for (auto got = sys::read(fd, chunk); got.has_value() && *got > 0; got = sys::read(fd, chunk)) {
    text.append(reinterpret_cast<const char*>(chunk.data()), *got);
  }
  return text;
}

auto killed_by_abort(int status) -> bool {
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

// A handler that records what it was given and throws, so the test regains control.
struct recorded_violation {
  std::string message;
  std::string file;
  std::uint_least32_t line = 0;
};

[[noreturn]] void record_and_throw(const vmm::contract_violation& violation) {
  throw recorded_violation{
      .message = std::string{violation.message}, .file = violation.where.file_name(), .line = violation.where.line()};
}

[[noreturn]] void first_handler(const vmm::contract_violation& /*violation*/) {
  std::abort();
}
[[noreturn]] void second_handler(const vmm::contract_violation& /*violation*/) {
  std::abort();
}

// Breaks the "must not return" rule on purpose.
void returning_handler(const vmm::contract_violation& /*violation*/) {
}

[[noreturn]] void exiting_handler(const vmm::contract_violation& /*violation*/) {
  ::_exit(custom_handler_ran);
}

// Installs a handler for one test and puts the previous one back afterwards.
class handler_scope {
 public:
  explicit handler_scope(vmm::contract_violation_handler handler)
      : previous_{vmm::set_contract_violation_handler(handler)} {}
  handler_scope(const handler_scope&) = delete;
  auto operator=(const handler_scope&) -> handler_scope& = delete;
  ~handler_scope() { vmm::set_contract_violation_handler(previous_); }

 private:
  vmm::contract_violation_handler previous_;
};

auto carries_message(const vmm::testing::contract_violation_error& error, std::string_view expected) -> bool {
  return std::string_view{error.what()} == expected;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sys_error)

// --- vmm::result and the failure helpers ---

BOOST_AUTO_TEST_CASE(result_is_std_expected_with_an_error_code) {
  static_assert(std::is_same_v<vmm::result<int>, std::expected<int, std::error_code>>);
  static_assert(std::is_same_v<vmm::result<void>, std::expected<void, std::error_code>>);
  BOOST_TEST(half(8).value() == 4);
}

BOOST_AUTO_TEST_CASE(result_carries_the_error_of_a_failed_call) {
  const auto r = half(7);
  BOOST_TEST(!r.has_value());
  BOOST_TEST(error_of(r) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(os_failure_with_a_number_is_that_errno_in_the_system_category) {
  const auto failed = vmm::os_failure(ENOSPC);
  BOOST_TEST(failed.error().value() == ENOSPC);
  BOOST_TEST((failed.error().category() == std::system_category()));
}

BOOST_AUTO_TEST_CASE(os_failure_without_a_number_captures_the_current_errno) {
  errno = EACCES;  // as left behind by a failing system call
  const auto failed = vmm::os_failure();
  BOOST_TEST(failed.error() == os_error(EACCES));
}

BOOST_AUTO_TEST_CASE(last_os_error_reads_the_current_errno) {
  errno = EMFILE;
  const auto code = vmm::last_os_error();
  BOOST_TEST(code == os_error(EMFILE));
}

BOOST_AUTO_TEST_CASE(os_errors_compare_equal_to_the_portable_std_errc_condition) {
  const auto failed = vmm::os_failure(EINVAL);
  BOOST_TEST((failed.error() == std::errc::invalid_argument));
}

BOOST_AUTO_TEST_CASE(failure_with_a_sys_errc_uses_the_vmm_sys_category) {
  const auto failed = vmm::failure(sys::errc::too_many_fds);
  BOOST_TEST(failed.error() == make_error_code(sys::errc::too_many_fds));
  BOOST_TEST((failed.error().category() == sys::sys_category()));
  BOOST_TEST(failed.error().value() == static_cast<int>(sys::errc::too_many_fds));
}

BOOST_AUTO_TEST_CASE(failure_with_a_std_errc_uses_the_generic_category) {
  const auto failed = vmm::failure(std::errc::invalid_argument);
  BOOST_TEST(failed.error() == std::make_error_code(std::errc::invalid_argument));
  BOOST_TEST((failed.error().category() == std::generic_category()));
}

// --- the vmm.sys category ---

BOOST_AUTO_TEST_CASE(sys_category_is_named_vmm_sys) {
  BOOST_TEST(std::string_view{sys::sys_category().name()} == "vmm.sys");
}

BOOST_AUTO_TEST_CASE(sys_category_is_a_single_object) {
  BOOST_TEST(&sys::sys_category() == &sys::sys_category());
}

BOOST_AUTO_TEST_CASE(every_errc_has_a_non_empty_message) {
  for (const auto e : all_sys_errors) {
    BOOST_TEST(!make_error_code(e).message().empty(), "errc value " << static_cast<int>(e));
  }
}

BOOST_AUTO_TEST_CASE(every_errc_has_a_message_of_its_own) {
  std::set<std::string> messages;
  for (const auto e : all_sys_errors) {
    messages.insert(make_error_code(e).message());
  }
  BOOST_TEST(messages.size() == all_sys_errors.size());
}

BOOST_AUTO_TEST_CASE(known_errc_messages_differ_from_the_unknown_value_message) {
  const auto unknown = sys::sys_category().message(first_unknown_value);
  for (const auto e : all_sys_errors) {
    BOOST_TEST(make_error_code(e).message() != unknown, "errc value " << static_cast<int>(e));
  }
}

BOOST_AUTO_TEST_CASE(unknown_value_gets_a_message_naming_the_value) {
  constexpr int unknown_value = 200;  // no enumerator has it
  const auto message = sys::sys_category().message(unknown_value);
  BOOST_TEST(message.contains("200"));
  BOOST_TEST(sys::sys_category().message(first_unknown_value).contains(std::to_string(first_unknown_value)));
}

BOOST_AUTO_TEST_CASE(value_zero_is_not_an_enumerator_and_gets_the_unknown_message) {
  BOOST_TEST(sys::sys_category().message(0).contains("0"));
  BOOST_TEST(sys::sys_category().message(0) != make_error_code(sys::errc::invalid_signal).message());
}

BOOST_AUTO_TEST_CASE(errc_converts_implicitly_to_std_error_code) {
  static_assert(std::is_error_code_enum_v<sys::errc>);
  const std::error_code code = sys::errc::fds_truncated;
  BOOST_TEST(code == make_error_code(sys::errc::fds_truncated));
  BOOST_TEST((code.category() == sys::sys_category()));
  BOOST_TEST(code.message() == sys::sys_category().message(static_cast<int>(sys::errc::fds_truncated)));
}

BOOST_AUTO_TEST_CASE(a_sys_errc_never_equals_the_os_error_with_the_same_number) {
  // too_many_fds is 2, which is also ENOENT: the categories must keep them apart.
  const std::error_code code = sys::errc::too_many_fds;
  BOOST_TEST(code.value() == ENOENT);
  BOOST_TEST(code != os_error(ENOENT));
}

BOOST_AUTO_TEST_CASE(errc_values_are_not_zero_so_they_read_as_errors) {
  for (const auto e : all_sys_errors) {
    BOOST_TEST(static_cast<bool>(make_error_code(e)), "errc value " << static_cast<int>(e));
  }
}

// --- contract_check and its handler ---

BOOST_AUTO_TEST_CASE(failing_check_throws_the_message_under_the_test_guard) {
  const vmm::testing::contract_violation_guard guard;
  BOOST_CHECK_EXCEPTION(vmm::contract_check(false, "queue index out of range"), vmm::testing::contract_violation_error,
                        [](const auto& error) { return carries_message(error, "queue index out of range"); });
}

BOOST_AUTO_TEST_CASE(passing_check_does_nothing) {
  const vmm::testing::contract_violation_guard guard;
  BOOST_CHECK_NO_THROW(vmm::contract_check(true, "never reported"));
}

BOOST_AUTO_TEST_CASE(passing_check_does_not_call_the_handler) {
  const handler_scope scope{&record_and_throw};
  BOOST_CHECK_NO_THROW(vmm::contract_check(true, "never reported"));
}

BOOST_AUTO_TEST_CASE(handler_receives_the_message_and_the_explicit_location) {
  const handler_scope scope{&record_and_throw};
  const auto where = std::source_location::current();
  try {
    vmm::contract_check(false, "ring size is not a power of two", where);
    BOOST_FAIL("contract_check returned after a violation");
  } catch (const recorded_violation& violation) {
    BOOST_TEST(violation.message == "ring size is not a power of two");
    BOOST_TEST(violation.line == where.line());
    BOOST_TEST(violation.file == where.file_name());
  }
}

BOOST_AUTO_TEST_CASE(default_location_is_the_caller_not_the_library) {
  const handler_scope scope{&record_and_throw};
  try {
    vmm::contract_check(false, "located");
    BOOST_FAIL("contract_check returned after a violation");
  } catch (const recorded_violation& violation) {
    BOOST_TEST(violation.file.ends_with("error_test.cpp"));
  }
}

BOOST_AUTO_TEST_CASE(set_handler_returns_the_previous_handler) {
  const handler_scope scope{&first_handler};
  const auto previous = vmm::set_contract_violation_handler(&second_handler);
  BOOST_TEST((previous == &first_handler));
  const auto replaced = vmm::set_contract_violation_handler(&first_handler);
  BOOST_TEST((replaced == &second_handler));
}

BOOST_AUTO_TEST_CASE(test_guard_puts_the_previous_handler_back) {
  const handler_scope scope{&first_handler};
  {
    const vmm::testing::contract_violation_guard guard;
  }
  BOOST_TEST((vmm::set_contract_violation_handler(&first_handler) == &first_handler));
}

BOOST_AUTO_TEST_CASE(default_handler_aborts_the_process) {
  const int status = wait_status_of_child([] {
    static_cast<void>(vmm::set_contract_violation_handler(nullptr));
    vmm::contract_check(false, "deliberate violation in a child process");
  });
  BOOST_TEST(killed_by_abort(status), "wait status " << status);
}

BOOST_AUTO_TEST_CASE(default_handler_prints_the_message_to_stderr) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value(), vmm::testing::describe(pipe));
  const int status = wait_status_of_child(
      [] {
        static_cast<void>(vmm::set_contract_violation_handler(nullptr));
        vmm::contract_check(false, "the distinctive violation text");
      },
      pipe->second);
  pipe->second.reset();  // so reading ends when the child's copy is gone too
  const auto printed = read_all(pipe->first);
  BOOST_TEST(killed_by_abort(status), "wait status " << status);
  BOOST_TEST(printed.contains("the distinctive violation text"));
  BOOST_TEST(printed.contains("error_test.cpp"));
}

BOOST_AUTO_TEST_CASE(handler_that_returns_still_ends_in_abort) {
  const int status = wait_status_of_child([] {
    static_cast<void>(vmm::set_contract_violation_handler(&returning_handler));
    vmm::contract_check(false, "the handler returns");
  });
  BOOST_TEST(killed_by_abort(status), "wait status " << status);
}

BOOST_AUTO_TEST_CASE(installed_handler_runs_instead_of_the_default) {
  const int status = wait_status_of_child([] {
    static_cast<void>(vmm::set_contract_violation_handler(&exiting_handler));
    vmm::contract_check(false, "handled by the custom handler");
  });
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == custom_handler_ran);
}

BOOST_AUTO_TEST_CASE(installing_nullptr_restores_the_default_handler) {
  const int status = wait_status_of_child([] {
    static_cast<void>(vmm::set_contract_violation_handler(&exiting_handler));
    static_cast<void>(vmm::set_contract_violation_handler(nullptr));
    vmm::contract_check(false, "back to the default");
  });
  BOOST_TEST(killed_by_abort(status), "wait status " << status);
}

BOOST_AUTO_TEST_SUITE_END()
