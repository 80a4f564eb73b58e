// vmm.virtio.queue:error — what a queue finds wrong in what the driver (the guest) put in its rings.
export module vmm.virtio.queue:error;
import std;

export namespace vmm::virtio::queue {

/// What went wrong in a virtqueue. Each value's message (queue_category) is one sentence naming it. Every value but
/// invalid_configuration and queue_broken describes one chain: the queue consumed the entry (and returned it to
/// the driver with used length 0 where it could), and the next pop goes on with the next one.
enum class errc : std::uint8_t {
  invalid_configuration = 1,  ///< size not a power of two / above the maximum / zero, a ring misaligned or unmapped
  queue_broken,               ///< the available index moved by more than the queue size: the queue stops until reset
  head_out_of_range,          ///< an available entry names a descriptor index ≥ the queue size
  duplicate_head,             ///< an available head (buffer id) is already in flight (CVE-2026-45782): not processed
  next_out_of_range,          ///< a descriptor's next index is ≥ the queue (or indirect table) size
  chain_too_long,             ///< the chain has more descriptors than the queue (or the indirect table): a loop
  nested_indirect,            ///< an indirect table holds a descriptor with the INDIRECT flag
  indirect_with_next,         ///< a descriptor has both INDIRECT and NEXT (the spec forbids it)
  bad_indirect_table,         ///< an indirect table's length is zero, not a multiple of 16, or over the limit
  indirect_not_negotiated,    ///< an INDIRECT descriptor on a queue whose driver did not accept VIRTIO_F_INDIRECT_DESC
  readable_after_writable,    ///< a device-readable descriptor follows a device-writable one
  descriptor_out_of_memory,   ///< a buffer (or ring or table) is not inside guest memory
  chain_too_short,            ///< a device asked a chain_reader/chain_writer for more bytes than the chain holds
  not_in_flight,              ///< add_used with a token the queue did not hand out (a device bug)
  ring_unreadable,            ///< a ring index or entry could not be read or written (the ring left guest memory)
};

/// The category of vmm::virtio::queue::errc, named "vmm.virtio.queue".
[[nodiscard]] auto queue_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from a vmm::virtio::queue::errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::virtio::queue

template <>
struct std::is_error_code_enum<vmm::virtio::queue::errc> : std::true_type {};
