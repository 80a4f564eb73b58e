module vmm.virtio.net;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.device;

namespace vmm::virtio::net {
namespace {

constexpr std::array<std::uint16_t, 2> max_sizes{queue_size, queue_size};

[[nodiscard]] constexpr auto bit(unsigned b) noexcept -> std::uint64_t {
  return std::uint64_t{1} << b;
}

[[nodiscard]] constexpr auto has(std::uint64_t features, unsigned b) noexcept -> bool {
  return (features & bit(b)) != 0;
}

}  // namespace

auto features_for_offloads(std::uint32_t tun_offloads) noexcept -> std::uint64_t {
  std::uint64_t f = bit(queue::feature::version_1) | bit(queue::feature::ring_packed) | bit(queue::feature::event_idx) |
                    bit(queue::feature::indirect_desc) | bit(feature::mac) | bit(feature::mtu) | bit(feature::status) |
                    bit(feature::mrg_rxbuf);
  if ((tun_offloads & tun_offload::csum) != 0) {
    f |= bit(feature::csum) | bit(feature::guest_csum);
    if ((tun_offloads & tun_offload::tso4) != 0) {
      f |= bit(feature::host_tso4) | bit(feature::guest_tso4);
    }
    if ((tun_offloads & tun_offload::tso6) != 0) {
      f |= bit(feature::host_tso6) | bit(feature::guest_tso6);
    }
  }
  return f;
}

auto check_feature_dependencies(std::uint64_t features) -> vmm::result<void> {
  const bool host_tso = has(features, feature::host_tso4) || has(features, feature::host_tso6) ||
                        has(features, feature::host_ecn) || has(features, feature::host_ufo);
  const bool guest_tso = has(features, feature::guest_tso4) || has(features, feature::guest_tso6) ||
                         has(features, feature::guest_ecn) || has(features, feature::guest_ufo);
  if ((host_tso && !has(features, feature::csum)) || (guest_tso && !has(features, feature::guest_csum))) {
    return vmm::failure(errc::invalid_features);
  }
  return {};
}

net_device::net_device(tap backend, const net_options& options, sys::event_fd state_event)
    : tap_{std::move(backend)},
      config_{.mac = options.mac, .status = status_link_up, .max_virtqueue_pairs = 1, .mtu = options.mtu},
      offered_{features_for_offloads(tap_.offloads())},
      rx_buffer_(rx_buffer_size),
      state_event_{std::move(state_event)} {
}

auto net_device::create(tap backend, const net_options& options) -> vmm::result<std::shared_ptr<net_device>> {
  auto event = sys::event_fd::create({.nonblocking = true});
  if (!event) {
    return std::unexpected(event.error());
  }
  // The constructor is private, so make_shared cannot reach it.
  return std::shared_ptr<net_device>(new net_device{std::move(backend), options, std::move(*event)});
}

auto net_device::device_type() const noexcept -> std::uint32_t {
  return device::device_id::net;
}

auto net_device::device_features() const noexcept -> std::uint64_t {
  return offered_;
}

auto net_device::queue_max_sizes() const noexcept -> std::span<const std::uint16_t> {
  return max_sizes;
}

void net_device::read_config(std::uint64_t offset, std::span<std::byte> data) const {
  std::ranges::fill(data, std::byte{0});
  const auto bytes = config_.bytes();
  if (offset >= bytes.size()) {
    return;
  }
  const auto count = std::min<std::size_t>(data.size(), bytes.size() - static_cast<std::size_t>(offset));
  std::ranges::copy(std::span{bytes}.subspan(static_cast<std::size_t>(offset), count), data.begin());
}

void net_device::write_config(std::uint64_t /*offset*/, std::span<const std::byte> /*data*/) {
  const std::scoped_lock lock{mutex_};
  ++metrics_.ignored_config_writes;
}

auto net_device::activate(device::activation a) -> vmm::result<void> {
  if (a.queues.size() != 2 || a.queue_events.size() != 2) {
    return vmm::failure(errc::wrong_queue_count);
  }
  if (a.memory == nullptr) {
    return vmm::failure(errc::no_memory);
  }
  if (a.interrupt == nullptr) {
    return vmm::failure(errc::no_interrupt);
  }
  if (auto deps = check_feature_dependencies(a.features); !deps) {
    return deps;
  }
  const std::scoped_lock lock{mutex_};
  if (active_) {
    return vmm::failure(errc::already_active);
  }
  if (auto r = tap_.set_offload(offload_for_features(a.features)); !r) {
    return r;
  }
  features_ = a.features;
  interrupt_ = a.interrupt;
  chain_.reserve(queue::longest_chain(a.queues));     // pop never allocates from here on
  rx_first_.reserve(queue::longest_chain(a.queues));  // nor does keeping a frame's first chain (a copy of its buffers)
  active_.emplace(std::move(a));
  rx_length_ = 0;
  rx_offset_ = 0;
  rx_pieces_.clear();
  if (auto w = state_event_.write(); !w) {
    active_.reset();
    features_ = 0;
    interrupt_.reset();
    return std::unexpected(w.error());
  }
  return {};
}

void net_device::reset() {
  const std::scoped_lock lock{mutex_};
  active_.reset();
  features_ = 0;
  interrupt_.reset();
  rx_length_ = 0;
  rx_offset_ = 0;
  rx_pieces_.clear();
  static_cast<void>(tap_.set_offload(0));
  // The handler only needs to wake; a counter that cannot grow (EAGAIN) already wakes it.
  static_cast<void>(state_event_.write());
}

auto net_device::queue_event(std::size_t index) const -> sys::borrowed_fd {
  const std::scoped_lock lock{mutex_};
  return active_ && index < active_->queue_events.size() ? active_->queue_events[index] : sys::borrowed_fd{};
}

auto net_device::active() const -> bool {
  const std::scoped_lock lock{mutex_};
  return active_.has_value();
}

auto net_device::acked_features() const -> std::uint64_t {
  const std::scoped_lock lock{mutex_};
  return active_ ? active_->features : 0;
}

auto net_device::metrics() const -> net_metrics {
  const std::scoped_lock lock{mutex_};
  return metrics_;
}

}  // namespace vmm::virtio::net
