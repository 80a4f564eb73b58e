module vmm.virtio.vsock;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.device;

namespace vmm::virtio::vsock {

auto vsock_device::create(muxer_config config) -> vmm::result<std::shared_ptr<vsock_device>> {
  auto m = muxer::create(std::move(config));
  if (!m) {
    return std::unexpected(m.error());
  }
  return std::make_shared<vsock_device>(std::move(*m));
}

vsock_device::vsock_device(std::unique_ptr<vsock::muxer> muxer) noexcept
    : muxer_{std::move(muxer)}, metrics_{muxer_->shared_counters()}, backend_fd_{muxer_->epoll_fd()} {
}

auto vsock_device::device_type() const noexcept -> std::uint32_t {
  return device::device_id::vsock;
}

auto vsock_device::device_features() const noexcept -> std::uint64_t {
  return (1ULL << queue::feature::version_1) | (1ULL << feature::seqpacket) | (1ULL << queue::feature::event_idx) |
         (1ULL << queue::feature::ring_packed);
}

auto vsock_device::queue_max_sizes() const noexcept -> std::span<const std::uint16_t> {
  return vsock::queue_max_sizes;
}

void vsock_device::read_config(std::uint64_t offset, std::span<std::byte> data) const {
  const std::uint64_t cid = muxer_->config().guest_cid;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const std::uint64_t at = offset + i;
    data[i] = at < sizeof(cid) && at >= offset ? static_cast<std::byte>((cid >> (8U * at)) & 0xFFU) : std::byte{0};
  }
}

void vsock_device::write_config(std::uint64_t /*offset*/, std::span<const std::byte> /*data*/) {
  metrics_->config_writes_ignored.add();
}

auto vsock_device::activate(device::activation a) -> vmm::result<void> {
  if (a.queues.size() != vsock::queue_max_sizes.size() || a.queue_events.size() != a.queues.size() || !a.memory) {
    return vmm::failure(queue::errc::invalid_configuration);
  }
  const std::scoped_lock lock{mutex_};
  memory_ = a.memory->memory();
  muxer_->set_seqpacket((a.features & (1ULL << feature::seqpacket)) != 0);
  chain_.reserve(queue::longest_chain(a.queues));  // pop never allocates from here on
  active_ = std::make_unique<device::activation>(std::move(a));
  return {};
}

void vsock_device::reset() {
  const std::scoped_lock lock{mutex_};
  muxer_->reset_all();
  active_.reset();
  memory_.reset();
  event_pending_ = false;
}

auto vsock_device::transport_reset() -> vmm::result<void> {
  const std::scoped_lock lock{mutex_};
  muxer_->reset_all();
  if (!active_) {
    return {};  // a driver activating later starts without connections anyway
  }
  event_pending_ = true;
  return deliver_event_locked();
}

auto vsock_device::transport_reset_pending() const -> bool {
  const std::scoped_lock lock{mutex_};
  return event_pending_;
}

auto vsock_device::process_event() -> vmm::result<void> {
  const std::scoped_lock lock{mutex_};
  if (!active_) {
    return {};
  }
  return deliver_event_locked();
}

auto vsock_device::deliver_event_locked() -> vmm::result<void> {
  auto& events = active_->queues[queue_index::event];
  bool used = false;
  while (event_pending_) {
    auto popped = events.pop(*memory_, chain_);
    if (!popped) {
      if (events.broken()) {
        return std::unexpected(popped.error());
      }
      continue;  // a malformed chain: the queue consumed and counted it
    }
    if (!*popped) {
      break;  // no event buffer: the driver's next event-queue notification resumes
    }
    auto written = write_event(*memory_, chain_, event_id::transport_reset);
    if (written) {
      event_pending_ = false;
      metrics_->transport_resets.add();
    } else {
      metrics_->event_buffer_errors.add();
    }
    if (auto r = events.add_used(*memory_, chain_.token(), written.value_or(0)); !r) {
      return r;
    }
    used = true;
  }
  if (used) {
    return notify_locked(queue_index::event);
  }
  return {};
}

auto vsock_device::active() const -> bool {
  const std::scoped_lock lock{mutex_};
  return active_ != nullptr;
}

auto vsock_device::queue_event(std::size_t index) const -> sys::borrowed_fd {
  const std::scoped_lock lock{mutex_};
  if (!active_ || index >= active_->queue_events.size()) {
    return {};
  }
  return active_->queue_events[index];
}

auto vsock_device::notify_locked(std::size_t index) -> vmm::result<void> {
  auto needed = active_->queues[index].needs_notification(*memory_);
  if (!needed) {
    return std::unexpected(needed.error());
  }
  if (*needed && active_->interrupt) {
    return active_->interrupt->signal(device::interrupt_cause::used_buffer);
  }
  return {};
}

auto vsock_device::process_tx() -> vmm::result<void> {
  const std::scoped_lock lock{mutex_};
  if (!active_) {
    return {};
  }
  auto& tx = active_->queues[queue_index::tx];
  bool used = false;
  for (;;) {
    auto popped = tx.pop(*memory_, chain_);
    if (!popped) {
      if (tx.broken()) {
        return std::unexpected(popped.error());
      }
      continue;  // that chain was malformed: the queue consumed and counted it
    }
    if (!*popped) {
      break;
    }
    muxer_->handle_tx(*memory_, chain_);
    if (auto r = tx.add_used(*memory_, chain_.token(), 0); !r) {
      return r;
    }
    used = true;
  }
  if (used) {
    if (auto r = notify_locked(queue_index::tx); !r) {
      return r;
    }
  }
  return fill_rx_locked();
}

auto vsock_device::process_rx() -> vmm::result<void> {
  const std::scoped_lock lock{mutex_};
  if (!active_) {
    return {};
  }
  return fill_rx_locked();
}

auto vsock_device::process_backend() -> vmm::result<void> {
  const std::scoped_lock lock{mutex_};
  if (!active_) {
    return {};
  }
  if (auto r = muxer_->process_events(); !r) {
    return std::unexpected(r.error());
  }
  return fill_rx_locked();
}

auto vsock_device::fill_rx_locked() -> vmm::result<void> {
  auto& rx = active_->queues[queue_index::rx];
  bool used = false;
  while (muxer_->has_rx()) {
    auto popped = rx.pop(*memory_, chain_);
    if (!popped) {
      if (rx.broken()) {
        return std::unexpected(popped.error());
      }
      continue;
    }
    if (!*popped) {
      break;  // no rx buffers: the driver's next rx notification resumes
    }
    auto len = muxer_->fill_rx(*memory_, chain_);
    if (auto r = rx.add_used(*memory_, chain_.token(), len.value_or(0)); !r) {
      return r;
    }
    used = true;
  }
  if (used) {
    return notify_locked(queue_index::rx);
  }
  return {};
}

}  // namespace vmm::virtio::vsock
