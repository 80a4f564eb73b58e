// vmm.virtio.block — a virtio-blk device (virtio 1.x §5.2) on a file: reads, writes, flushes, GET_ID, discard and
// write-zeroes, a read-only mode, a synchronous backend (preadv/pwritev/fdatasync/fallocate) and an io_uring
// backend (liburing), and an event-manager handler. The counterpart of Firecracker's and crosvm's block devices.
//
// What it does: checks every request the driver sends (header, direction and length of each part, sector ranges
// against the capacity, transfer and segment limits, range lists and their flags) before any I/O; answers each
// malformed request with IOERR or UNSUPP (or drops a chain that has no status byte), counts it by cause and goes
// on; keeps at most one request per queue entry in flight and bounds the backend's queue depth.
//
// What it deliberately does not do: no transport (vmm.virtio.mmio), no queue mechanics (vmm.virtio.queue), no disk
// image formats (raw files and block devices only), no multiple queues, no secure erase, no rate limiting, no
// writable configuration (VIRTIO_BLK_F_CONFIG_WCE is not offered).
export module vmm.virtio.block;
export import :error;
export import :config;
export import :request;
export import :backend;
export import :metrics;
export import :engine;
export import :device;
export import :handler;
