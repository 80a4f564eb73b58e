module;
#include <cstdio>
#include <cstdlib>
module vmm.sys;
import std;

namespace vmm {
namespace {

[[noreturn]] void default_contract_violation_handler(const contract_violation& violation) {
  // C stdio on purpose: no iostream state to depend on while the process is about to abort.
  // NOLINTNEXTLINE(modernize-use-std-print)
  static_cast<void>(std::fprintf(stderr, "cpp-vmm: contract violation at %s:%u (%s): %.*s\n",
                                 violation.where.file_name(), static_cast<unsigned>(violation.where.line()),
                                 violation.where.function_name(), static_cast<int>(violation.message.size()),
                                 violation.message.data()));
  std::abort();
}

// The one process-wide setting of the library; atomic, so installing a handler races with nothing.
// NOLINTNEXTLINE(*-avoid-non-const-global-variables)
constinit std::atomic<contract_violation_handler> installed_handler{nullptr};

class sys_error_category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.sys"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<sys::errc>(value)) {
      case sys::errc::invalid_signal:
        return "Signal number is outside the accepted range (kick signals must be real-time signals)";
      case sys::errc::too_many_fds:
        return "More file descriptors than one SCM_RIGHTS message can carry (the kernel limit is 253)";
      case sys::errc::fds_truncated:
        return "The peer sent more file descriptors than allowed; the extra ones were closed";
      case sys::errc::message_truncated:
        return "The received packet was larger than the buffer; its tail was discarded";
      case sys::errc::empty_message:
        return "File descriptors must travel with at least one byte of data (and a receive buffer must hold one)";
      case sys::errc::path_too_long:
        return "Unix socket path is longer than sockaddr_un can hold (107 bytes)";
      case sys::errc::invalid_duration:
        return "Timer duration is negative, or zero where zero would disarm the timer";
      case sys::errc::invalid_name:
        return "File name or prefix contains a byte it may not (NUL; '/' in a temporary file prefix)";
    }
    return "Unknown vmm.sys error " + std::to_string(value);
  }
};

}  // namespace

auto set_contract_violation_handler(contract_violation_handler handler) noexcept -> contract_violation_handler {
  return installed_handler.exchange(handler);
}

void report_contract_violation(std::string_view message, std::source_location where) {
  const contract_violation violation{.message = message, .where = where};
  if (auto* handler = installed_handler.load(); handler != nullptr) {
    handler(violation);
  }
  default_contract_violation_handler(violation);
}

namespace sys {

auto sys_category() noexcept -> const std::error_category& {
  static const sys_error_category category;
  return category;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), sys_category()};
}

}  // namespace sys
}  // namespace vmm
