// vmm.memory — guest physical memory for a VMM, the counterpart of rust-vmm's vm-memory.
//
// What it does: strong, overflow-checked guest addresses; regions backed by anonymous memory, files, memfds,
// hugetlb (really backed, reserved up front), KVM guest_memfd, or memory mapped elsewhere, with optional guard
// pages; immutable, sorted snapshots of regions with O(log n) lookup and copy-on-write hot-plug; an atomic holder
// whose readers never block; bounds-checked reads and writes (partial or exact, across region boundaries), typed
// objects, single-access atomics, volatile slices, fd transfers with readv/writev and scatter-gather lists; and
// per-region dirty bitmaps in KVM's layout.
//
// What it deliberately does not do: no KVM memory slots (vmm.kvm takes a region's host address, file and
// guest_memfd), no IOMMU translation, no NUMA placement policy, no allocation of guest physical addresses
// (vmm.allocator). It never prints and never throws; a guest-controlled address or length that is bad is an
// error value, never a crash.
export module vmm.memory;
export import :error;
export import :address;
export import :endian;
export import :copy;
export import :dirty_bitmap;
export import :volatile_slice;
export import :region;
export import :guest_memory;
export import :atomic_memory;
