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
  // Always re-registered: after a reset and a new activation a queue eventfd may have the old one's number but be
  // another file, which epoll does not watch.
  for (const sys::borrowed_fd fd : watched_queues_) {
    note(ops.remove(fd));
  }
  watched_queues_.clear();
  const std::size_t count = device_->active_queues();
  for (std::size_t i = 0; i < count; ++i) {
    const sys::borrowed_fd now = device_->queue_event(i);
    if (!now.valid()) {
      continue;  // reset meanwhile
    }
    const auto data = static_cast<std::uint32_t>(source::queue) | static_cast<std::uint32_t>(i << 8U);
    auto added = ops.add({now, sys::event_set::readable, data});
    note(added);
    if (added) {
      watched_queues_.push_back(now);
      // The driver may have notified before the registration: look at the queue once.
      note(device_->process_queue(i));
    }
  }
}

void block_handler::process(const event_manager::events& ready, event_manager::event_ops& ops) {
  switch (static_cast<source>(ready.data() & 0xffU)) {
    case source::state:
      drain(ready.fd());
      follow_state(ops);
      break;
    case source::queue:
      drain(ready.fd());
      note(device_->process_queue(ready.data() >> 8U));
      break;
    case source::completion:
      note(device_->process_completions());
      break;
  }
}

}  // namespace vmm::virtio::block
