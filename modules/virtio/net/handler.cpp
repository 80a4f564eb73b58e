module vmm.virtio.net;
import std;
import vmm.sys;
import vmm.event_manager;

namespace vmm::virtio::net {
namespace {

// The data tags of the registrations.
constexpr std::uint32_t state_tag = 0;
constexpr std::uint32_t rx_tag = 1;
constexpr std::uint32_t tx_tag = 2;
constexpr std::uint32_t tap_tag = 3;

// Takes an eventfd's counter; EAGAIN (nothing there, a spurious wake-up) is not a failure.
auto drain(sys::borrowed_fd fd) -> bool {
  std::array<std::byte, sizeof(std::uint64_t)> counter{};
  const auto n = sys::read(fd, counter);
  return n.has_value() || n.error() == std::errc::resource_unavailable_try_again;
}

}  // namespace

net_handler::net_handler(std::shared_ptr<net_device> device) : device_{std::move(device)} {
  vmm::contract_check(device_ != nullptr, "net_handler needs a device");
}

void net_handler::init(event_manager::event_ops& ops) {
  if (auto r = ops.add({device_->state_event(), sys::event_set::readable, state_tag}); !r) {
    ++errors_;
    return;
  }
  sync(ops);
}

void net_handler::watch_tap(event_manager::event_ops& ops, bool wanted) {
  if (wanted == tap_watched_) {
    return;
  }
  if (wanted) {
    if (auto r = ops.add({device_->tap_fd(), sys::event_set::readable, tap_tag}); !r) {
      ++errors_;
      return;
    }
  } else {
    static_cast<void>(ops.remove(device_->tap_fd()));
  }
  tap_watched_ = wanted;
}

void net_handler::run_rx(event_manager::event_ops& ops) {
  const auto keep = device_->process_rx();
  watch_tap(ops, keep.value_or(false));
}

void net_handler::rewatch(event_manager::event_ops& ops, sys::borrowed_fd& watched, sys::borrowed_fd wanted,
                          std::uint32_t tag) {
  if (watched.valid()) {
    static_cast<void>(ops.remove(watched));  // already gone when the transport closed it first
    watched = {};
  }
  if (!wanted.valid()) {
    return;
  }
  if (auto r = ops.add({wanted, sys::event_set::readable, tag}); !r) {
    ++errors_;
    return;
  }
  watched = wanted;
}

void net_handler::sync(event_manager::event_ops& ops) {
  // Re-register on every state change, even for the same fd numbers: a reset and a new activation may have closed
  // the old eventfds and opened new ones under those numbers, and epoll forgot the closed ones.
  rewatch(ops, std::get<rx_queue>(watched_queue_events_), device_->queue_event(rx_queue), rx_tag);
  rewatch(ops, std::get<tx_queue>(watched_queue_events_), device_->queue_event(tx_queue), tx_tag);
  if (!device_->active()) {
    watch_tap(ops, false);
    return;
  }
  // The driver may have queued frames (and notified) before the registrations.
  static_cast<void>(device_->process_tx());
  run_rx(ops);
}

void net_handler::process(const event_manager::events& ready, event_manager::event_ops& ops) {
  switch (ready.data()) {
    case state_tag:
      if (!drain(ready.fd())) {
        ++errors_;
      }
      sync(ops);
      break;
    case tx_tag:
      if (!drain(ready.fd())) {
        ++errors_;
      }
      static_cast<void>(device_->process_tx());  // failures are counted in the device's metrics
      break;
    case rx_tag:
      if (!drain(ready.fd())) {
        ++errors_;
      }
      run_rx(ops);
      break;
    default:  // tap_tag
      run_rx(ops);
      break;
  }
}

}  // namespace vmm::virtio::net
