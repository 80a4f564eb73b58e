// The part of net_device that drives its queues (apart from device.cpp, so code that only configures the device or
// moves frames links without the queue implementation).
module vmm.virtio.net;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.device;

namespace vmm::virtio::net {
namespace {

[[nodiscard]] auto is_again(const std::error_code& e) noexcept -> bool {
  return e == std::errc::resource_unavailable_try_again || e == std::errc::operation_would_block;
}

// Where num_buffers lives in the header.
constexpr std::size_t num_buffers_offset = 10;

void put_num_buffers(std::span<std::byte> header, std::uint16_t count) noexcept {
  header[num_buffers_offset] = static_cast<std::byte>(count & 0xffU);
  header[num_buffers_offset + 1] = static_cast<std::byte>(count >> 8U);
}

}  // namespace

auto net_device::broken() -> vmm::result<void> {
  ++metrics_.queue_errors;
  return vmm::failure(errc::queue_broken);
}

auto net_device::notify(const memory::guest_memory& memory, queue::virtqueue& queue) -> vmm::result<void> {
  const auto wanted = queue.needs_notification(memory);
  if (!wanted) {
    return broken();
  }
  if (*wanted) {
    if (auto s = interrupt_->signal(device::interrupt_cause::used_buffer); s) {
      ++metrics_.interrupts;
    } else {
      ++metrics_.interrupt_errors;
    }
  }
  return {};
}

void net_device::send_frame(const memory::guest_memory& memory) {
  const auto frame = gather_tx_frame(memory, chain_, features_, frame_buffers_);
  if (!frame) {
    if (frame.error().category() == net_category()) {
      ++metrics_.tx_malformed;
    } else {
      ++metrics_.tx_memory_errors;
    }
    return;
  }
  tx_iov_.clear();
  tx_iov_.push_back({.base = const_cast<std::byte*>(frame->header_bytes.data()),  // NOLINT(*-const-cast)
                     .length = header_size});
  tx_iov_.insert(tx_iov_.end(), frame_buffers_.begin(), frame_buffers_.end());
  if (auto sent = tap_.write(tx_iov_); sent) {
    ++metrics_.tx_frames;
    metrics_.tx_bytes += frame->frame_length;
  } else {
    ++metrics_.tx_tap_errors;
  }
}

auto net_device::send_available(const memory::guest_memory& memory, queue::virtqueue& queue, bool& used)
    -> vmm::result<void> {
  for (;;) {
    const auto popped = queue.pop(memory, chain_);
    if (!popped) {
      if (queue.broken()) {
        return broken();
      }
      ++metrics_.tx_invalid_chains;  // the queue returned it to the driver (or could not) and moved on
      used = true;
      continue;
    }
    if (!*popped) {
      return {};
    }
    send_frame(memory);
    // A tx chain has nothing written back: used length 0, sent or dropped.
    if (auto r = queue.add_used(memory, chain_.token(), 0); !r) {
      return broken();
    }
    used = true;
  }
}

auto net_device::process_tx() -> vmm::result<void> {
  const std::scoped_lock lock{mutex_};
  if (!active_) {
    return {};
  }
  const std::shared_ptr<const memory::guest_memory> memory = active_->memory->memory();
  auto& queue = active_->queues[tx_queue];
  if (queue.broken()) {
    return vmm::failure(errc::queue_broken);
  }
  bool used = false;
  for (;;) {
    if (auto r = send_available(*memory, queue, used); !r) {
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
  return used ? notify(*memory, queue) : vmm::result<void>{};
}

void net_device::drop_rx_frame(const memory::guest_memory& memory, queue::virtqueue& queue) {
  for (const auto& piece : rx_pieces_) {
    static_cast<void>(queue.add_used(memory, piece.token, 0));
  }
  rx_pieces_.clear();
  rx_length_ = 0;
  rx_offset_ = 0;
}

auto net_device::place_rx_chain(const memory::guest_memory& memory, queue::virtqueue& queue) -> vmm::result<void> {
  const bool first = rx_pieces_.empty();
  if ((first && chain_.writable_bytes() < header_size) || chain_.writable_bytes() == 0) {
    ++metrics_.rx_bad_buffers;  // the frame goes to the next chain
    if (auto r = queue.add_used(memory, chain_.token(), 0); !r) {
      return broken();
    }
    return {};
  }
  const bool mergeable = queue::has_feature(features_, feature::mrg_rxbuf);
  if (!mergeable && chain_.writable_bytes() < rx_length_) {
    ++metrics_.rx_dropped;
    rx_pieces_.push_back({.token = chain_.token(), .length = 0});
    drop_rx_frame(memory, queue);
    return {};
  }
  if (first) {
    rx_first_ = chain_;
  }
  const std::span<const std::byte> frame{rx_buffer_.data(), rx_length_};
  const auto written = write_to_chain(memory, chain_, 0, frame.subspan(rx_offset_));
  if (!written) {
    ++metrics_.rx_memory_errors;
    rx_pieces_.push_back({.token = chain_.token(), .length = 0});
    drop_rx_frame(memory, queue);
    return {};
  }
  rx_pieces_.push_back({.token = chain_.token(), .length = static_cast<std::uint32_t>(*written)});
  rx_offset_ += static_cast<std::size_t>(*written);
  return {};
}

auto net_device::complete_rx_frame(const memory::guest_memory& memory, queue::virtqueue& queue) -> vmm::result<void> {
  if (rx_pieces_.size() > 1) {
    // Only with MRG_RXBUF; a queue holds at most 32768 chains, so the count fits num_buffers.
    const auto n = static_cast<std::uint16_t>(rx_pieces_.size());
    const std::array<std::byte, 2> count{static_cast<std::byte>(n & 0xffU), static_cast<std::byte>(n >> 8U)};
    if (auto r = write_to_chain(memory, rx_first_, num_buffers_offset, count); !r) {
      ++metrics_.rx_memory_errors;
    }
  }
  for (const auto& piece : rx_pieces_) {
    if (auto r = queue.add_used(memory, piece.token, piece.length); !r) {
      return broken();
    }
  }
  ++metrics_.rx_frames;
  metrics_.rx_bytes += rx_length_ - header_size;
  metrics_.rx_buffers += rx_pieces_.size();
  rx_pieces_.clear();
  rx_length_ = 0;
  rx_offset_ = 0;
  return {};
}

auto net_device::deliver_rx(const memory::guest_memory& memory, queue::virtqueue& queue, bool& used)
    -> vmm::result<bool> {
  while (rx_offset_ < rx_length_) {
    const auto popped = queue.pop(memory, chain_);
    if (!popped) {
      if (queue.broken()) {
        return std::unexpected(broken().error());
      }
      ++metrics_.rx_invalid_chains;
      used = true;
      continue;
    }
    if (!*popped) {
      return false;
    }
    used = true;
    if (auto r = place_rx_chain(memory, queue); !r) {
      return std::unexpected(r.error());
    }
    if (rx_length_ == 0) {
      return true;  // the frame was dropped
    }
  }
  if (auto r = complete_rx_frame(memory, queue); !r) {
    return std::unexpected(r.error());
  }
  return true;
}

auto net_device::fill_rx_buffer(bool& watch_tap) -> bool {
  for (;;) {
    const auto n = tap_.read(rx_buffer_);
    if (!n) {
      if (!is_again(n.error())) {
        ++metrics_.rx_tap_errors;
        watch_tap = false;  // a failing tap would keep epoll busy: wait for the next rx notification
      }
      return false;
    }
    if (*n < header_size) {
      ++metrics_.rx_short_frames;
      continue;
    }
    rx_length_ = *n;
    rx_offset_ = 0;
    put_num_buffers(rx_buffer_, 1);  // the tap leaves num_buffers alone; one chain unless more are needed
    return true;
  }
}

auto net_device::process_rx() -> vmm::result<bool> {
  const std::scoped_lock lock{mutex_};
  if (!active_) {
    return false;
  }
  const std::shared_ptr<const memory::guest_memory> memory = active_->memory->memory();
  auto& queue = active_->queues[rx_queue];
  if (queue.broken()) {
    return vmm::failure(errc::queue_broken);
  }
  bool used = false;
  bool watch_tap = true;
  for (;;) {
    if (rx_length_ == 0 && !fill_rx_buffer(watch_tap)) {
      break;
    }
    const auto delivered = deliver_rx(*memory, queue, used);
    if (!delivered) {
      return std::unexpected(delivered.error());
    }
    if (*delivered) {
      continue;
    }
    // No rx chain: ask the driver to notify when it adds some, and look once more (it may have just done so).
    const auto more = queue.enable_notification(*memory);
    if (!more) {
      return std::unexpected(broken().error());
    }
    if (!*more) {
      ++metrics_.rx_blocked;
      watch_tap = false;
      break;
    }
  }
  if (used) {
    if (auto r = notify(*memory, queue); !r) {
      return std::unexpected(r.error());
    }
  }
  return watch_tap;
}

}  // namespace vmm::virtio::net
