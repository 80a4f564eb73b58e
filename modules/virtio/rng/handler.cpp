module vmm.virtio.rng;
import std;
import vmm.sys;
import vmm.event_manager;

namespace vmm::virtio::rng {
namespace {

// The data tags of the two registrations.
constexpr std::uint32_t state_tag = 0;
constexpr std::uint32_t queue_tag = 1;

// Takes an eventfd's counter; EAGAIN (nothing there, a spurious wake-up) is not a failure.
auto drain(sys::borrowed_fd fd) -> bool {
  std::array<std::byte, sizeof(std::uint64_t)> counter{};
  const auto n = sys::read(fd, counter);
  return n.has_value() || n.error() == std::errc::resource_unavailable_try_again;
}

}  // namespace

rng_handler::rng_handler(std::shared_ptr<rng_device> device) : device_{std::move(device)} {
  vmm::contract_check(device_ != nullptr, "rng_handler needs a device");
}

void rng_handler::init(event_manager::event_ops& ops) {
  if (auto r = ops.add({device_->state_event(), sys::event_set::readable, state_tag}); !r) {
    ++errors_;
    return;
  }
  sync(ops);
}

void rng_handler::sync(event_manager::event_ops& ops) {
  // Re-register on every state change, even for the same fd number: a reset and a new activation may have closed
  // the old eventfd and opened the new one under that number, and epoll forgot the closed one.
  if (watched_queue_event_.valid()) {
    static_cast<void>(ops.remove(watched_queue_event_));  // already gone when the transport closed it first
    watched_queue_event_ = {};
  }
  const sys::borrowed_fd wanted = device_->queue_event();
  if (!wanted.valid()) {
    return;
  }
  if (auto r = ops.add({wanted, sys::event_set::readable, queue_tag}); !r) {
    ++errors_;
    return;
  }
  watched_queue_event_ = wanted;
  // The driver may have queued requests (and notified) before the registration.
  static_cast<void>(device_->process_queue());
}

void rng_handler::process(const event_manager::events& ready, event_manager::event_ops& ops) {
  if (!drain(ready.fd())) {
    ++errors_;
  }
  if (ready.data() == state_tag) {
    sync(ops);
    return;
  }
  static_cast<void>(device_->process_queue());  // failures are counted in the device's metrics
}

}  // namespace vmm::virtio::rng
