// vmm.virtio.mmio:ioeventfd — the queues' notify eventfds as KVM ioeventfds: a guest's QueueNotify write then
// signals the device's eventfd inside the kernel, without an exit to the VMM.
export module vmm.virtio.mmio:ioeventfd;
import std;
import vmm.sys;
import vmm.device;
import vmm.kvm;
import :registers;
import :transport;

export namespace vmm::virtio::mmio {

/// The guest physical address of the QueueNotify register of a transport whose window starts at `base`.
[[nodiscard]] constexpr auto notify_address(vmm::device::bus_address base) noexcept -> std::uint64_t {
  return base.value + reg::queue_notify;
}

/// Registers queue i's eventfd (transport.queue_event(i)) with `vm` as an MMIO ioeventfd on the 4-byte QueueNotify
/// register of the window at `base`, with datamatch i, for every queue. Nothing stays registered on an error.
/// Errors: the first register_ioevent's (EEXIST when one is already registered there).
[[nodiscard]] auto register_notify_ioeventfds(const kvm::vm& vm, const mmio_transport& transport,
                                              vmm::device::bus_address base) -> vmm::result<void>;

/// Removes what register_notify_ioeventfds registered (each queue is tried). Errors: the first failing
/// unregister_ioevent's (ENOENT for a queue that was not registered).
[[nodiscard]] auto unregister_notify_ioeventfds(const kvm::vm& vm, const mmio_transport& transport,
                                                vmm::device::bus_address base) -> vmm::result<void>;

}  // namespace vmm::virtio::mmio
