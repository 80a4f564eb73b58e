// vmm.virtio.mmio — the virtio-mmio transport, version 2 (virtio 1.x §4.2.2): the register window a guest's
// virtio_mmio driver finds at a guest physical address, in front of any vmm::virtio::device::virtio_device.
//
// What it does: the registers (magic, version, ids, features and their selectors, queue selection and setup, queue
// notification, interrupt status and acknowledge, device status, configuration generation) and the configuration
// space at 0x100; feature negotiation (the driver accepts only what the device offers, and VIRTIO_F_VERSION_1);
// the device status state machine (ACKNOWLEDGE → DRIVER → FEATURES_OK → DRIVER_OK, FAILED, reset by writing 0);
// activation of the device with checked queues on DRIVER_OK, and DEVICE_NEEDS_RESET when that fails; queue
// registers frozen after DRIVER_OK (the CVE-2026-5747 regression); one eventfd per queue for notifications, which a
// VMM registers as KVM ioeventfds (register_notify_ioeventfds), and interrupts through an interrupt_trigger (an
// irqfd's eventfd in a VMM).
//
// What it deliberately does not do: no legacy (version 1) registers (GuestPageSize, QueueAlign, QueuePFN), no
// shared memory regions (every region reads as absent), no VIRTIO_F_NOTIFICATION_DATA (never offered), no queue
// mechanics (vmm.virtio.queue), no device models, no bus or address allocation (vmm.device, vmm.allocator).
export module vmm.virtio.mmio;
export import :error;
export import :registers;
export import :interrupt;
export import :transport;
export import :ioeventfd;
