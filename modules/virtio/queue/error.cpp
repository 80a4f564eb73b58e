module vmm.virtio.queue;
import std;

namespace vmm::virtio::queue {
namespace {

class queue_error_category final : public std::error_category {
 public:
  [[nodiscard]] auto name() const noexcept -> const char* override { return "vmm.virtio.queue"; }

  [[nodiscard]] auto message(int value) const -> std::string override {
    switch (static_cast<errc>(value)) {
      case errc::invalid_configuration:
        return "Virtqueue configuration is invalid (size, alignment or an area outside guest memory)";
      case errc::queue_broken:
        return "Virtqueue's available index moved by more than the queue size; the queue needs a reset";
      case errc::head_out_of_range:
        return "Available ring names a head descriptor beyond the queue size";
      case errc::duplicate_head:
        return "Available ring names a head that is already in flight";
      case errc::next_out_of_range:
        return "Descriptor's next index is beyond the queue or indirect table size";
      case errc::chain_too_long:
        return "Descriptor chain is longer than its queue or indirect table (a loop)";
      case errc::nested_indirect:
        return "Indirect descriptor table holds another indirect descriptor";
      case errc::indirect_with_next:
        return "Descriptor has both the INDIRECT and the NEXT flag";
      case errc::bad_indirect_table:
        return "Indirect descriptor table's length is zero, not a multiple of 16, or too large";
      case errc::indirect_not_negotiated:
        return "Indirect descriptor on a queue without VIRTIO_F_INDIRECT_DESC";
      case errc::readable_after_writable:
        return "Device-readable descriptor follows a device-writable one";
      case errc::descriptor_out_of_memory:
        return "Descriptor buffer, ring or table lies outside guest memory";
      case errc::chain_too_short:
        return "Descriptor chain holds fewer bytes than the request needs";
      case errc::not_in_flight:
        return "Used chain was not handed out by this queue";
      case errc::ring_unreadable:
        return "Virtqueue ring could not be read or written in guest memory";
    }
    return "Unknown vmm.virtio.queue error " + std::to_string(value);
  }
};

}  // namespace

auto queue_category() noexcept -> const std::error_category& {
  static const queue_error_category category;
  return category;
}

auto make_error_code(errc e) noexcept -> std::error_code {
  return {static_cast<int>(e), queue_category()};
}

}  // namespace vmm::virtio::queue
