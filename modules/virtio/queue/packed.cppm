// vmm.virtio.queue:packed — the packed virtqueue (VIRTIO_F_RING_PACKED, virtio 1.x §2.8): one descriptor ring
// with wrap counters, indirect descriptors, and the event suppression structures, with every guest-controlled value
// checked.
export module vmm.virtio.queue:packed;
import std;
import vmm.memory;
import :error;
import :layout;
import :config;
import :chain;

export namespace vmm::virtio::queue {

/// The device side of a packed virtqueue. Not thread safe: one device thread owns a queue.
///
/// The same checks as split_queue, adapted: a descriptor is available when its AVAIL bit equals the driver's wrap
/// counter and its USED bit does not (read once, acquire, before the rest of the descriptor); a chain is at most
/// `size` descriptors; the buffer id (from the chain's last descriptor) must be below the queue size and not in
/// flight; indirect tables as in split_queue.
class packed_queue {
 public:
  /// Checks `config` (size in 1..min(max_size, 32768), not necessarily a power of two; ring aligned to 16, event
  /// areas to 4, all inside `memory`). Errors: errc::invalid_configuration, errc::descriptor_out_of_memory.
  [[nodiscard]] static auto create(const queue_config& config, std::uint64_t features,
                                   const memory::guest_memory& memory) -> vmm::result<packed_queue>;

  /// As split_queue::pop. A malformed chain is returned to the driver as used with length 0 (its ring slots are
  /// consumed) unless its buffer id is out of range or in flight.
  [[nodiscard]] auto pop(const memory::guest_memory& memory, descriptor_chain& chain) -> vmm::result<bool>;
  /// Writes a used descriptor (id, length, flags last with release) and advances the used position by the chain's
  /// slots. Errors: errc::not_in_flight, errc::ring_unreadable.
  [[nodiscard]] auto add_used(const memory::guest_memory& memory, chain_token token, std::uint32_t used_length)
      -> vmm::result<void>;
  /// Whether the driver's event suppression structure asks for an interrupt now (ENABLE, DISABLE, or DESC with
  /// EVENT_IDX: the used position passed the offset and wrap it names).
  [[nodiscard]] auto needs_notification(const memory::guest_memory& memory) -> vmm::result<bool>;
  /// Writes the device event suppression structure (ENABLE, or DESC at the next available position with
  /// EVENT_IDX) and returns whether a chain is available now.
  [[nodiscard]] auto enable_notification(const memory::guest_memory& memory) -> vmm::result<bool>;
  /// Writes DISABLE into the device event suppression structure.
  [[nodiscard]] auto disable_notification(const memory::guest_memory& memory) -> vmm::result<void>;

  [[nodiscard]] inline auto size() const noexcept -> std::uint16_t { return size_; }
  [[nodiscard]] inline auto in_flight() const noexcept -> std::uint32_t { return in_flight_count_; }
  [[nodiscard]] inline auto stats() const noexcept -> const queue_stats& { return stats_; }
  [[nodiscard]] inline auto broken() const noexcept -> bool { return broken_; }

 private:
  packed_queue() = default;

  memory::guest_address ring_;
  memory::guest_address driver_event_;
  memory::guest_address device_event_;
  std::uint16_t size_ = 0;
  std::uint16_t next_avail_ = 0;
  bool avail_wrap_ = true;
  std::uint16_t next_used_ = 0;
  bool used_wrap_ = true;
  std::uint16_t signalled_used_ = 0;
  bool signalled_used_wrap_ = true;
  bool event_idx_ = false;
  bool indirect_ = false;
  bool broken_ = false;
  std::uint32_t in_flight_count_ = 0;
  std::vector<std::uint64_t> in_flight_;
  queue_stats stats_;
};

}  // namespace vmm::virtio::queue
