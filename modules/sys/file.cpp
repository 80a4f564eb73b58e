module;
#include <cerrno>
#include <fcntl.h>
module vmm.sys;
import std;

namespace vmm::sys {

auto open_file(const std::filesystem::path& path, open_options options) -> result<unique_fd> {
  if (!options.read && !options.write) {
    return os_failure(EINVAL);
  }
  if (path.native().find('\0') != std::string::npos) {
    return os_failure(EINVAL);
  }
  int flags = O_CLOEXEC;
  if (options.read && options.write) {
    flags |= O_RDWR;
  } else if (options.write) {
    flags |= O_WRONLY;
  } else {
    flags |= O_RDONLY;
  }
  if (options.nonblocking) {
    flags |= O_NONBLOCK;
  }
  if (options.no_follow) {
    flags |= O_NOFOLLOW;
  }
  // SAFETY: open reads the NUL-terminated path (checked above to hold no embedded NUL) and returns a new
  // descriptor, which the unique_fd owns from here on; O_CREAT is never passed, so no mode argument is read.
  unique_fd fd{::open(path.c_str(), flags)};  // NOLINT(cppcoreguidelines-pro-type-vararg)
  if (!fd.valid()) {
    return os_failure();
  }
  return fd;
}

}  // namespace vmm::sys
