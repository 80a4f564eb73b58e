// vmm.allocator — address and id allocation for a VMM, the counterpart of rust-vmm's vm-allocator.
//
// What it does: address_allocator hands out aligned, disjoint ranges of an address pool (MMIO windows, PCI BARs,
// port ranges) first-fit or last-fit, or at a fixed address, and frees them with coalescing; id_allocator hands out
// ids (IRQs, GSIs) lowest-first or a specific one. Both check every input (sizes, alignments, ranges, double frees)
// and every address computation against overflow, and report bad requests as vmm::allocator::errc values.
//
// What it deliberately does not do: no locking (a VMM allocates from one thread or under its own lock), no
// knowledge of what the ranges are for (vmm.device's buses register devices on them; vmm.kvm routes the GSIs), no
// resource constraints language (a caller passes size and alignment).
export module vmm.allocator;
export import :error;
export import :range;
export import :address_allocator;
export import :id_allocator;
