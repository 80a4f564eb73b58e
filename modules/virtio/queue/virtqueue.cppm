// vmm.virtio.queue:virtqueue — one queue type for devices: split or packed, chosen by the negotiated features.
export module vmm.virtio.queue:virtqueue;
import std;
import vmm.memory;
import :error;
import :layout;
import :config;
import :chain;
import :split;
import :packed;

export namespace vmm::virtio::queue {

/// A split or packed queue, whichever the driver negotiated (VIRTIO_F_RING_PACKED). Devices hold these; every
/// operation is the layout's own (see split_queue and packed_queue for the checks and errors).
class virtqueue {
 public:
  /// A packed_queue when `features` has VIRTIO_F_RING_PACKED, else a split_queue. Errors: as their create.
  [[nodiscard]] static auto create(const queue_config& config, std::uint64_t features,
                                   const memory::guest_memory& memory) -> vmm::result<virtqueue> {
    if (has_feature(features, feature::ring_packed)) {
      return packed_queue::create(config, features, memory).transform([](packed_queue q) {
        return virtqueue{std::move(q)};
      });
    }
    return split_queue::create(config, features, memory).transform([](split_queue q) {
      return virtqueue{std::move(q)};
    });
  }

  explicit virtqueue(split_queue q) noexcept : queue_{std::move(q)} {}
  explicit virtqueue(packed_queue q) noexcept : queue_{std::move(q)} {}

  [[nodiscard]] inline auto pop(const memory::guest_memory& memory, descriptor_chain& chain) -> vmm::result<bool> {
    return std::visit([&](auto& q) { return q.pop(memory, chain); }, queue_);
  }
  [[nodiscard]] inline auto add_used(const memory::guest_memory& memory, chain_token token, std::uint32_t used_length)
      -> vmm::result<void> {
    return std::visit([&](auto& q) { return q.add_used(memory, token, used_length); }, queue_);
  }
  [[nodiscard]] inline auto needs_notification(const memory::guest_memory& memory) -> vmm::result<bool> {
    return std::visit([&](auto& q) { return q.needs_notification(memory); }, queue_);
  }
  [[nodiscard]] inline auto enable_notification(const memory::guest_memory& memory) -> vmm::result<bool> {
    return std::visit([&](auto& q) { return q.enable_notification(memory); }, queue_);
  }
  [[nodiscard]] inline auto disable_notification(const memory::guest_memory& memory) -> vmm::result<void> {
    return std::visit([&](auto& q) { return q.disable_notification(memory); }, queue_);
  }
  // Never valueless (both queues move without throwing), so visit cannot throw bad_variant_access.
  // NOLINTNEXTLINE(bugprone-exception-escape)
  [[nodiscard]] inline auto size() const noexcept -> std::uint16_t {
    return std::visit([](const auto& q) { return q.size(); }, queue_);
  }
  // Never valueless (both queues move without throwing), so visit cannot throw bad_variant_access.
  // NOLINTNEXTLINE(bugprone-exception-escape)
  [[nodiscard]] inline auto in_flight() const noexcept -> std::uint32_t {
    return std::visit([](const auto& q) { return q.in_flight(); }, queue_);
  }
  // Never valueless (both queues move without throwing), so visit cannot throw bad_variant_access.
  // NOLINTNEXTLINE(bugprone-exception-escape)
  [[nodiscard]] inline auto stats() const noexcept -> const queue_stats& {
    return std::visit([](const auto& q) -> const queue_stats& { return q.stats(); }, queue_);
  }
  // Never valueless (both queues move without throwing), so visit cannot throw bad_variant_access.
  // NOLINTNEXTLINE(bugprone-exception-escape)
  [[nodiscard]] inline auto broken() const noexcept -> bool {
    return std::visit([](const auto& q) { return q.broken(); }, queue_);
  }
  [[nodiscard]] inline auto packed() const noexcept -> bool { return std::holds_alternative<packed_queue>(queue_); }

 private:
  std::variant<split_queue, packed_queue> queue_;
};

/// The longest chain any of `queues` can hand out (the largest size): what a device's descriptor_chain reserves.
[[nodiscard]] inline auto longest_chain(std::span<const virtqueue> queues) noexcept -> std::size_t {
  std::size_t n = 0;
  for (const virtqueue& q : queues) {
    n = std::max<std::size_t>(n, q.size());
  }
  return n;
}

}  // namespace vmm::virtio::queue
