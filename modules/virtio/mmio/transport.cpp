module vmm.virtio.mmio;
import std;
import vmm.sys;
import vmm.memory;
import vmm.device;
import vmm.virtio.queue;
import vmm.virtio.device;

namespace vmm::virtio::mmio {
namespace {

namespace status_bit = device::status;

constexpr std::uint64_t low_half = 0xffff'ffffULL;
// Every bit the driver walks through, in order; FAILED and DEVICE_NEEDS_RESET are outside the walk.
constexpr std::array<std::uint32_t, 4> status_order{status_bit::acknowledge, status_bit::driver,
                                                    status_bit::features_ok, status_bit::driver_ok};
// What ShmLenLow/High and ShmBaseLow/High read: the region is absent (virtio 1.x §4.2.2, a length of -1).
constexpr std::uint32_t no_shared_memory = 0xffff'ffffU;

auto to_u32(std::span<const std::byte> data) noexcept -> std::uint32_t {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < register_width; ++i) {
    value |= std::to_integer<std::uint32_t>(data[i]) << (8U * i);
  }
  return value;
}

void from_u32(std::uint32_t value, std::span<std::byte> data) noexcept {
  for (std::size_t i = 0; i < register_width; ++i) {
    data[i] = static_cast<std::byte>((value >> (8U * i)) & 0xffU);
  }
}

auto is_register_access(std::uint64_t offset, std::size_t size) noexcept -> bool {
  return size == register_width && offset % register_width == 0;
}

// The status bit the driver may add next after `status` (a valid state), or 0 after DRIVER_OK.
auto next_status_bit(std::uint32_t status) noexcept -> std::uint32_t {
  for (const std::uint32_t bit : status_order) {
    if ((status & bit) == 0) {
      return bit;
    }
  }
  return 0;
}

auto with_low(memory::guest_address address, std::uint32_t value) noexcept -> memory::guest_address {
  return memory::guest_address{(address.raw() & ~low_half) | value};
}

auto with_high(memory::guest_address address, std::uint32_t value) noexcept -> memory::guest_address {
  return memory::guest_address{(address.raw() & low_half) | (std::uint64_t{value} << 32U)};
}

void count(std::atomic<std::uint64_t>& counter) noexcept {
  counter.fetch_add(1, std::memory_order_relaxed);
}

auto load(const std::atomic<std::uint64_t>& counter) noexcept -> std::uint64_t {
  return counter.load(std::memory_order_relaxed);
}

}  // namespace

auto mmio_interrupt::signal(device::interrupt_cause cause) -> vmm::result<void> {
  status_.fetch_or(static_cast<std::uint32_t>(cause) & interrupt_mask, std::memory_order_acq_rel);
  if (!trigger_) {
    return {};
  }
  auto triggered = trigger_->trigger();
  if (triggered) {
    triggered_.fetch_add(1, std::memory_order_relaxed);
  } else {
    trigger_errors_.fetch_add(1, std::memory_order_relaxed);
  }
  return triggered;
}

auto mmio_transport::create(mmio_options options) -> vmm::result<std::shared_ptr<mmio_transport>> {
  vmm::contract_check(options.device != nullptr, "mmio_transport::create without a device");
  vmm::contract_check(options.memory != nullptr, "mmio_transport::create without guest memory");
  // The offer and the sizes are read once: what the guest sees cannot change under it.
  const std::uint64_t features = options.device->device_features();
  if (!queue::has_feature(features, queue::feature::version_1)) {
    return failure(errc::version_1_not_offered);
  }
  const std::span<const std::uint16_t> sizes = options.device->queue_max_sizes();
  if (sizes.size() > max_queues) {
    return failure(errc::too_many_queues);
  }
  if (std::ranges::any_of(sizes, [](std::uint16_t s) { return s == 0 || s > queue::max_queue_size; })) {
    return failure(errc::invalid_queue_max_size);
  }
  std::vector<sys::event_fd> events;
  events.reserve(sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    auto event = sys::event_fd::create({.initial = 0, .semaphore = false, .nonblocking = true});
    if (!event) {
      return std::unexpected(event.error());
    }
    events.push_back(std::move(*event));
  }
  return std::make_shared<mmio_transport>(private_tag{}, std::move(options),
                                          std::vector<std::uint16_t>(sizes.begin(), sizes.end()), features,
                                          std::move(events));
}

