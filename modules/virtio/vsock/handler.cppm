// vmm.virtio.vsock:handler — the event-manager subscriber of a vsock device: the tx, rx and event queue
// notifications, and the muxer's epoll descriptor for the unix sockets and the connection deadlines.
export module vmm.virtio.vsock:handler;
import std;
import vmm.sys;
import vmm.event_manager;
import :device;

export namespace vmm::virtio::vsock {

/// Subscribes a vsock device to an event manager. Add it after the device is activated (it registers the queue
/// eventfds the activation carried); remove it when the device is reset. A failed queue operation throws, which
/// the event manager reports to its error handler.
class vsock_handler {
 public:
  /// Which fd an event belongs to (the events' data).
  static constexpr std::uint32_t rx_queue = 0;
  static constexpr std::uint32_t tx_queue = 1;
  static constexpr std::uint32_t event_queue = 2;
  static constexpr std::uint32_t backend = 3;

  explicit vsock_handler(std::shared_ptr<vsock_device> device) noexcept : device_{std::move(device)} {}

  void init(event_manager::event_ops& ops) {
    for (const auto [index, data] : {std::pair{queue_index::rx, rx_queue}, std::pair{queue_index::tx, tx_queue},
                                     std::pair{queue_index::event, event_queue}}) {
      if (const auto fd = device_->queue_event(index); fd.valid()) {
        check(ops.add(event_manager::events{fd, sys::event_set::readable, data}));
      }
    }
    check(ops.add(event_manager::events{device_->backend_fd(), sys::event_set::readable, backend}));
  }

  void process(const event_manager::events& ready, event_manager::event_ops& /*ops*/) {
    if (ready.data() != backend) {
      std::array<std::byte, sizeof(std::uint64_t)> count{};
      static_cast<void>(sys::read(ready.fd(), count));  // drain the eventfd (EAGAIN: already drained)
    }
    switch (ready.data()) {
      case tx_queue:
        check(device_->process_tx());
        break;
      case rx_queue:
        check(device_->process_rx());
        break;
      case backend:
        check(device_->process_backend());
        break;
      case event_queue:
        check(device_->process_event());
        break;
      default:
        break;
    }
  }

 private:
  static void check(const vmm::result<void>& r) {
    if (!r) {
      throw std::system_error(r.error());
    }
  }
  std::shared_ptr<vsock_device> device_;
};

}  // namespace vmm::virtio::vsock
