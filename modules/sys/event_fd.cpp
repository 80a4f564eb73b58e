module;
#include <cerrno>
#include <sys/eventfd.h>
module vmm.sys;
import std;

namespace vmm::sys {

auto event_fd::create(event_fd_options options) -> result<event_fd> {
  if (options.initial > std::numeric_limits<unsigned int>::max()) {
    return os_failure(EINVAL);
  }
  const int flags = EFD_CLOEXEC | (options.semaphore ? EFD_SEMAPHORE : 0) | (options.nonblocking ? EFD_NONBLOCK : 0);
  // SAFETY: eventfd only creates a new descriptor; no memory is shared with the kernel.
  const int fd = ::eventfd(static_cast<unsigned int>(options.initial), flags);
  if (fd < 0) {
    return os_failure();
  }
  return event_fd{unique_fd{fd}};
}

auto event_fd::write(std::uint64_t value) const -> result<void> {
  const auto bytes = std::as_bytes(std::span{&value, 1});
  auto written = sys::write(fd_, bytes);
  if (!written) {
    return std::unexpected(written.error());
  }
  // An eventfd transfers exactly 8 bytes or fails; anything else would be a kernel contract break.
  contract_check(*written == sizeof value, "eventfd write transferred a partial counter");
  return {};
}

auto event_fd::read() const -> result<std::uint64_t> {
  std::uint64_t value = 0;
  auto got = sys::read(fd_, std::as_writable_bytes(std::span{&value, 1}));
  if (!got) {
    return std::unexpected(got.error());
  }
  contract_check(*got == sizeof value, "eventfd read transferred a partial counter");
  return value;
}

auto event_fd::try_clone() const -> result<event_fd> {
  return fd_.duplicate().transform([](unique_fd fd) { return event_fd{std::move(fd)}; });
}

}  // namespace vmm::sys
