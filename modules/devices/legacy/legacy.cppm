// vmm.devices.legacy — the PC's legacy port-I/O devices a Linux guest expects, the counterpart of rust-vmm's
// vm-superio (and more: an x86 CMOS RTC instead of vm-superio's ARM PL031).
//
// What it does: a 16550A UART (serial) with all registers, the FIFO control register and a bounded 64-byte receive
// FIFO, output to a serial_output sink and interrupts through vmm::device::interrupt_trigger; an i8042 keyboard
// controller (i8042) with the commands Linux's probe uses and the CPU-reset command reported through a "reset"
// trigger; an MC146818 CMOS RTC (rtc) that reads a time_source and keeps the rest of CMOS RAM. Each device is a
// vmm::device::bus_device that locks its own state, so several vCPU threads may use it at once.
//
// What it deliberately does not do: no bus or port registration (vmm.device's bus, in the VMM), no KVM calls (the
// triggers are eventfds a VMM registers as irqfds), no terminal handling (the VMM reads stdin and calls
// serial::enqueue_input), no PS/2 mouse, no RTC alarm/periodic/update interrupts, no setting of the host clock.
export module vmm.devices.legacy;
export import :error;
export import :serial;
export import :i8042;
export import :rtc;
