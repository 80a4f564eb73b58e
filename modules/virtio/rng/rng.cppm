// vmm.virtio.rng — the virtio entropy device (virtio 1.x §5.4): one request queue whose writable buffers the device
// fills with random bytes from the host kernel's CSPRNG (getrandom), the counterpart of Firecracker's virtio-rng
// and crosvm's rng device.
//
// What it does: the device model (features, queue, empty configuration space, activation and reset) in :device;
// the event-manager subscriber that turns queue notifications into filled requests and interrupts in :handler;
// counters that serialise to JSON in :metrics; the request core fill_request, usable without a queue (tests, fuzz).
//
// What it deliberately does not do: no transport (vmm.virtio.mmio), no rate limiting beyond the per-request cap
// (max_request_bytes), no entropy source other than getrandom's urandom pool (no /dev/hwrng pass-through), no
// blocking: a request that arrives before the host pool is initialised gets the bytes written so far.
export module vmm.virtio.rng;
export import :error;
export import :metrics;
export import :device;
export import :handler;
