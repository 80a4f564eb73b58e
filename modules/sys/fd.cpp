module;
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>
module vmm.sys;
import std;

namespace vmm::sys {

void unique_fd::reset(int fd) noexcept {
  const int old = std::exchange(fd_, fd);
  if (old >= 0) {
    const int saved_errno = errno;
    // SAFETY: `old` is a descriptor this object owned exclusively; it is closed once and never used again. The
    // result is ignored on purpose: after close(2) returns, even with EINTR or EIO, Linux has released the number.
    static_cast<void>(::close(old));
    errno = saved_errno;
  }
}

auto unique_fd::duplicate() const -> result<unique_fd> {
  return sys::duplicate(borrow());
}

auto duplicate(borrowed_fd fd) -> result<unique_fd> {
  // SAFETY: fcntl(F_DUPFD_CLOEXEC) only reads the descriptor number; a bad one fails with EBADF.
  const int copy = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    return os_failure();
  }
  return unique_fd{copy};
}

auto set_nonblocking(borrowed_fd fd, bool nonblocking) -> result<void> {
  // SAFETY: F_GETFL/F_SETFL change only the open file's status flags.
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0) {
    return os_failure();
  }
  const int wanted = nonblocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && ::fcntl(fd.get(), F_SETFL, wanted) < 0) {
    return os_failure();
  }
  return {};
}

auto is_nonblocking(borrowed_fd fd) -> result<bool> {
  // SAFETY: F_GETFL only reads the status flags.
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0) {
    return os_failure();
  }
  return (flags & O_NONBLOCK) != 0;
}

auto read(borrowed_fd fd, std::span<std::byte> buffer) -> result<std::size_t> {
  // SAFETY: the kernel writes at most buffer.size() bytes into the span's storage, which the caller owns.
  const ::ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
  if (n < 0) {
    return os_failure();
  }
  return static_cast<std::size_t>(n);
}

auto write(borrowed_fd fd, std::span<const std::byte> data) -> result<std::size_t> {
  // SAFETY: the kernel reads at most data.size() bytes from the span's storage.
  const ::ssize_t n = ::write(fd.get(), data.data(), data.size());
  if (n < 0) {
    return os_failure();
  }
  return static_cast<std::size_t>(n);
}

auto make_pipe(bool nonblocking) -> result<std::pair<unique_fd, unique_fd>> {
  std::array<int, 2> ends{-1, -1};
  // SAFETY: pipe2 writes two descriptor numbers into `ends`, which has room for exactly two.
  if (::pipe2(ends.data(), O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0)) < 0) {
    return os_failure();
  }
  return std::pair{unique_fd{ends[0]}, unique_fd{ends[1]}};
}

auto is_open(borrowed_fd fd) noexcept -> bool {
  // SAFETY: F_GETFD only reads the descriptor flags.
  return fd.valid() && ::fcntl(fd.get(), F_GETFD) >= 0;
}

}  // namespace vmm::sys
