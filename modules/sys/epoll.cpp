module;
#include <cerrno>
#include <sys/epoll.h>
module vmm.sys;
import std;

namespace vmm::sys {

static_assert(sizeof(ready_event) == sizeof(::epoll_event) && alignof(ready_event) == alignof(::epoll_event),
              "ready_event must be layout-identical to epoll_event: wait() passes an array of them to the kernel");

auto epoll::create() -> result<epoll> {
  // SAFETY: epoll_create1 only creates a new descriptor.
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) {
    return os_failure();
  }
  return epoll{unique_fd{fd}};
}

auto epoll::control(int op, borrowed_fd fd, event_set events, std::uint64_t data) const -> result<void> {
  ::epoll_event event{};
  event.events = std::to_underlying(events);
  event.data.u64 = data;
  // SAFETY: epoll_ctl reads `event`, a live local, and keeps no pointer to it.
  if (::epoll_ctl(fd_.get(), op, fd.get(), &event) < 0) {
    return os_failure();
  }
  return {};
}

auto epoll::add(borrowed_fd fd, event_set events, std::uint64_t data) const -> result<void> {
  return control(EPOLL_CTL_ADD, fd, events, data);
}

auto epoll::modify(borrowed_fd fd, event_set events, std::uint64_t data) const -> result<void> {
  return control(EPOLL_CTL_MOD, fd, events, data);
}

auto epoll::remove(borrowed_fd fd) const -> result<void> {
  return control(EPOLL_CTL_DEL, fd, event_set::none, 0);
}

auto epoll::wait_for(std::span<ready_event> out, int timeout_ms) const -> result<std::size_t> {
  if (out.empty()) {
    return os_failure(EINVAL);  // what epoll_wait says for maxevents == 0, without touching a null span
  }
  const int capacity = static_cast<int>(std::min<std::size_t>(out.size(), std::numeric_limits<int>::max()));
  // SAFETY: ready_event is layout-identical to epoll_event (static_assert above) and holds nothing else, so the
  // kernel may write up to `capacity` epoll_event records into the span's storage.
  const int n = ::epoll_wait(fd_.get(), &out.data()->raw_, capacity, timeout_ms);
  if (n < 0) {
    return os_failure();
  }
  return static_cast<std::size_t>(n);
}

auto epoll::wait(std::span<ready_event> out) const -> result<std::size_t> {
  return wait_for(out, -1);
}

auto epoll::wait(std::span<ready_event> out, std::chrono::milliseconds timeout) const -> result<std::size_t> {
  if (timeout.count() < 0) {
    return failure(errc::invalid_duration);
  }
  const auto ms = std::min<std::chrono::milliseconds::rep>(timeout.count(), std::numeric_limits<int>::max());
  return wait_for(out, static_cast<int>(ms));
}

}  // namespace vmm::sys