mmio_transport::mmio_transport(private_tag /*tag*/, mmio_options options, std::vector<std::uint16_t> max_sizes,
                               std::uint64_t features, std::vector<sys::event_fd> events)
    : device_{std::move(options.device)},
      memory_{std::move(options.memory)},
      interrupt_{std::make_shared<mmio_interrupt>(std::move(options.interrupt))},
      max_sizes_{std::move(max_sizes)},
      events_{std::move(events)},
      vendor_id_{options.vendor_id},
      device_id_{device_->device_type()},
      // The transport does not implement VIRTIO_F_NOTIFICATION_DATA (QueueNotify is a plain queue index), so it
      // never offers it.
      offered_features_{features & ~(std::uint64_t{1} << device::feature::notification_data)} {
  initial_queues();
}

mmio_transport::~mmio_transport() {
  if (active_) {
    device_->reset();
  }
}

void mmio_transport::initial_queues() {
  queues_.assign(max_sizes_.size(), queue::queue_config{});
  for (std::size_t i = 0; i < queues_.size(); ++i) {
    queues_[i].max_size = max_sizes_[i];
  }
}

void mmio_transport::read(vmm::device::bus_address /*base*/, std::uint64_t offset, std::span<std::byte> data) {
  if (offset >= reg::config) {
    count(counters_.config_reads);
    const std::scoped_lock lock{config_mutex_};
    device_->read_config(offset - reg::config, data);
    return;
  }
  if (!is_register_access(offset, data.size())) {
    count(counters_.invalid_accesses);
    std::ranges::fill(data, std::byte{0});
    return;
  }
  from_u32(read_register(offset), data);
}

void mmio_transport::write(vmm::device::bus_address /*base*/, std::uint64_t offset, std::span<const std::byte> data) {
  if (offset >= reg::config) {
    count(counters_.config_writes);
    const std::scoped_lock lock{config_mutex_};
    device_->write_config(offset - reg::config, data);
    return;
  }
  if (!is_register_access(offset, data.size())) {
    count(counters_.invalid_accesses);
    return;
  }
  write_register(offset, to_u32(data));
}

auto mmio_transport::read_register(std::uint64_t offset) -> std::uint32_t {
  switch (offset) {
    case reg::magic_value:
      return magic;
    case reg::version:
      return version;
    case reg::device_id:
      return device_id_;
    case reg::vendor_id:
      return vendor_id_;
    case reg::interrupt_status:
      return interrupt_->status();
    case reg::config_generation:
      return config_generation();
    case reg::shm_len_low:
    case reg::shm_len_high:
    case reg::shm_base_low:
    case reg::shm_base_high:
      return no_shared_memory;
    default:
      break;
  }
  const std::scoped_lock lock{mutex_};
  switch (offset) {
    case reg::device_features:
      if (device_features_sel_ > 1) {
        return 0;
      }
      return static_cast<std::uint32_t>(offered_features_ >> (32U * device_features_sel_));
    case reg::queue_num_max:
      return queue_sel_ < queues_.size() ? queues_[queue_sel_].max_size : 0U;
    case reg::queue_ready:
      return queue_sel_ < queues_.size() && queues_[queue_sel_].ready ? 1U : 0U;
    case reg::status:
      return status_;
    default:
      count(counters_.unknown_register_reads);
      return 0;
  }
}

