// mmio_fakes — what test_virtio_mmio and fuzz_virtio_mmio drive a transport with: a virtio device that records
// every call the transport makes, an interrupt line that counts, small guest memory, and a bench that plays the
// driver's register accesses (4-byte little-endian, like Linux's virtio_mmio).
export module mmio_fakes;
import std;
import vmm.sys;
import vmm.memory;
import vmm.device;
import vmm.virtio.queue;
import vmm.virtio.device;
import vmm.virtio.mmio;

export namespace mmio_fakes {

namespace mmio = vmm::virtio::mmio;
namespace vdev = vmm::virtio::device;
namespace vq = vmm::virtio::queue;

/// Feature bit `bit` as a mask.
[[nodiscard]] constexpr auto bit(unsigned b) noexcept -> std::uint64_t {
  return std::uint64_t{1} << b;
}

/// The fake device's default offer: VERSION_1 (bit 32), EVENT_IDX (29) and device feature bit 0.
inline constexpr std::uint64_t default_features = bit(vq::feature::version_1) | bit(vq::feature::event_idx) | bit(0);

/// What a fake_device looks like.
struct fake_options {
  std::uint32_t type = vdev::device_id::block;
  std::uint64_t features = default_features;
  std::vector<std::uint16_t> max_sizes{256, 128};
  std::size_t config_size = 16;
  /// activate fails with std::errc::io_error.
  bool refuse_activation = false;
};

/// What an activation handed the device (the queues themselves are kept in the device, see queues()).
struct activation_record {
  std::uint64_t features = 0;
  std::vector<std::uint16_t> queue_sizes;
  std::vector<bool> packed;
  std::vector<int> queue_event_fds;
  std::shared_ptr<vdev::virtio_interrupt> interrupt;
  std::shared_ptr<const vmm::memory::atomic_guest_memory> memory;
};

/// One configuration space write the driver made.
struct config_write {
  std::uint64_t offset = 0;
  std::vector<std::byte> bytes;
};

/// A virtio device that records every call. Its configuration space is config_size bytes (initially 0, 1, 2, ...);
/// writes store into it (bytes past the end are dropped) and are recorded.
class fake_device final : public vdev::virtio_device {
 public:
  explicit fake_device(fake_options options = {}) : options_{std::move(options)}, config_(options_.config_size) {
    for (std::size_t i = 0; i < config_.size(); ++i) {
      config_[i] = static_cast<std::byte>(i);
    }
  }

  [[nodiscard]] auto device_type() const noexcept -> std::uint32_t override { return options_.type; }
  [[nodiscard]] auto device_features() const noexcept -> std::uint64_t override { return options_.features; }
  [[nodiscard]] auto queue_max_sizes() const noexcept -> std::span<const std::uint16_t> override {
    return options_.max_sizes;
  }

  void read_config(std::uint64_t offset, std::span<std::byte> data) const override {
    const std::scoped_lock lock{mutex_};
    for (std::size_t i = 0; i < data.size(); ++i) {
      data[i] = offset + i < config_.size() ? config_[offset + i] : std::byte{0};
    }
  }

  void write_config(std::uint64_t offset, std::span<const std::byte> data) override {
    const std::scoped_lock lock{mutex_};
    writes_.push_back({.offset = offset, .bytes = {data.begin(), data.end()}});
    for (std::size_t i = 0; i < data.size(); ++i) {
      if (offset + i < config_.size()) {
        config_[offset + i] = data[i];
      }
    }
  }

  [[nodiscard]] auto activate(vdev::activation a) -> vmm::result<void> override {
    const std::scoped_lock lock{mutex_};
    ++activate_calls_;
    if (options_.refuse_activation) {
      return std::unexpected(std::make_error_code(std::errc::io_error));
    }
    activation_record record;
    record.features = a.features;
    record.interrupt = a.interrupt;
    record.memory = a.memory;
    for (const vq::virtqueue& q : a.queues) {
      record.queue_sizes.push_back(q.size());
      record.packed.push_back(q.packed());
    }
    for (const vmm::sys::borrowed_fd fd : a.queue_events) {
      record.queue_event_fds.push_back(fd.get());
    }
    activations_.push_back(std::move(record));
    queues_ = std::move(a.queues);
    return {};
  }

