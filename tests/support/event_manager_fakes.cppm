// vmm.testing:event_manager — subscribers for event manager tests.
export module vmm.testing:event_manager;
import std;
import vmm.sys;
import vmm.event_manager;

export namespace vmm::testing {

/// Owns a non-blocking eventfd, watches it for readability with `data`, and counts the events it gets. process()
/// drains the eventfd, so each trigger() is one event (level-triggered, nothing left pending afterwards).
class counter_subscriber {
 public:
  explicit counter_subscriber(std::uint32_t data = 0)
      : fd_{vmm::sys::event_fd::create({.nonblocking = true}).value()}, data_{data} {}

  void init(vmm::event_manager::event_ops& ops) {
    last_init_error = ops.add({fd_.fd(), vmm::sys::event_set::readable, data_}).error_or({});
  }

  void process(const vmm::event_manager::events& ready, vmm::event_manager::event_ops& /*ops*/) {
    ++*count;
    last_data = ready.data();
    last_set = ready.set();
    last_fd = ready.fd().get();
    static_cast<void>(fd_.read());
  }

  /// Makes the eventfd readable, so the next run() dispatches one event to this subscriber.
  void trigger() const { fd_.write(1).value(); }
  [[nodiscard]] auto fd() const -> vmm::sys::borrowed_fd { return fd_.fd(); }

  /// Shared so a test can read the count after the subscriber moved into the manager.
  std::shared_ptr<std::uint64_t> count = std::make_shared<std::uint64_t>(0);
  std::uint32_t last_data = 0;
  vmm::sys::event_set last_set = vmm::sys::event_set::none;
  int last_fd = -1;
  std::error_code last_init_error;

 private:
  vmm::sys::event_fd fd_;
  std::uint32_t data_;
};

}  // namespace vmm::testing
