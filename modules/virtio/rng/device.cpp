module vmm.virtio.rng;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.device;

namespace vmm::virtio::rng {
namespace {

constexpr std::array<std::uint16_t, 1> max_sizes{queue_size};

// Fills one host buffer completely, or reports why not; `written` counts the bytes stored.
auto fill_buffer(const sys::io_buffer& buffer, std::uint64_t& written) -> bool {
  auto* const base = static_cast<std::byte*>(buffer.base);
  std::size_t filled = 0;
  while (filled < buffer.length) {
    // The buffer is a host view of guest memory that append_io_buffers checked: writable for its whole length.
    const auto got = sys::get_random(std::span{base + filled, buffer.length - filled});
    if (!got || *got == 0) {
      return false;
    }
    filled += *got;
    written += *got;
  }
  return true;
}

}  // namespace

auto fill_request(const memory::guest_memory& memory, const queue::descriptor_chain& chain) -> request_outcome {
  if (chain.writable_bytes() == 0) {
    return {.used_length = 0, .status = request_status::no_writable_buffer};
  }
  std::uint64_t budget = std::min<std::uint64_t>(chain.writable_bytes(), max_request_bytes);
  std::uint64_t written = 0;
  std::vector<sys::io_buffer> buffers;
  for (const auto& d : chain.writable()) {
    if (budget == 0) {
      break;
    }
    const std::uint64_t length = std::min<std::uint64_t>(d.length, budget);
    buffers.clear();
    if (auto r = memory.append_io_buffers(d.address, length, memory::access::write, buffers); !r) {
      return {.used_length = static_cast<std::uint32_t>(written), .status = request_status::memory_error};
    }
    for (const auto& buffer : buffers) {
      if (!fill_buffer(buffer, written)) {
        return {.used_length = static_cast<std::uint32_t>(written), .status = request_status::entropy_unavailable};
      }
    }
    budget -= length;
  }
  return {.used_length = static_cast<std::uint32_t>(written),
          .status = chain.writable_bytes() > max_request_bytes ? request_status::capped : request_status::filled};
}

auto rng_device::create() -> vmm::result<std::shared_ptr<rng_device>> {
  auto event = sys::event_fd::create({.nonblocking = true});
  if (!event) {
    return std::unexpected(event.error());
  }
  // The constructor is private, so make_shared cannot reach it.
  return std::shared_ptr<rng_device>(new rng_device{std::move(*event)});
}

auto rng_device::device_type() const noexcept -> std::uint32_t {
  return device::device_id::rng;
}

auto rng_device::device_features() const noexcept -> std::uint64_t {
  return (std::uint64_t{1} << queue::feature::version_1) | (std::uint64_t{1} << queue::feature::ring_packed) |
         (std::uint64_t{1} << queue::feature::event_idx) | (std::uint64_t{1} << queue::feature::indirect_desc);
}

auto rng_device::queue_max_sizes() const noexcept -> std::span<const std::uint16_t> {
  return max_sizes;
}

void rng_device::read_config(std::uint64_t /*offset*/, std::span<std::byte> data) const {
  std::ranges::fill(data, std::byte{0});
}

void rng_device::write_config(std::uint64_t /*offset*/, std::span<const std::byte> /*data*/) {
  const std::scoped_lock lock{mutex_};
  ++metrics_.ignored_config_writes;
}

auto rng_device::activate(device::activation a) -> vmm::result<void> {
  if (a.queues.size() != 1 || a.queue_events.size() != 1) {
    return vmm::failure(errc::wrong_queue_count);
  }
  if (a.memory == nullptr) {
    return vmm::failure(errc::no_memory);
  }
  if (a.interrupt == nullptr) {
    return vmm::failure(errc::no_interrupt);
  }
  const std::scoped_lock lock{mutex_};
  if (active_) {
    return vmm::failure(errc::already_active);
  }
  chain_.reserve(queue::longest_chain(a.queues));  // pop never allocates from here on
  active_.emplace(std::move(a));
  if (auto w = state_event_.write(); !w) {
    active_.reset();
    return std::unexpected(w.error());
  }
  return {};
}

void rng_device::reset() {
  const std::scoped_lock lock{mutex_};
  active_.reset();
  // The handler only needs to wake; a counter that cannot grow (EAGAIN) already wakes it.
  static_cast<void>(state_event_.write());
}

auto rng_device::queue_event() const -> sys::borrowed_fd {
  const std::scoped_lock lock{mutex_};
  return active_ ? active_->queue_events.front() : sys::borrowed_fd{};
}

auto rng_device::active() const -> bool {
  const std::scoped_lock lock{mutex_};
  return active_.has_value();
}

auto rng_device::acked_features() const -> std::uint64_t {
  const std::scoped_lock lock{mutex_};
  return active_ ? active_->features : 0;
}

auto rng_device::metrics() const -> rng_metrics {
  const std::scoped_lock lock{mutex_};
  return metrics_;
}

void rng_device::account(request_outcome outcome) {
  ++metrics_.requests;
  metrics_.bytes += outcome.used_length;
  switch (outcome.status) {
    case request_status::filled:
      break;
    case request_status::capped:
      ++metrics_.capped_requests;
      break;
    case request_status::no_writable_buffer:
      ++metrics_.empty_requests;
      break;
    case request_status::entropy_unavailable:
      ++metrics_.entropy_errors;
      break;
    case request_status::memory_error:
      ++metrics_.memory_errors;
      break;
  }
}

}  // namespace vmm::virtio::rng
