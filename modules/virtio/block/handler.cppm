// vmm.virtio.block:handler — the block device's event-manager subscriber: watches the device's state event (to
// follow activation and reset), the queue's notification eventfd while active, and the backend's completion
// eventfd, and hands each to the device.
export module vmm.virtio.block:handler;
import std;
import vmm.sys;
import vmm.event_manager;
import :device;

export namespace vmm::virtio::block {

/// Subscribes a block_device to an event manager (event_manager::subscriber): the state event, the backend's
/// completion event, and the notification eventfd of every queue in use. Errors the device reports while
/// processing are counted in its metrics; the handler keeps going (a broken queue waits for the driver's reset).
class block_handler {
 public:
  /// Which registration an event belongs to: the low byte of the events' data (a queue's index is above it).
  enum class source : std::uint8_t { state = 1, queue = 2, completion = 3 };

  explicit block_handler(std::shared_ptr<block_device> device) noexcept : device_{std::move(device)} {}

  /// Watches the state event and the backend's completion event (and the queue events when already active).
  /// Throws std::system_error when the manager refuses a registration (event_manager reports it from
  /// add_subscriber).
  void init(event_manager::event_ops& ops);
  /// Handles one ready fd.
  void process(const event_manager::events& ready, event_manager::event_ops& ops);

  /// The last error the device returned (empty when none).
  [[nodiscard]] auto last_error() const noexcept -> std::error_code { return last_error_; }

 private:
  void follow_state(event_manager::event_ops& ops);
  void note(const vmm::result<void>& r) noexcept;

  std::shared_ptr<block_device> device_;
  std::vector<sys::borrowed_fd> watched_queues_;
  std::error_code last_error_;
};

}  // namespace vmm::virtio::block
