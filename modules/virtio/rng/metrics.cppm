// vmm.virtio.rng:metrics — what the entropy device counted, serialisable to JSON.
export module vmm.virtio.rng:metrics;
import std;

export namespace vmm::virtio::rng {

/// A snapshot of the entropy device's counters (since it was created; reset does not clear them).
struct rng_metrics {
  std::uint64_t requests = 0;               ///< chains answered (added to the used ring)
  std::uint64_t bytes = 0;                  ///< random bytes written into guest buffers
  std::uint64_t empty_requests = 0;         ///< chains without a writable byte, returned with used length 0
  std::uint64_t capped_requests = 0;        ///< chains with more writable bytes than max_request_bytes (filled to it)
  std::uint64_t entropy_errors = 0;         ///< getrandom failed or returned nothing: answered with the bytes so far
  std::uint64_t memory_errors = 0;          ///< a buffer was not writable guest memory: answered with the bytes so far
  std::uint64_t invalid_chains = 0;         ///< chains the queue refused (malformed; its stats say why)
  std::uint64_t queue_errors = 0;           ///< add_used or notification failures, and broken queues
  std::uint64_t interrupts = 0;             ///< used-buffer interrupts raised
  std::uint64_t interrupt_errors = 0;       ///< interrupts that could not be raised
  std::uint64_t ignored_config_writes = 0;  ///< driver writes to the (empty) configuration space

  /// The counters as one JSON object, keys named as the members ({"requests":3,"bytes":96,...}).
  [[nodiscard]] auto to_json() const -> std::string;

  friend constexpr auto operator==(const rng_metrics&, const rng_metrics&) noexcept -> bool = default;
};

}  // namespace vmm::virtio::rng
