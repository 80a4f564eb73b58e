// vmm.device — port-I/O and MMIO buses for a VMM, the counterpart of rust-vmm's vm-device.
//
// What it does: the interface a device on a bus implements (bus_device) and the way a device raises an interrupt
// (interrupt_trigger, with an eventfd implementation for KVM irqfds); the port-I/O and MMIO buses (pio_bus,
// mmio_bus): registration on disjoint ranges with overlap checks, O(log n) lookup, and dispatch of vCPU accesses
// from many threads at once without a lock on the access path; and locked<Device>, which puts a device that is not
// thread safe on a bus.
//
// What it deliberately does not do: no device models (vmm.devices.legacy, vmm.virtio.*), no address allocation
// (vmm.allocator), no KVM calls (a VMM feeds vmm.kvm's exits to the buses).
export module vmm.device;
export import :bus_device;
export import :error;
export import :bus;
export import :locked;
