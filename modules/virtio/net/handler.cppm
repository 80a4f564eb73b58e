// vmm.virtio.net:handler — the network device's event-manager subscriber.
export module vmm.virtio.net:handler;
import std;
import vmm.sys;
import vmm.event_manager;
import :device;

export namespace vmm::virtio::net {

/// Runs a net_device on an event manager's thread. It watches the device's state eventfd from init(); while the
/// device is active it watches the rx and tx queue eventfds and the tap. A tx notification sends the tx queue's
/// frames; a readable tap moves frames into rx chains; when the rx queue runs out of chains the handler stops
/// watching the tap (the frame waits in the device) and resumes when the rx queue is notified.
///
/// A dynamic_subscriber (neither copyable nor movable): add it to a dynamic_event_manager, or to an
/// event_manager<std::unique_ptr<net_handler>> for static dispatch. Failures are counted in the device's metrics
/// or handler_errors(), never thrown.
class net_handler final : public event_manager::dynamic_subscriber {
 public:
  /// Drives `device` (not null).
  explicit net_handler(std::shared_ptr<net_device> device);

  void init(event_manager::event_ops& ops) override;
  void process(const event_manager::events& ready, event_manager::event_ops& ops) override;

  /// The device this handler drives.
  [[nodiscard]] auto device() const noexcept -> const std::shared_ptr<net_device>& { return device_; }
  /// Registrations epoll refused and eventfd reads that failed (other than EAGAIN).
  [[nodiscard]] auto handler_errors() const noexcept -> std::uint64_t { return errors_; }
  /// Whether the tap is being watched now.
  [[nodiscard]] auto watching_tap() const noexcept -> bool { return tap_watched_; }

 private:
  void sync(event_manager::event_ops& ops);
  void rewatch(event_manager::event_ops& ops, sys::borrowed_fd& watched, sys::borrowed_fd wanted, std::uint32_t tag);
  void watch_tap(event_manager::event_ops& ops, bool wanted);
  void run_rx(event_manager::event_ops& ops);

  std::shared_ptr<net_device> device_;
  std::array<sys::borrowed_fd, 2> watched_queue_events_{};
  bool tap_watched_ = false;
  std::uint64_t errors_ = 0;
};

}  // namespace vmm::virtio::net
