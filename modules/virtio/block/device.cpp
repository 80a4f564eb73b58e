module;
#include <cerrno>
module vmm.virtio.block;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.device;

namespace vmm::virtio::block {
namespace {

constexpr auto bit(unsigned b) -> std::uint64_t {
  return std::uint64_t{1} << b;
}

auto offered_policy(std::uint64_t capacity, bool read_only, const block_limits& limits) -> request_policy {
  return {.capacity_sectors = capacity,
          .read_only = read_only,
          .discard = !read_only,
          .write_zeroes = !read_only,
          .limits = limits};
}

// A range request needs one backend slot per range, and the engine only takes a chain when its largest request fits:
// more ranges than the backend's depth would never fit, so the advertised maxima are clamped to it.
auto fit_to(block_limits limits, const block_backend& backend) -> block_limits {
  const auto depth = static_cast<std::uint32_t>(std::min<std::size_t>(backend.free_slots(), 0xffff'ffffU));
  limits.max_discard_seg = std::clamp<std::uint32_t>(limits.max_discard_seg, 1, std::max(depth, 1U));
  limits.max_write_zeroes_seg = std::clamp<std::uint32_t>(limits.max_write_zeroes_seg, 1, std::max(depth, 1U));
  return limits;
}

}  // namespace

auto block_device::serial_bytes(std::string_view serial) noexcept -> std::array<std::byte, id_bytes> {
  std::array<std::byte, id_bytes> out{};
  std::ranges::transform(serial.substr(0, id_bytes), out.begin(), [](char c) { return static_cast<std::byte>(c); });
  return out;
}

block_device::block_device(std::unique_ptr<block_backend> backend, const block_options& options,
                           sys::event_fd state_event)
    : backend_{std::move(backend)},
      read_only_{options.read_only || backend_->read_only()},
      limits_{fit_to(options.limits, *backend_)},
      config_{make_config(backend_->size() / sector_size, limits_, options.num_queues)},
      state_event_{std::move(state_event)},
      engine_{*backend_, offered_policy(backend_->size() / sector_size, read_only_, limits_),
              serial_bytes(options.serial), metrics_, options.num_queues},
      queue_sizes_(options.num_queues, max_queue_size) {
}

block_device::~block_device() = default;

auto block_device::create(std::unique_ptr<block_backend> backend, const block_options& options)
    -> vmm::result<std::shared_ptr<block_device>> {
  vmm::contract_check(backend != nullptr, "block_device::create without a backend");
  if (options.num_queues == 0 || options.num_queues > max_queues) {
    return os_failure(EINVAL);
  }
  auto event = sys::event_fd::create({.nonblocking = true});
  if (!event) {
    return std::unexpected(event.error());
  }
  // The constructor is private (create is the only way in), so make_shared cannot call it.
  return std::shared_ptr<block_device>{new block_device{std::move(backend), options, std::move(*event)}};
}

auto block_device::device_type() const noexcept -> std::uint32_t {
  return device::device_id::block;
}

auto block_device::device_features() const noexcept -> std::uint64_t {
  std::uint64_t f = bit(queue::feature::version_1) | bit(queue::feature::ring_packed) | bit(queue::feature::event_idx) |
                    bit(queue::feature::indirect_desc) | bit(feature::flush) | bit(feature::blk_size) |
                    bit(feature::seg_max) | bit(feature::size_max);
  if (read_only_) {
    f |= bit(feature::read_only);
  } else {
    f |= bit(feature::discard) | bit(feature::write_zeroes);
  }
  if (queue_sizes_.size() > 1) {
    f |= bit(feature::mq);
  }
  return f;
}

auto block_device::queue_max_sizes() const noexcept -> std::span<const std::uint16_t> {
  return queue_sizes_;
}

void block_device::read_config(std::uint64_t offset, std::span<std::byte> data) const {
  const auto bytes = std::as_bytes(std::span{&config_, 1});
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = offset < bytes.size() && i < bytes.size() - offset ? bytes[offset + i] : std::byte{0};
  }
}

void block_device::write_config(std::uint64_t /*offset*/, std::span<const std::byte> /*data*/) {
  const std::scoped_lock lock{mutex_};
  ++metrics_.config_writes_ignored;
}

auto block_device::activate(device::activation a) -> vmm::result<void> {
  // Without MQ the driver uses queue 0 alone (virtio 1.x §5.2.2); queues it made ready besides are left alone.
  const std::size_t used = queue::has_feature(a.features, feature::mq) ? a.queues.size() : 1;
  if (a.queues.empty() || a.queues.size() > queue_sizes_.size() || a.queue_events.size() < used ||
      !std::ranges::all_of(a.queue_events | std::views::take(used), &sys::borrowed_fd::valid) || a.memory == nullptr ||
      a.interrupt == nullptr) {
    return vmm::failure(errc::bad_activation);
  }
  {
    const std::scoped_lock lock{mutex_};
    request_policy p = offered_policy(backend_->size() / sector_size, read_only_, limits_);
    p.discard = p.discard && queue::has_feature(a.features, feature::discard);
    p.write_zeroes = p.write_zeroes && queue::has_feature(a.features, feature::write_zeroes);
    engine_.set_policy(p);
    engine_.abandon();  // a second activation without a reset: the old queue's requests are not the new one's
    chain_.reserve(queue::longest_chain(a.queues));  // pop never allocates from here on
    activation_.emplace(std::move(a));
    queues_used_ = used;
  }
  // A full counter (EAGAIN) still wakes the handler, which is all this is for.
  static_cast<void>(state_event_.write(1));
  return {};
}

void block_device::reset() {
  {
    const std::scoped_lock lock{mutex_};
    engine_.abandon();
    activation_.reset();
    queues_used_ = 0;
    engine_.set_policy(offered_policy(backend_->size() / sector_size, read_only_, limits_));
  }
  // A full counter (EAGAIN) still wakes the handler, which is all this is for.
  static_cast<void>(state_event_.write(1));
}

auto block_device::queue_event(std::size_t index) const -> sys::borrowed_fd {
  const std::scoped_lock lock{mutex_};
  return activation_ && index < queues_used_ ? activation_->queue_events[index] : sys::borrowed_fd{};
}

auto block_device::active_queues() const -> std::size_t {
  const std::scoped_lock lock{mutex_};
  return queues_used_;
}

auto block_device::active() const -> bool {
  const std::scoped_lock lock{mutex_};
  return activation_.has_value();
}

auto block_device::policy() const -> request_policy {
  const std::scoped_lock lock{mutex_};
  return engine_.policy();
}

auto block_device::metrics() const -> block_metrics {
  const std::scoped_lock lock{mutex_};
  return metrics_;
}

auto block_device::complete(const memory::guest_memory& memory) -> vmm::result<void> {
  finished_.clear();
  engine_.collect(finished_);
  if (finished_.empty() || !activation_) {
    return {};
  }
  std::uint64_t touched = 0;  // a bit per queue that got used entries (max_queues ≤ 64)
  for (const finished_chain& f : finished_) {
    if (f.queue >= queues_used_) {
      continue;  // cannot happen: the engine hands back the queue it was given
    }
    touched |= std::uint64_t{1} << f.queue;
    if (!activation_->queues[f.queue].add_used(memory, f.token, f.used_length)) {
      ++metrics_.queue_errors;
    }
  }
  bool signal = false;
  std::error_code first_error;
  for (std::size_t i = 0; i < queues_used_; ++i) {
    if ((touched & (std::uint64_t{1} << i)) == 0) {
      continue;
    }
    auto notify = activation_->queues[i].needs_notification(memory);
    if (!notify) {
      ++metrics_.queue_errors;
      first_error = first_error ? first_error : notify.error();
      continue;  // that queue is broken; the others still get their interrupt
    }
    signal = signal || *notify;
  }
  if (signal) {
    if (auto r = activation_->interrupt->signal(device::interrupt_cause::used_buffer); !r) {
      ++metrics_.interrupt_errors;
      return r;
    }
    ++metrics_.interrupts;
  }
  if (first_error) {
    return std::unexpected(first_error);
  }
  return {};
}

auto block_device::drain_queue(const std::shared_ptr<const memory::guest_memory>& memory, std::size_t index)
    -> vmm::result<void> {
  if (!activation_ || index >= queues_used_) {
    return vmm::failure(errc::not_activated);
  }
  auto& q = activation_->queues[index];
  const auto tag = static_cast<std::uint16_t>(index);
  for (;;) {
    while (engine_.can_accept()) {
      auto popped = q.pop(*memory, chain_);
      if (!popped) {
        // The queue consumed (and returned) a chain that broke its rules, or it is broken for good.
        ++metrics_.queue_errors;
        if (q.broken()) {
          static_cast<void>(engine_.flush());
          static_cast<void>(complete(*memory));
          return std::unexpected(popped.error());
        }
        continue;
      }
      if (!*popped) {
        break;
      }
      engine_.submit(memory, chain_, tag);
    }
    if (auto r = engine_.flush(); !r) {
      ++metrics_.queue_errors;
    }
    if (auto r = complete(*memory); !r) {
      return r;
    }
    if (!engine_.can_accept()) {
      return {};  // the backend is full: process_completions takes the rest
    }
    // Ask for notifications again (with EVENT_IDX: avail_event) and look once more, so that a chain made
    // available meanwhile is not left waiting for a notification the driver will not send.
    auto more = q.enable_notification(*memory);
    if (!more) {
      ++metrics_.queue_errors;
      return std::unexpected(more.error());
    }
    if (!*more) {
      return {};
    }
  }
}

auto block_device::process_queue(std::size_t index) -> vmm::result<void> {
  const std::scoped_lock lock{mutex_};
  if (!activation_ || index >= queues_used_) {
    return vmm::failure(errc::not_activated);
  }
  ++metrics_.queue_events;
  return drain_queue(activation_->memory->memory(), index);
}

auto block_device::process_completions() -> vmm::result<void> {
  const std::scoped_lock lock{mutex_};
  ++metrics_.completion_events;
  if (!activation_) {
    finished_.clear();
    engine_.collect(finished_);  // abandoned requests: reaped and forgotten
    return {};
  }
  auto memory = activation_->memory->memory();
  auto result = complete(*memory);
  // Every queue may have chains that waited for room; a broken one does not keep the others from theirs. The
  // first queue looked at turns round, so that one busy queue cannot take every freed slot each time.
  const std::size_t start = next_queue_++ % queues_used_;
  for (std::size_t k = 0; k < queues_used_; ++k) {
    if (auto r = drain_queue(memory, (start + k) % queues_used_); !r && result) {
      result = r;
    }
  }
  return result;
}

}  // namespace vmm::virtio::block
