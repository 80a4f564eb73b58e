// rng_device::process_queue, the part of the device that drives its queue (apart from device.cpp, so code that
// only fills requests links without the queue implementation).
module vmm.virtio.rng;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.device;

namespace vmm::virtio::rng {

auto rng_device::process_queue() -> vmm::result<void> {
  const std::scoped_lock lock{mutex_};
  if (!active_) {
    return {};
  }
  const std::shared_ptr<const memory::guest_memory> memory = active_->memory->memory();
  auto& queue = active_->queues.front();
  const auto broken = [&]() -> vmm::result<void> {
    ++metrics_.queue_errors;
    return vmm::failure(errc::queue_broken);
  };
  if (queue.broken()) {
    return vmm::failure(errc::queue_broken);
  }
  bool answered = false;
  for (;;) {
    for (;;) {
      const auto popped = queue.pop(*memory, chain_);
      if (!popped) {
        if (queue.broken()) {
          return broken();
        }
        ++metrics_.invalid_chains;  // the queue returned it to the driver (or could not) and moved on
        answered = true;
        continue;
      }
      if (!*popped) {
        break;
      }
      const request_outcome outcome = fill_request(*memory, chain_);
      account(outcome);
      if (auto used = queue.add_used(*memory, chain_.token(), outcome.used_length); !used) {
        return broken();
      }
      answered = true;
    }
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
