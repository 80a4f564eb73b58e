module;
#include <sys/random.h>
#include <sys/types.h>
module vmm.sys;
import std;

namespace vmm::sys {

auto get_random(std::span<std::byte> out, random_options options) -> result<std::size_t> {
  if (out.empty()) {
    return 0;
  }
  const unsigned flags = options.nonblocking ? GRND_NONBLOCK : 0U;
  // SAFETY: the kernel writes at most out.size() bytes into out.data(), a live buffer of that size the caller owns;
  // nothing else is shared with the call.
  const ::ssize_t n = ::getrandom(out.data(), out.size(), flags);
  if (n < 0) {
    return os_failure();
  }
  return static_cast<std::size_t>(n);
}

}  // namespace vmm::sys
