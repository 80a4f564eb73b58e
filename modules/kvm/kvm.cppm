// vmm.kvm — typed access to Linux KVM on x86-64, the counterpart of rust-vmm's kvm-ioctls and kvm-bindings.
//
// What it does: the /dev/kvm fd (API version, capabilities, supported and emulated CPUID, MSR lists, VM creation),
// VM fds (memory slots, also with guest_memfd; irqchip, PIT, irq lines, irqfd, ioeventfd, GSI routing, MSIs; dirty
// logs, manual dirty-log clearing and the dirty ring; kvmclock; capabilities; vCPU creation) and vCPU fds (register
// state, MSRs, CPUID, XSAVE, events, run() with a decoded exit, and a race-free stop from another thread). Every
// raw ioctl and mmap of KVM lives here, next to a SAFETY comment, and every value that KVM passes back from a guest
// (exit data) is bounds-checked before it becomes a span.
//
// What it deliberately does not do: no device models or buses (vmm.device dispatches the exits), no guest memory
// management (vmm.memory), no boot setup (vmm.loader), no threads of its own, no other architectures yet, no
// printing and no exceptions.
export module vmm.kvm;
export import :error;
export import :types;
export import :exit;
export import :vcpu;
export import :vm;
export import :system;
