module vmm.virtio.mmio;
import std;
import vmm.sys;
import vmm.device;
import vmm.kvm;

namespace vmm::virtio::mmio {
namespace {

auto notify_register(vmm::device::bus_address base) noexcept -> kvm::io_event_address {
  return {.space = kvm::io_event_space::mmio, .address = notify_address(base)};
}

}  // namespace

auto register_notify_ioeventfds(const kvm::vm& vm, const mmio_transport& transport, vmm::device::bus_address base)
    -> vmm::result<void> {
  for (std::size_t i = 0; i < transport.queue_count(); ++i) {
    auto registered =
        vm.register_ioevent(transport.queue_event(i).fd(), notify_register(base), register_width, std::uint64_t{i});
    if (!registered) {
      for (std::size_t j = 0; j < i; ++j) {
        static_cast<void>(vm.unregister_ioevent(transport.queue_event(j).fd(), notify_register(base), register_width,
                                                std::uint64_t{j}));  // undoing: the first error wins
      }
      return registered;
    }
  }
  return {};
}

auto unregister_notify_ioeventfds(const kvm::vm& vm, const mmio_transport& transport, vmm::device::bus_address base)
    -> vmm::result<void> {
  vmm::result<void> first{};
  for (std::size_t i = 0; i < transport.queue_count(); ++i) {
    auto removed =
        vm.unregister_ioevent(transport.queue_event(i).fd(), notify_register(base), register_width, std::uint64_t{i});
    if (!removed && first) {
      first = removed;
    }
  }
  return first;
}

}  // namespace vmm::virtio::mmio
