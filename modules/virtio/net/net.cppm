// vmm.virtio.net — the virtio network device (virtio 1.x §5.1) on a Linux tap, the counterpart of Firecracker's
// virtio-net and crosvm's net device.
//
// What it does: the configuration space and feature bits (:config); the virtio_net_hdr_v1 and the rules a guest's
// transmit header must follow (:header); gathering a tx frame from a chain and scattering an rx frame into chains
// (:frame); a tap opened with IFF_VNET_HDR whose offloads follow the negotiated features (:tap); the device model
// with one rx/tx queue pair, checksum and TSO offloads where the tap takes them, mergeable rx buffers (:device);
// its event-manager subscriber, which stops reading the tap while the guest has no rx buffer (:handler); counters
// that serialise to JSON (:metrics).
//
// What it deliberately does not do: no multiqueue (MQ), no control queue (CTRL_VQ: no MAC filtering, VLANs or
// runtime offload changes), no UFO or ECN offloads, no rate limiting, no vhost-net, no MMDS-style interception of
// guest traffic, and it never configures the host interface (addresses, bridges, link state are the host's job).
export module vmm.virtio.net;
export import :error;
export import :config;
export import :header;
export import :frame;
export import :tap;
export import :metrics;
export import :device;
export import :handler;
