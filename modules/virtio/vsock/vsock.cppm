// vmm.virtio.vsock — a virtio-vsock device with Firecracker's host-side model ("hybrid vsock"): the guest's
// AF_VSOCK connections are carried over AF_UNIX sockets on the host.
//
// - Guest → host: a guest connecting to host port P is connected to the unix socket "<uds_path>_<P>" (host software
//   listens there). The guest's socket type picks the unix socket type: VIRTIO_VSOCK_TYPE_STREAM connects with
//   SOCK_STREAM, VIRTIO_VSOCK_TYPE_SEQPACKET with SOCK_SEQPACKET; a listener of the other type refuses the
//   connection (EPROTOTYPE) and the guest gets a reset.
// - Host → guest: host software connects to "<uds_path>" (SOCK_STREAM, for guest stream sockets) or to
//   "<uds_path>.seqpacket" (SOCK_SEQPACKET, for guest seqpacket sockets), and writes "CONNECT <port>\n". The device
//   sends the guest a connection request for that port from a fresh local port L (≥ 2^30), and on the guest's
//   response answers "OK <L>\n"; on a reset, a malformed line or any other failure it closes the socket.
// - Credit-based flow control both ways (buf_alloc/fwd_cnt): the device never sends the guest more than the
//   guest's advertised credit, and resets a connection whose guest overruns the device's own buffer.
//
// Partitions: :error, :packet (the 44-byte header and its checked parsing), :connection (one connection's state
// machine), :muxer (ports → connections → unix sockets, the host listeners), :metrics, :device (virtio_device),
// :handler (event-manager subscriber).
//
// - Deadlines (muxer_config, 2 s by default): a host-initiated connection the guest does not answer, a connection
//   whose reset the guest does not take, and a host socket that sends no CONNECT line are closed when theirs
//   passes; one timerfd in the muxer's epoll instance carries them all.
// - vsock_device::transport_reset() sends VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on the event queue and closes every
//   connection (what a VMM does after restoring a snapshot).
//
// What it deliberately does not do: no vhost-vsock, no datagram sockets.
export module vmm.virtio.vsock;
export import :error;
export import :packet;
export import :connection;
export import :metrics;
export import :muxer;
export import :device;
export import :handler;