void mmio_transport::write_register(std::uint64_t offset, std::uint32_t value) {
  switch (offset) {
    case reg::queue_notify:
      notify(value);
      return;
    case reg::interrupt_ack:
      interrupt_->acknowledge(value);
      return;
    case reg::shm_sel:  // no region exists whichever is selected
      return;
    default:
      break;
  }
  const std::scoped_lock lock{mutex_};
  switch (offset) {
    case reg::device_features_sel:
      device_features_sel_ = value;
      return;
    case reg::driver_features_sel:
      driver_features_sel_ = value;
      return;
    case reg::driver_features:
      if (driver_features_sel_ > 1 || (status_ & status_bit::features_ok) != 0) {
        count(counters_.ignored_feature_writes);
        return;
      }
      if (driver_features_sel_ == 0) {
        driver_features_ = (driver_features_ & ~low_half) | value;
      } else {
        driver_features_ = (driver_features_ & low_half) | (std::uint64_t{value} << 32U);
      }
      return;
    case reg::status:
      write_status(value);
      return;
    case reg::queue_sel:
    case reg::queue_num:
    case reg::queue_ready:
    case reg::queue_desc_low:
    case reg::queue_desc_high:
    case reg::queue_driver_low:
    case reg::queue_driver_high:
    case reg::queue_device_low:
    case reg::queue_device_high:
      write_queue_register(offset, value);
      return;
    default:
      count(counters_.ignored_register_writes);
      return;
  }
}

// Holds mutex_.
void mmio_transport::write_queue_register(std::uint64_t offset, std::uint32_t value) {
  if ((status_ & status_bit::driver_ok) != 0) {
    count(counters_.queue_writes_after_driver_ok);
    return;
  }
  if (offset == reg::queue_sel) {
    queue_sel_ = value;
    return;
  }
  if (queue_sel_ >= queues_.size()) {
    count(counters_.invalid_queue_writes);
    return;
  }
  queue::queue_config& q = queues_[queue_sel_];
  switch (offset) {
    case reg::queue_num:
      if (value > std::numeric_limits<std::uint16_t>::max()) {
        count(counters_.invalid_queue_writes);
        return;
      }
      q.size = static_cast<std::uint16_t>(value);
      return;
    case reg::queue_ready:
      if (value > 1) {
        count(counters_.invalid_queue_writes);
        return;
      }
      q.ready = value == 1;
      return;
    case reg::queue_desc_low:
      q.descriptor_area = with_low(q.descriptor_area, value);
      return;
    case reg::queue_desc_high:
      q.descriptor_area = with_high(q.descriptor_area, value);
      return;
    case reg::queue_driver_low:
      q.driver_area = with_low(q.driver_area, value);
      return;
    case reg::queue_driver_high:
      q.driver_area = with_high(q.driver_area, value);
      return;
    case reg::queue_device_low:
      q.device_area = with_low(q.device_area, value);
      return;
    default:  // reg::queue_device_high
      q.device_area = with_high(q.device_area, value);
      return;
  }
}

// Holds mutex_.
void mmio_transport::write_status(std::uint32_t value) {
  if (value == 0) {
    reset();
    return;
  }
  const std::uint32_t old = status_;
  if (value == old) {
    return;
  }
  const std::uint32_t added = value & ~old;
  if ((value & old) != old) {  // the driver clears bits only by a reset
    count(counters_.invalid_status_writes);
    return;
  }
  if (added == status_bit::failed) {
    status_ = value;
    return;
  }
  const std::uint32_t next = next_status_bit(old);
  if ((old & (status_bit::failed | status_bit::needs_reset)) != 0 || added != next) {
    count(counters_.invalid_status_writes);
    return;
  }
  if (next == status_bit::features_ok && !features_acceptable()) {
    count(counters_.features_refused);
    return;
  }
  status_ = value;
  if (next == status_bit::driver_ok) {
    activate();
  }
}

auto mmio_transport::features_acceptable() const noexcept -> bool {
  return queue::has_feature(driver_features_, queue::feature::version_1) &&
         (driver_features_ & ~offered_features_) == 0;
}

