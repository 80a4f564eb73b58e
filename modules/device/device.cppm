// vmm.device — port-I/O and MMIO buses for a VMM, the counterpart of rust-vmm's vm-device.
//
// What it does: the interface a device on a bus implements (bus_device) and the way a device raises an interrupt
// (interrupt_trigger, with an eventfd implementation for KVM irqfds).
//
// What it deliberately does not do: no device models (vmm.devices.legacy, vmm.virtio.*), no address allocation
// (vmm.allocator), no KVM calls (a VMM feeds vmm.kvm's exits to the buses).
export module vmm.device;
export import :bus_device;
