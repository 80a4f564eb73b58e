// vmm.virtio.net:frame — moving frames between descriptor chains and the host: gathering a transmitted frame from a
// tx chain (header checked and copied out of guest memory first), and scattering a received frame into rx chains.
export module vmm.virtio.net:frame;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import :error;
import :header;

export namespace vmm::virtio::net {

/// A checked tx frame: the header as validated (a host copy: the guest cannot change what the tap gets after the
/// check) and the frame's length after the header.
struct tx_frame {
  net_header header;
  std::array<std::byte, header_size> header_bytes{};
  std::uint64_t frame_length = 0;
};

/// Reads and checks the header of tx `chain` (the first header_size readable bytes, across descriptors) and
/// replaces `frame_buffers` with host buffers covering the rest of the readable part: the frame, ready for a writev
/// after the header copy. At most max_frame_bytes and sys::max_io_buffers - 1 buffers, so a writev of header and
/// frame is bounded. The chain's writable part is ignored (a tx chain has none; the device writes nothing back).
/// Errors: errc::short_header, errc::frame_too_large (checked before any byte is read), validate_tx_header's
/// errors, errc::too_many_buffers, vmm.memory's errors (a buffer not in guest memory). On error `frame_buffers` is
/// empty.
[[nodiscard]] auto gather_tx_frame(const memory::guest_memory& memory, const queue::descriptor_chain& chain,
                                   std::uint64_t features, std::vector<sys::io_buffer>& frame_buffers)
    -> vmm::result<tx_frame>;

/// Writes `bytes` into `chain`'s writable buffers from writable offset `offset` on, as many as fit; returns how
/// many were written (0 when none fit). Errors: vmm.memory's (a writable buffer no longer writable guest memory);
/// buffers before the failing one may have been written.
[[nodiscard]] auto write_to_chain(const memory::guest_memory& memory, const queue::descriptor_chain& chain,
                                  std::uint64_t offset, std::span<const std::byte> bytes) -> vmm::result<std::uint64_t>;

}  // namespace vmm::virtio::net