  void reset() override {
    const std::scoped_lock lock{mutex_};
    ++resets_;
    queues_.clear();
  }

  /// The device changes its own configuration byte `offset` (call through the transport's update_config).
  void set_config_byte(std::size_t offset, std::byte value) {
    const std::scoped_lock lock{mutex_};
    config_.at(offset) = value;
  }

  [[nodiscard]] auto activate_calls() const -> std::size_t {
    const std::scoped_lock lock{mutex_};
    return activate_calls_;
  }
  [[nodiscard]] auto activations() const -> std::vector<activation_record> {
    const std::scoped_lock lock{mutex_};
    return activations_;
  }
  [[nodiscard]] auto resets() const -> std::size_t {
    const std::scoped_lock lock{mutex_};
    return resets_;
  }
  [[nodiscard]] auto config_writes() const -> std::vector<config_write> {
    const std::scoped_lock lock{mutex_};
    return writes_;
  }
  [[nodiscard]] auto config() const -> std::vector<std::byte> {
    const std::scoped_lock lock{mutex_};
    return config_;
  }
  /// The queues of the current activation (empty when inactive). Not thread safe against activate/reset.
  [[nodiscard]] auto queues() -> std::vector<vq::virtqueue>& { return queues_; }

 private:
  fake_options options_;
  mutable std::mutex mutex_;
  std::vector<std::byte> config_;
  std::vector<config_write> writes_;
  std::vector<activation_record> activations_;
  std::vector<vq::virtqueue> queues_;
  std::size_t activate_calls_ = 0;
  std::size_t resets_ = 0;
};

/// An interrupt line that counts its triggers, and can be told to fail.
class counting_trigger final : public vmm::device::interrupt_trigger {
 public:
  [[nodiscard]] auto trigger() -> vmm::result<void> override {
    if (fail.load()) {
      return std::unexpected(std::make_error_code(std::errc::resource_unavailable_try_again));
    }
    ++calls;
    return {};
  }
  std::atomic<std::uint64_t> calls{0};
  std::atomic<bool> fail{false};
};

/// The guest memory of the bench: [0, 64 KiB).
inline constexpr std::uint64_t memory_size = 0x1'0000;

/// Fresh anonymous guest memory of memory_size bytes at guest address 0.
[[nodiscard]] inline auto make_memory() -> std::shared_ptr<vmm::memory::atomic_guest_memory> {
  const std::array layout{vmm::memory::guest_range{.start = vmm::memory::guest_address{0}, .size = memory_size}};
  return std::make_shared<vmm::memory::atomic_guest_memory>(vmm::memory::guest_memory::anonymous(layout).value());
}

/// Where the bench puts queue i's rings: a 16 KiB block per queue from 0x1000 (descriptors, then the driver area
/// at +0x1000, the device area at +0x2000), room for 256 entries of either layout.
[[nodiscard]] constexpr auto descriptor_area(std::uint32_t queue) noexcept -> std::uint64_t {
  return 0x1000 + (0x4000 * std::uint64_t{queue});
}
[[nodiscard]] constexpr auto driver_area(std::uint32_t queue) noexcept -> std::uint64_t {
  return descriptor_area(queue) + 0x1000;
}
[[nodiscard]] constexpr auto device_area(std::uint32_t queue) noexcept -> std::uint64_t {
  return descriptor_area(queue) + 0x2000;
}

/// The base the bench's accesses name (the transport ignores it).
inline constexpr vmm::device::bus_address window_base{0xd000'0000};

/// A transport in front of a fake_device, and the driver's side of the registers.
struct bench {
  explicit bench(fake_options options = {})
      : device{std::make_shared<fake_device>(std::move(options))},
        memory{make_memory()},
        trigger{std::make_shared<counting_trigger>()},
        transport{mmio::mmio_transport::create(
                      {.device = device, .memory = memory, .interrupt = trigger, .vendor_id = 0x1af4})
                      .value()} {}

  std::shared_ptr<fake_device> device;
  std::shared_ptr<vmm::memory::atomic_guest_memory> memory;
  std::shared_ptr<counting_trigger> trigger;
  std::shared_ptr<mmio::mmio_transport> transport;

  /// A 4-byte register read.
  [[nodiscard]] auto read32(std::uint64_t offset) const -> std::uint32_t {
    std::array<std::byte, 4> data{};
    transport->read(window_base, offset, data);
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < data.size(); ++i) {
      value |= std::to_integer<std::uint32_t>(data[i]) << (8U * i);
    }
    return value;
  }

  /// A 4-byte register write.
  void write32(std::uint64_t offset, std::uint32_t value) const {
    std::array<std::byte, 4> data{};
    for (std::size_t i = 0; i < data.size(); ++i) {
      data[i] = static_cast<std::byte>((value >> (8U * i)) & 0xffU);
    }
    transport->write(window_base, offset, data);
  }

  /// The 64-bit DeviceFeatures, through both selector values.
  [[nodiscard]] auto device_features() const -> std::uint64_t {
    write32(mmio::reg::device_features_sel, 0);
    const std::uint64_t low = read32(mmio::reg::device_features);
    write32(mmio::reg::device_features_sel, 1);
    return low | (std::uint64_t{read32(mmio::reg::device_features)} << 32U);
  }

  /// Writes the 64-bit DriverFeatures through both selector values.
  void accept_features(std::uint64_t features) const {
    write32(mmio::reg::driver_features_sel, 0);
    write32(mmio::reg::driver_features, static_cast<std::uint32_t>(features));
    write32(mmio::reg::driver_features_sel, 1);
    write32(mmio::reg::driver_features, static_cast<std::uint32_t>(features >> 32U));
  }

  /// Adds `bits` to the status the way Linux does (read, or, write) and returns what the status reads then.
  auto add_status(std::uint32_t bits) const -> std::uint32_t {
    write32(mmio::reg::status, read32(mmio::reg::status) | bits);
    return read32(mmio::reg::status);
  }

  /// ACKNOWLEDGE, DRIVER, `features`, FEATURES_OK; returns the status read back.
  auto negotiate(std::uint64_t features = default_features) const -> std::uint32_t {
    add_status(vdev::status::acknowledge);
    add_status(vdev::status::driver);
    accept_features(features);
    return add_status(vdev::status::features_ok);
  }

  /// Configures queue `index` with `size` entries at the bench's areas and makes it ready.
  void setup_queue(std::uint32_t index, std::uint16_t size) const {
    write32(mmio::reg::queue_sel, index);
    write32(mmio::reg::queue_num, size);
    write_area(mmio::reg::queue_desc_low, descriptor_area(index));
    write_area(mmio::reg::queue_driver_low, driver_area(index));
    write_area(mmio::reg::queue_device_low, device_area(index));
    write32(mmio::reg::queue_ready, 1);
  }

  /// Writes a 64-bit area address to the Low register at `low` and the High one after it.
  void write_area(std::uint64_t low, std::uint64_t address) const {
    write32(low, static_cast<std::uint32_t>(address));
    write32(low + 4, static_cast<std::uint32_t>(address >> 32U));
  }

  /// negotiate, every queue set up with its maximum size, DRIVER_OK; returns the status read back.
  auto bring_up(std::uint64_t features = default_features) const -> std::uint32_t {
    negotiate(features);
    const std::vector<vq::queue_config> configs = transport->queue_configs();
    for (std::uint32_t i = 0; i < configs.size(); ++i) {
      setup_queue(i, configs[i].max_size);
    }
    return add_status(vdev::status::driver_ok);
  }
};

}  // namespace mmio_fakes
