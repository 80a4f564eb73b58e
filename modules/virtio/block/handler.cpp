module vmm.virtio.block;
import std;
import vmm.sys;
import vmm.event_manager;

namespace vmm::virtio::block {
namespace {

void must(const vmm::result<void>& r) {
  if (!r) {
    throw std::system_error{r.error()};
  }
}

// Takes an eventfd's counter (EAGAIN when it was already taken is fine: the event was seen).
void drain(sys::borrowed_fd fd) {
  std::array<std::byte, 8> counter{};
  static_cast<void>(sys::read(fd, counter));
}

}  // namespace

void block_handler::note(const vmm::result<void>& r) noexcept {
  if (!r) {
    last_error_ = r.error();
  }
}

void block_handler::init(event_manager::event_ops& ops) {
  must(ops.add({device_->state_event(), sys::event_set::readable, static_cast<std::uint32_t>(source::state)}));
  if (const auto fd = device_->completion_event(); fd.valid()) {
    must(ops.add({fd, sys::event_set::readable, static_cast<std::uint32_t>(source::completion)}));
  }
  follow_state(ops);
}

void block_handler::follow_state(event_manager::event_ops& ops) {
  // Always re-registered: after a reset and a new activation the queue eventfd may have the old one's number but
  // be another file, which epoll does not watch.
  const sys::borrowed_fd now = device_->queue_event();
  if (watched_queue_.valid()) {
    note(ops.remove(watched_queue_));
  }
  watched_queue_ = {};
  if (now.valid()) {
    auto added = ops.add({now, sys::event_set::readable, static_cast<std::uint32_t>(source::queue)});
    note(added);
    if (added) {
      watched_queue_ = now;
      // The driver may have notified before the registration: look at the queue once.
      note(device_->process_queue());
    }
  }
}

void block_handler::process(const event_manager::events& ready, event_manager::event_ops& ops) {
  switch (static_cast<source>(ready.data())) {
    case source::state:
      drain(ready.fd());
      follow_state(ops);
      break;
    case source::queue:
      drain(ready.fd());
      note(device_->process_queue());
      break;
    case source::completion:
      note(device_->process_completions());
      break;
  }
}

}  // namespace vmm::virtio::block
