// vmm.virtio.mmio:interrupt — InterruptStatus and InterruptACK: the causes a device raises, kept in one atomic word,
// and the interrupt line they trigger.
export module vmm.virtio.mmio:interrupt;
import std;
import vmm.sys;
import vmm.device;
import vmm.virtio.device;
import :registers;

export namespace vmm::virtio::mmio {

/// The transport's side of vmm::virtio::device::virtio_interrupt: signal sets the cause's InterruptStatus bit
/// (interrupt_vring or interrupt_config), then triggers the interrupt line; the driver reads the bits and clears
/// them through InterruptACK. The transport hands this object to the device at activation (a shared_ptr, so a
/// device thread that outlives a reset still signals something valid).
///
/// Thread safety: every member may be called from any thread at once (the bits are one atomic word; the trigger is
/// thread safe by its contract).
class mmio_interrupt final : public device::virtio_interrupt {
 public:
  /// Triggers `trigger` on every signal; a null trigger only sets the bits (a polling driver).
  explicit mmio_interrupt(std::shared_ptr<vmm::device::interrupt_trigger> trigger) noexcept
      : trigger_{std::move(trigger)} {}

  /// Sets the bit of `cause` (bits outside interrupt_mask are dropped), then triggers the line, every time (the
  /// driver may have read the status already). Errors: the trigger's (counted in trigger_errors).
  [[nodiscard]] auto signal(device::interrupt_cause cause) -> vmm::result<void> override;

  /// What InterruptStatus reads.
  [[nodiscard]] inline auto status() const noexcept -> std::uint32_t { return status_.load(std::memory_order_acquire); }
  /// InterruptACK: clears `bits` (the driver has handled those causes).
  inline void acknowledge(std::uint32_t bits) noexcept { status_.fetch_and(~bits, std::memory_order_acq_rel); }
  /// Clears every bit (device reset).
  inline void clear() noexcept { status_.store(0, std::memory_order_release); }

  /// How many times the line was triggered successfully.
  [[nodiscard]] inline auto triggered() const noexcept -> std::uint64_t {
    return triggered_.load(std::memory_order_relaxed);
  }
  /// How many triggers failed (the bit was still set).
  [[nodiscard]] inline auto trigger_errors() const noexcept -> std::uint64_t {
    return trigger_errors_.load(std::memory_order_relaxed);
  }

 private:
  std::shared_ptr<vmm::device::interrupt_trigger> trigger_;
  std::atomic<std::uint32_t> status_{0};
  std::atomic<std::uint64_t> triggered_{0};
  std::atomic<std::uint64_t> trigger_errors_{0};
};

}  // namespace vmm::virtio::mmio
