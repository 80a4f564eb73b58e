module;
#include <cerrno>
module vmm.event_manager;
import std;
import vmm.sys;

namespace vmm::event_manager {

auto registry::create(std::size_t capacity_hint) -> result<registry> {
  auto epoll = sys::epoll::create();
  if (!epoll) {
    return std::unexpected(epoll.error());
  }
  registry r{std::move(*epoll)};
  r.registrations_.reserve(capacity_hint);
  r.slots_.reserve(capacity_hint);
  r.by_fd_.reserve(capacity_hint);
  return r;
}

auto registry::acquire_slot() -> result<subscriber_id> {
  std::uint32_t slot = 0;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    if (slots_.size() >= std::numeric_limits<std::uint32_t>::max() - 1) {
      return vmm::failure(errc::too_many_subscribers);
    }
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
    free_slots_.reserve(slots_.capacity());  // so recycle_slot() never allocates
  }
  slots_[slot].live = true;
  ++live_slots_;
  return subscriber_id{slot, slots_[slot].generation};
}

void registry::release_slot(std::uint32_t slot) noexcept {
  auto& state = slots_[slot];
  for (const auto index : state.registrations) {
    // The fd may already be closed (then the kernel dropped it); either way it is no longer ours to watch.
    static_cast<void>(epoll_.remove(registrations_[index].fd));
    by_fd_.erase(registrations_[index].fd.get());
    retire(index);
  }
  state.registrations.clear();
  state.live = false;
  ++state.generation;  // stale ids of this slot stop matching
  --live_slots_;
}

// NOLINTNEXTLINE(bugprone-exception-escape): push_back cannot throw, see the reserve() in add().
void registry::retire(std::uint32_t index) noexcept {
  auto& entry = registrations_[index];
  entry.live = false;
  ++entry.generation;  // reports already fetched for this registration stop matching
  free_registrations_.push_back(index);
}

auto registry::add(std::uint32_t slot, const events& interest) -> result<void> {
  const bool reuse = !free_registrations_.empty();
  std::uint32_t index = 0;
  if (reuse) {
    index = free_registrations_.back();
  } else {
    if (registrations_.size() >= std::numeric_limits<std::uint32_t>::max() - 1) {
      return vmm::failure(errc::too_many_subscribers);
    }
    index = static_cast<std::uint32_t>(registrations_.size());
    registrations_.emplace_back();
    // The free list never holds more entries than the table, so with this capacity retire() (noexcept) never
    // has to allocate.
    free_registrations_.reserve(registrations_.capacity());
  }
  auto& entry = registrations_[index];
  if (auto added = epoll_.add(interest.fd(), interest.set(), token(index, entry.generation)); !added) {
    if (!reuse) {
      free_registrations_.push_back(index);  // the fresh entry stays free for the next add
    }
    if (added.error() == std::error_code{EEXIST, std::system_category()}) {
      return vmm::failure(errc::fd_already_registered);
    }
    return std::unexpected(added.error());
  }
  if (reuse) {
    free_registrations_.pop_back();
  }
  // The kernel accepted the fd, so an older registration under the same number was for an fd closed since
  // (closing removes it from epoll): forget that one.
  if (const auto old = by_fd_.find(interest.fd().get()); old != by_fd_.end()) {
    auto& owner = slots_[registrations_[old->second].slot].registrations;
    std::erase(owner, old->second);
    retire(old->second);
    by_fd_.erase(old);
  }
  entry.fd = interest.fd();
  entry.data = interest.data();
  entry.slot = slot;
  entry.live = true;
  by_fd_.emplace(interest.fd().get(), index);
  slots_[slot].registrations.push_back(index);
  return {};
}

auto registry::modify(std::uint32_t slot, const events& interest) -> result<void> {
  const auto found = by_fd_.find(interest.fd().get());
  if (found == by_fd_.end() || registrations_[found->second].slot != slot) {
    return vmm::failure(errc::fd_not_registered);
  }
  auto& entry = registrations_[found->second];
  if (auto modified = epoll_.modify(interest.fd(), interest.set(), token(found->second, entry.generation)); !modified) {
    return std::unexpected(modified.error());
  }
  entry.data = interest.data();
  return {};
}

auto registry::remove(std::uint32_t slot, sys::borrowed_fd fd) -> result<void> {
  const auto found = by_fd_.find(fd.get());
  if (found == by_fd_.end() || registrations_[found->second].slot != slot) {
    return vmm::failure(errc::fd_not_registered);
  }
  // EBADF/ENOENT mean the fd was closed and the kernel already forgot it; the registration goes either way.
  static_cast<void>(epoll_.remove(fd));
  const auto index = found->second;
  by_fd_.erase(found);
  std::erase(slots_[slot].registrations, index);
  retire(index);
  return {};
}

}  // namespace vmm::event_manager
