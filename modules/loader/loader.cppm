// vmm.loader — putting a Linux kernel into guest memory and describing the machine to it, the counterpart of
// rust-vmm's linux-loader, plus the x86-64 CPU state a kernel is entered with.
//
// What it does: checks and loads a bzImage's protected-mode kernel (setup header, boot protocol >= 2.06) or an
// ELF64 vmlinux (PT_LOAD segments, the PVH entry note); places and loads an initrd; builds a kernel command line
// the kernel parses back unchanged (quoting, init arguments, virtio-mmio devices); fills the zero page (struct
// boot_params with an e820 map) or the PVH start info (hvm_start_info with modules and a memory map); writes
// identity-mapped page tables and a GDT, and gives the control, segment and general registers for the Linux 64-bit
// entry and the PVH entry as plain structs shaped like KVM's.
//
// What it deliberately does not do: no decompression of a bzImage's payload (the 64-bit entry does that itself),
// no real-mode setup code, no PE/EFI or arm64/riscv images, no ACPI or MP tables, no KVM calls (vmm.kvm copies the
// boot-state structs into kvm_regs and kvm_sregs). It never prints and never throws; a hostile image, initrd or
// command line is an error value, never a crash or an out-of-bounds access.
export module vmm.loader;
export import :error;
export import :bzimage;
export import :elf;
export import :initrd;
export import :cmdline;
export import :boot_params;
export import :pvh;
export import :boot_state;
