module;
#include <ctime>
#include <sys/timerfd.h>
module vmm.sys;
import std;

namespace vmm::sys {
namespace {

auto to_timespec(std::chrono::nanoseconds d) noexcept -> ::timespec {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(d);
  return ::timespec{.tv_sec = static_cast<::time_t>(secs.count()), .tv_nsec = static_cast<long>((d - secs).count())};
}

auto from_timespec(const ::timespec& t) noexcept -> std::chrono::nanoseconds {
  return std::chrono::seconds{t.tv_sec} + std::chrono::nanoseconds{t.tv_nsec};
}

auto native_clock(timer_clock clock) noexcept -> ::clockid_t {
  switch (clock) {
    case timer_clock::realtime:
      return CLOCK_REALTIME;
    case timer_clock::boottime:
      return CLOCK_BOOTTIME;
    case timer_clock::monotonic:
      break;
  }
  return CLOCK_MONOTONIC;
}

}  // namespace

auto timer_fd::create(timer_clock clock, bool nonblocking) -> result<timer_fd> {
  // SAFETY: timerfd_create only creates a new descriptor.
  const int fd = ::timerfd_create(native_clock(clock), TFD_CLOEXEC | (nonblocking ? TFD_NONBLOCK : 0));
  if (fd < 0) {
    return os_failure();
  }
  return timer_fd{unique_fd{fd}};
}

auto timer_fd::set(std::chrono::nanoseconds first, std::chrono::nanoseconds interval, bool absolute) const
    -> result<void> {
  const ::itimerspec spec{.it_interval = to_timespec(interval), .it_value = to_timespec(first)};
  // SAFETY: timerfd_settime reads `spec`, a live local; the old-value pointer is null.
  if (::timerfd_settime(fd_.get(), absolute ? TFD_TIMER_ABSTIME : 0, &spec, nullptr) < 0) {
    return os_failure();
  }
  return {};
}

auto timer_fd::arm_once(std::chrono::nanoseconds after) const -> result<void> {
  if (after.count() <= 0) {
    return failure(errc::invalid_duration);  // zero would silently disarm instead of firing
  }
  return set(after, std::chrono::nanoseconds::zero(), false);
}

auto timer_fd::arm_periodic(std::chrono::nanoseconds first, std::chrono::nanoseconds interval) const -> result<void> {
  if (first.count() <= 0 || interval.count() <= 0) {
    return failure(errc::invalid_duration);
  }
  return set(first, interval, false);
}

auto timer_fd::arm_at(std::chrono::nanoseconds deadline, std::chrono::nanoseconds interval) const -> result<void> {
  if (deadline.count() <= 0 || interval.count() < 0) {
    return failure(errc::invalid_duration);
  }
  return set(deadline, interval, true);
}

auto timer_fd::disarm() const -> result<void> {
  return set(std::chrono::nanoseconds::zero(), std::chrono::nanoseconds::zero(), false);
}

auto timer_fd::wait() const -> result<std::uint64_t> {
  std::uint64_t expirations = 0;
  auto got = sys::read(fd_, std::as_writable_bytes(std::span{&expirations, 1}));
  if (!got) {
    return std::unexpected(got.error());
  }
  contract_check(*got == sizeof expirations, "timerfd read transferred a partial count");
  return expirations;
}

auto timer_fd::state() const -> result<timer_state> {
  ::itimerspec spec{};
  // SAFETY: timerfd_gettime writes one itimerspec into `spec`, a live local.
  if (::timerfd_gettime(fd_.get(), &spec) < 0) {
    return os_failure();
  }
  return timer_state{.remaining = from_timespec(spec.it_value), .interval = from_timespec(spec.it_interval)};
}

}  // namespace vmm::sys
