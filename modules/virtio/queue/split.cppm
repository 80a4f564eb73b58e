// vmm.virtio.queue:split — the split virtqueue (virtio 1.x §2.7): descriptor table, available ring, used ring,
// indirect descriptors and EVENT_IDX notification suppression, with every guest-controlled value checked.
export module vmm.virtio.queue:split;
import std;
import vmm.memory;
import :error;
import :layout;
import :config;
import :chain;

export namespace vmm::virtio::queue {

/// The device side of a split virtqueue. Not thread safe: one device thread owns a queue.
///
/// Threat model (docs/virtio.md): the driver controls every byte of the three rings, and may change them while the
/// device reads. Each ring index and entry is read once, with a single atomic access; the available index may not
/// run more than `size` ahead of the device (errc::queue_broken); heads, next indices and indirect tables are
/// bounds-checked; a chain is at most `size` descriptors (the indirect table's length for an indirect chain), which
/// stops loops; no indirect table nests another; every buffer lies in guest memory; a head already in flight is
/// refused (CVE-2026-45782).
class split_queue {
 public:
  /// Checks `config` against `memory` and `features` (the negotiated feature word): size a power of two in
  /// 1..min(max_size, 32768), the areas aligned (16/2/4) and inside guest memory. Errors:
  /// errc::invalid_configuration (the message names the field), errc::descriptor_out_of_memory.
  [[nodiscard]] static auto create(const queue_config& config, std::uint64_t features,
                                   const memory::guest_memory& memory) -> vmm::result<split_queue>;

  /// The next available chain, checked, in `chain` (its storage reused). Returns false when the driver has made no
  /// new chain available. Errors: one per rule the chain broke (see errc): the entry is consumed, and was returned
  /// to the driver with used length 0 unless its head was out of range or already in flight; pop again for the
  /// next one. errc::queue_broken / errc::ring_unreadable: the queue stays broken until reset (the device should
  /// set DEVICE_NEEDS_RESET).
  [[nodiscard]] auto pop(const memory::guest_memory& memory, descriptor_chain& chain) -> vmm::result<bool>;

  /// Puts a chain the device is done with on the used ring with `used_length` bytes written, and publishes the new
  /// used index (release). Errors: errc::not_in_flight (nothing written), errc::ring_unreadable.
  [[nodiscard]] auto add_used(const memory::guest_memory& memory, chain_token token, std::uint32_t used_length)
      -> vmm::result<void>;

  /// Whether the driver wants an interrupt for the used entries added since the last call (EVENT_IDX's used_event,
  /// else the available ring's NO_INTERRUPT flag). Errors: errc::ring_unreadable.
  [[nodiscard]] auto needs_notification(const memory::guest_memory& memory) -> vmm::result<bool>;

  /// Asks the driver to notify the device of new chains (clears NO_NOTIFY, or sets avail_event with EVENT_IDX) and
  /// returns whether chains became available meanwhile (pop again before sleeping).
  [[nodiscard]] auto enable_notification(const memory::guest_memory& memory) -> vmm::result<bool>;
  /// Tells the driver that notifications are not needed (sets NO_NOTIFY; a no-op with EVENT_IDX).
  [[nodiscard]] auto disable_notification(const memory::guest_memory& memory) -> vmm::result<void>;

  [[nodiscard]] inline auto size() const noexcept -> std::uint16_t { return size_; }
  /// The driver's chains not yet popped (0 when broken).
  [[nodiscard]] auto pending(const memory::guest_memory& memory) const -> vmm::result<std::uint16_t>;
  /// Chains popped and not yet used.
  [[nodiscard]] inline auto in_flight() const noexcept -> std::uint32_t { return in_flight_count_; }
  [[nodiscard]] inline auto stats() const noexcept -> const queue_stats& { return stats_; }
  [[nodiscard]] inline auto broken() const noexcept -> bool { return broken_; }
  /// The next available index the device will read, and the next used index it will write.
  [[nodiscard]] inline auto next_avail() const noexcept -> std::uint16_t { return next_avail_; }
  [[nodiscard]] inline auto next_used() const noexcept -> std::uint16_t { return next_used_; }

 private:
  split_queue() = default;

  memory::guest_address desc_table_;
  memory::guest_address avail_ring_;
  memory::guest_address used_ring_;
  std::uint16_t size_ = 0;
  std::uint16_t next_avail_ = 0;
  std::uint16_t next_used_ = 0;
  std::uint16_t signalled_used_ = 0;  // the used index at the last needs_notification
  bool event_idx_ = false;
  bool indirect_ = false;
  bool broken_ = false;
  std::uint32_t in_flight_count_ = 0;
  std::vector<std::uint64_t> in_flight_;  // one bit per head
  queue_stats stats_;
};

}  // namespace vmm::virtio::queue
