module vmm.event_manager;
import std;

namespace vmm::event_manager {
namespace {

class category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.event_manager"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::unknown_subscriber:
        return "Subscriber id does not name a live subscriber (never added, or already removed)";
      case errc::fd_already_registered:
        return "File descriptor is already registered with this event manager";
      case errc::fd_not_registered:
        return "File descriptor is not registered by this subscriber";
      case errc::subscriber_busy:
        return "Subscriber is inside process() and cannot be taken out of the manager now";
      case errc::already_running:
        return "Another thread is already running this event manager";
      case errc::manager_gone:
        return "Event manager was destroyed before the remote call could run";
      case errc::remote_call_threw:
        return "Closure sent through the remote endpoint threw an exception";
      case errc::subscriber_threw:
        return "Subscriber's init() threw an exception; the subscriber was not added";
      case errc::too_many_subscribers:
        return "Event manager has no free subscriber or registration slot left";
    }
    return "Unknown vmm.event_manager error " + std::to_string(value);
  }
};

}  // namespace

auto event_manager_category() noexcept -> const std::error_category& {
  static const category instance;
  return instance;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), event_manager_category()};
}

}  // namespace vmm::event_manager