// Holds mutex_; status_ has DRIVER_OK.
void mmio_transport::activate() {
  const auto ready_count = static_cast<std::size_t>(
      std::ranges::distance(queues_.begin(), std::ranges::find_if_not(queues_, &queue::queue_config::ready)));
  auto built = [&]() -> vmm::result<void> {
    if (std::ranges::any_of(queues_ | std::views::drop(ready_count), &queue::queue_config::ready)) {
      return failure(errc::ready_queue_after_unready);
    }
    const std::shared_ptr<const memory::guest_memory> snapshot = memory_->memory();
    device::activation activation{
        .features = driver_features_, .memory = memory_, .queues = {}, .queue_events = {}, .interrupt = interrupt_};
    activation.queues.reserve(ready_count);
    activation.queue_events.reserve(ready_count);
    for (std::size_t i = 0; i < ready_count; ++i) {
      auto q = queue::virtqueue::create(queues_[i], driver_features_, *snapshot);
      if (!q) {
        return std::unexpected(q.error());
      }
      activation.queues.push_back(std::move(*q));
      activation.queue_events.push_back(events_[i].fd());
    }
    return device_->activate(std::move(activation));
  }();
  if (!built) {
    last_activation_error_ = built.error();
    status_ |= status_bit::needs_reset;
    count(counters_.activation_failures);
    static_cast<void>(interrupt_->signal(device::interrupt_cause::config_change));  // counted by the interrupt
    return;
  }
  active_ = true;
  count(counters_.activations);
}

// Holds mutex_.
void mmio_transport::reset() {
  device_->reset();
  active_ = false;
  status_ = 0;
  device_features_sel_ = 0;
  driver_features_sel_ = 0;
  driver_features_ = 0;
  queue_sel_ = 0;
  last_activation_error_.clear();
  initial_queues();
  interrupt_->clear();
  for (const sys::event_fd& event : events_) {
    static_cast<void>(event.read());  // drains a notification the old queues never saw (EAGAIN when none)
  }
  count(counters_.resets);
}

void mmio_transport::notify(std::uint32_t index) {
  if (index >= events_.size()) {
    count(counters_.invalid_notifications);
    return;
  }
  if (events_[index].write(1)) {
    count(counters_.notifications);
  } else {
    count(counters_.notification_errors);
  }
}

void mmio_transport::config_changed() {
  {
    const std::scoped_lock lock{config_mutex_};
    ++config_generation_;
  }
  announce_config_change();
}

void mmio_transport::announce_config_change() {
  count(counters_.config_changes);
  static_cast<void>(interrupt_->signal(device::interrupt_cause::config_change));  // counted by the interrupt
}

auto mmio_transport::queue_event(std::size_t index) const -> const sys::event_fd& {
  vmm::contract_check(index < events_.size(), "mmio_transport::queue_event index out of range");
  return events_[index];
}

auto mmio_transport::status() const -> std::uint32_t {
  const std::scoped_lock lock{mutex_};
  return status_;
}

auto mmio_transport::driver_features() const -> std::uint64_t {
  const std::scoped_lock lock{mutex_};
  return driver_features_;
}

auto mmio_transport::queue_configs() const -> std::vector<queue::queue_config> {
  const std::scoped_lock lock{mutex_};
  return queues_;
}

auto mmio_transport::active() const -> bool {
  const std::scoped_lock lock{mutex_};
  return active_;
}

auto mmio_transport::last_activation_error() const -> std::error_code {
  const std::scoped_lock lock{mutex_};
  return last_activation_error_;
}

auto mmio_transport::config_generation() const -> std::uint32_t {
  const std::scoped_lock lock{config_mutex_};
  return config_generation_;
}

auto mmio_transport::metrics() const noexcept -> mmio_metrics {
  return {
      .invalid_accesses = load(counters_.invalid_accesses),
      .unknown_register_reads = load(counters_.unknown_register_reads),
      .ignored_register_writes = load(counters_.ignored_register_writes),
      .config_reads = load(counters_.config_reads),
      .config_writes = load(counters_.config_writes),
      .ignored_feature_writes = load(counters_.ignored_feature_writes),
      .features_refused = load(counters_.features_refused),
      .invalid_status_writes = load(counters_.invalid_status_writes),
      .invalid_queue_writes = load(counters_.invalid_queue_writes),
      .queue_writes_after_driver_ok = load(counters_.queue_writes_after_driver_ok),
      .notifications = load(counters_.notifications),
      .invalid_notifications = load(counters_.invalid_notifications),
      .notification_errors = load(counters_.notification_errors),
      .activations = load(counters_.activations),
      .activation_failures = load(counters_.activation_failures),
      .resets = load(counters_.resets),
      .config_changes = load(counters_.config_changes),
      .interrupts = interrupt_->triggered(),
      .interrupt_errors = interrupt_->trigger_errors(),
  };
}

}  // namespace vmm::virtio::mmio
