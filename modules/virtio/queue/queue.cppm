// vmm.virtio.queue — virtqueues, the device side: the split ring and the packed ring, and the checked descriptor
// chains a device reads requests from and writes replies to. The counterpart of rust-vmm's virtio-queue, plus the
// packed layout it lacks.
//
// What it does: validates a queue's configuration against guest memory; pops available chains with every
// guest-controlled value checked (indices, lengths, addresses, loops, nesting, direction, duplicate heads) so a
// device only ever sees well-formed chains inside guest memory; puts used chains back; decides notifications in
// both directions (flags and EVENT_IDX, packed event suppression).
//
// What it deliberately does not do: no transport (vmm.virtio.mmio), no device logic (vmm.virtio.block, …), no
// threads (a queue belongs to one device thread), no driver side (vmm.testing has a mock driver for tests).
export module vmm.virtio.queue;
export import :error;
export import :layout;
export import :config;
export import :chain;
export import :split;
export import :packed;
export import :virtqueue;
