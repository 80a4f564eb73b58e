// rng_device::process_queue, the part of the device that drives its queue (apart from device.cpp, so code that
// only fills requests links without the queue implementation).
module vmm.virtio.rng;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.device;

namespace vmm::virtio::rng {

auto rng_device::broken() -> vmm::result<void> {
  ++metrics_.queue_errors;
  return vmm::failure(errc::queue_broken);
}

auto rng_device::answer_available(const memory::guest_memory& memory, queue::virtqueue& queue, bool& answered)
    -> vmm::result<void> {
  for (;;) {
    const auto popped = queue.pop(memory, chain_);
    if (!popped) {
      if (queue.broken()) {
        return broken();
      }
      ++metrics_.invalid_chains;  // the queue returned it to the driver (or could not) and moved on
      answered = true;
      continue;
    }
    if (!*popped) {
      return {};
    }
    const request_outcome outcome = fill_request(memory, chain_);
    account(outcome);
    if (auto used = queue.add_used(memory, chain_.token(), outcome.used_length); !used) {
      return broken();
    }
    answered = true;
  }
}

auto rng_device::process_queue() -> vmm::result<void> {
  const std::scoped_lock lock{mutex_};
  if (!active_) {
    return {};
  }
  const std::shared_ptr<const memory::guest_memory> memory = active_->memory->memory();
  auto& queue = active_->queues.front();
  if (queue.broken()) {
    return vmm::failure(errc::queue_broken);
  }
  bool answered = false;
  for (;;) {
    if (auto r = answer_available(*memory, queue, answered); !r) {
      return r;
    }
    // Re-enable notifications, and go on if the driver added chains meanwhile (EVENT_IDX's race).
    const auto more = queue.enable_notification(*memory);
    if (!more) {
      return broken();
    }
    if (!*more) {
      break;
    }
  }
  if (!answered) {
    return {};
  }
  const auto wanted = queue.needs_notification(*memory);
  if (!wanted) {
    return broken();
  }
  if (*wanted) {
    if (auto s = active_->interrupt->signal(device::interrupt_cause::used_buffer); s) {
      ++metrics_.interrupts;
    } else {
      ++metrics_.interrupt_errors;
    }
  }
  return {};
}

}  // namespace vmm::virtio::rng
