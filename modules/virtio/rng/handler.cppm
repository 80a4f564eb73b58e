// vmm.virtio.rng:handler — the entropy device's event-manager subscriber.
export module vmm.virtio.rng:handler;
import std;
import vmm.sys;
import vmm.event_manager;
import :device;

export namespace vmm::virtio::rng {

/// Runs an rng_device on an event manager's thread. It watches the device's state eventfd from init(); when the
/// device is activated it starts watching the queue's notification eventfd (and answers what is already queued),
/// and when it is reset it stops. Each queue notification drains the eventfd and calls process_queue.
///
/// A dynamic_subscriber (neither copyable nor movable): add it to a dynamic_event_manager, or to an
/// event_manager<std::unique_ptr<rng_handler>> for static dispatch. Failures
/// (a broken queue, an fd epoll refuses) are counted in the device's metrics or handler_errors(), never thrown.
class rng_handler final : public event_manager::dynamic_subscriber {
 public:
  /// Drives `device` (not null).
  explicit rng_handler(std::shared_ptr<rng_device> device);

  void init(event_manager::event_ops& ops) override;
  void process(const event_manager::events& ready, event_manager::event_ops& ops) override;

  /// The device this handler drives.
  [[nodiscard]] auto device() const noexcept -> const std::shared_ptr<rng_device>& { return device_; }
  /// Registrations epoll refused and eventfd reads that failed (other than EAGAIN).
  [[nodiscard]] auto handler_errors() const noexcept -> std::uint64_t { return errors_; }

 private:
  void sync(event_manager::event_ops& ops);

  std::shared_ptr<rng_device> device_;
  sys::borrowed_fd watched_queue_event_;
  std::uint64_t errors_ = 0;
};

}  // namespace vmm::virtio::rng
