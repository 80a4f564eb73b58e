// vmm.kvm:vm — one virtual machine: its memory slots, interrupt controller and routing, eventfds, dirty tracking,
// clock, capabilities and vCPUs.
export module vmm.kvm:vm;
import std;
import vmm.sys;
import vmm.memory;
import :error;
import :types;
import :vcpu;

namespace vmm::kvm {
/// The sizes of the memory slots a vm has made, so get_dirty_log sizes its buffer as KVM will fill it (vm.cpp).
struct slot_table;
}  // namespace vmm::kvm

export namespace vmm::kvm {

/// A memory slot (KVM_SET_USER_MEMORY_REGION). A size of 0 deletes the slot.
struct memory_region {
  std::uint32_t slot = 0;   ///< slot number; bits 16-31 select the address space (0 unless SMM)
  std::uint32_t flags = 0;  ///< memory_flags::log_dirty_pages, memory_flags::read_only
  std::uint64_t guest_address = 0;
  std::uint64_t size = 0;
  std::uint64_t host_address = 0;  ///< the userspace address of the first byte (page-aligned)
};

/// A memory slot with an optional guest_memfd (KVM_SET_USER_MEMORY_REGION2, Linux 6.8+). With
/// memory_flags::guest_memfd in `flags`, private memory comes from `guest_memfd` at `guest_memfd_offset`.
struct memory_region2 {
  std::uint32_t slot = 0;
  std::uint32_t flags = 0;
  std::uint64_t guest_address = 0;
  std::uint64_t size = 0;
  std::uint64_t host_address = 0;
  sys::borrowed_fd guest_memfd;
  std::uint64_t guest_memfd_offset = 0;
};

/// The address space of an ioeventfd.
enum class io_event_space : std::uint8_t { pio, mmio };

/// Where an ioeventfd listens: a port (pio) or a guest physical address (mmio).
struct io_event_address {
  io_event_space space = io_event_space::pio;
  std::uint64_t address = 0;
};

/// A GSI routed to a pin of the in-kernel irqchip (irqchip::pic_master, pic_slave, ioapic).
struct irqchip_route {
  std::uint32_t gsi = 0;
  std::uint32_t chip = 0;
  std::uint32_t pin = 0;
};

/// An MSI message, for signal_msi and as the target of an MSI route.
struct msi_message {
  std::uint32_t address_lo = 0;
  std::uint32_t address_hi = 0;
  std::uint32_t data = 0;
  std::uint32_t flags = 0;  ///< KVM_MSI_VALID_DEVID (1) when devid is meaningful
  std::uint32_t devid = 0;
};

/// A GSI routed to an MSI message.
struct msi_route {
  std::uint32_t gsi = 0;
  msi_message message;
};

/// One entry of the GSI routing table.
using gsi_route = std::variant<irqchip_route, msi_route>;

/// The most GSI routes one set_gsi_routing call takes (KVM_MAX_IRQ_ROUTES).
inline constexpr std::size_t max_gsi_routes = 4096;

/// KVM's dirty-log page size on x86-64 (one bit of a dirty bitmap per 4 KiB).
inline constexpr std::uint64_t dirty_page_size = 4096;

/// A VM file descriptor. Move-only; made by kvm::create_vm.
class vm {
 public:
  /// Takes a VM fd. `vcpu_mmap_size` (kvm::vcpu_mmap_size) is what create_vcpu maps.
  [[nodiscard]] static auto from_fd(sys::unique_fd fd, std::size_t vcpu_mmap_size) -> vm;
  vm(vm&& other) noexcept;
  auto operator=(vm&& other) noexcept -> vm&;
  vm(const vm&) = delete;
  auto operator=(const vm&) -> vm& = delete;
  ~vm();

  /// KVM_CHECK_EXTENSION on the VM (per-VM answers: memslots, guest_memfd flags, dirty ring size). 0: unsupported.
  [[nodiscard]] auto check_extension(unsigned capability) const -> result<int>;

  /// KVM_ENABLE_CAP with up to 4 arguments. Errors: EINVAL for an unknown capability or bad arguments.
  /// Precondition: args.size() <= 4.
  [[nodiscard]] auto enable_cap(unsigned capability, std::span<const std::uint64_t> args = {},
                                std::uint32_t flags = 0) const -> result<void>;

  /// Creates, changes or (size 0) deletes a memory slot. Safety: [host_address, +size) must stay mapped for as
  /// long as the slot exists. Errors: EINVAL (misaligned, bad flags, a slot number past KVM_CAP_NR_MEMSLOTS), EEXIST
  /// (overlaps another slot).
  [[nodiscard]] auto set_user_memory_region(const memory_region& region) const -> result<void>;

  /// The same with a guest_memfd (KVM_SET_USER_MEMORY_REGION2). Errors: as set_user_memory_region;
  /// errc::capability_missing without KVM_CAP_USER_MEMORY2.
  [[nodiscard]] auto set_user_memory_region2(const memory_region2& region) const -> result<void>;

  /// Makes `region` memory slot `slot` (its guest start, size and host address; through
  /// KVM_SET_USER_MEMORY_REGION2 with its guest_memfd when it has one). `flags` is memory_flags::log_dirty_pages or
  /// 0; a read-only region adds memory_flags::read_only. Safety: the region must outlive the slot (keep its
  /// shared_ptr, or delete the slot first). Errors: as set_user_memory_region.
  [[nodiscard]] auto set_memory_region(std::uint32_t slot, const memory::guest_region& region,
                                       std::uint32_t flags = 0) const -> result<void>;

  /// Deletes memory slot `slot`.
  [[nodiscard]] auto remove_memory_region(std::uint32_t slot) const -> result<void>;

  /// A new guest_memfd of `size` bytes (KVM_CREATE_GUEST_MEMFD, close-on-exec). Errors: errc::capability_missing
  /// without KVM_CAP_GUEST_MEMFD; EINVAL for a size or flags the VM refuses.
  [[nodiscard]] auto create_guest_memfd(std::uint64_t size, std::uint64_t flags = 0) const -> result<sys::unique_fd>;

  /// The in-kernel PIC pair, IOAPIC and LAPICs (KVM_CREATE_IRQCHIP; before the first vCPU). Errors: EEXIST.
  [[nodiscard]] auto create_irqchip() const -> result<void>;
  /// The in-kernel PIT (KVM_CREATE_PIT2; after create_irqchip). Errors: EEXIST, ENOENT without an irqchip.
  [[nodiscard]] auto create_pit2(std::uint32_t flags = pit_speaker_dummy) const -> result<void>;
  /// The three pages Intel VMX needs for the TSS in real mode (KVM_SET_TSS_ADDR; below 4 GiB, outside memory).
  [[nodiscard]] auto set_tss_address(std::uint64_t address) const -> result<void>;
  /// The page of the EPT identity map for real mode (KVM_SET_IDENTITY_MAP_ADDR; before the first vCPU).
  [[nodiscard]] auto set_identity_map_address(std::uint64_t address) const -> result<void>;

  /// Raises (level true) or lowers an interrupt line of the in-kernel irqchip (KVM_IRQ_LINE). Errors: ENXIO
  /// without an irqchip.
  [[nodiscard]] auto set_irq_line(std::uint32_t irq, bool level) const -> result<void>;

  /// A write to `event` injects GSI `gsi` (KVM_IRQFD). Errors: EBUSY when `event` is already registered.
  [[nodiscard]] auto register_irqfd(sys::borrowed_fd event, std::uint32_t gsi) const -> result<void>;
  /// The same for a level-triggered GSI: KVM signals `resample` when the guest acknowledges the interrupt, and
  /// the line stays asserted until then (KVM_IRQFD_FLAG_RESAMPLE). Errors: EINVAL without an irqchip.
  [[nodiscard]] auto register_irqfd_with_resample(sys::borrowed_fd event, sys::borrowed_fd resample,
                                                  std::uint32_t gsi) const -> result<void>;
  /// Removes the irqfd for `event` and `gsi`.
  [[nodiscard]] auto unregister_irqfd(sys::borrowed_fd event, std::uint32_t gsi) const -> result<void>;

  /// A guest write of `length` bytes (1, 2, 4 or 8; 0: any length, with KVM_CAP_IOEVENTFD_ANY_LENGTH) to `address`
  /// signals `event` without an exit; with `datamatch`, only writes of that value do. Errors: EEXIST for the same
  /// address, length and datamatch twice, EINVAL for a bad length.
  [[nodiscard]] auto register_ioevent(sys::borrowed_fd event, io_event_address address, std::uint32_t length,
                                      std::optional<std::uint64_t> datamatch = std::nullopt) const -> result<void>;
  /// Removes the ioeventfd registered with exactly these arguments. Errors: ENOENT when there is none.
  [[nodiscard]] auto unregister_ioevent(sys::borrowed_fd event, io_event_address address, std::uint32_t length,
                                        std::optional<std::uint64_t> datamatch = std::nullopt) const -> result<void>;

  /// Replaces the GSI routing table (KVM_SET_GSI_ROUTING). Errors: errc::too_many_entries above max_gsi_routes;
  /// EINVAL for a bad entry (an irqchip pin out of range, a GSI routed twice to one chip).
  [[nodiscard]] auto set_gsi_routing(std::span<const gsi_route> routes) const -> result<void>;

  /// Injects an MSI (KVM_SIGNAL_MSI): > 0 delivered, 0 blocked by the guest. Errors: ENXIO/EINVAL when it cannot be
  /// routed.
  [[nodiscard]] auto signal_msi(const msi_message& message) const -> result<int>;

  /// The dirty log of slot `slot` (made through this vm with memory_flags::log_dirty_pages), in vmm.memory's
  /// dirty_bitmap layout: bit i % 64 of word i / 64 is page i, one word per 64 pages of the slot, so
  /// dirty_bitmap::merge takes it for the region behind the slot. Without manual protection this also clears the
  /// log. Errors: errc::unknown_slot for a slot this vm did not make; ENOENT for a slot without logging.
  [[nodiscard]] auto get_dirty_log(std::uint32_t slot) const -> result<std::vector<std::uint64_t>>;

  /// Write-protects again and clears the pages of `bitmap` (bit i: page first_page + i) in slot `slot`
  /// (KVM_CLEAR_DIRTY_LOG; needs enable_manual_dirty_log_protect). `first_page` must be a multiple of 64, and
  /// `page_count` too unless the range ends at the slot's end. Errors: errc::bitmap_too_small; EINVAL (misaligned
  /// range), ENOENT, EFAULT.
  [[nodiscard]] auto clear_dirty_log(std::uint32_t slot, std::uint64_t first_page, std::uint32_t page_count,
                                     std::span<const std::uint64_t> bitmap) const -> result<void>;

  /// Enables KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: get_dirty_log stops clearing, clear_dirty_log does it. Errors:
  /// errc::capability_missing.
  [[nodiscard]] auto enable_manual_dirty_log_protect() const -> result<void>;

  /// Enables the per-vCPU dirty ring of `bytes` (a power of two, at least a page, at most check_extension
  /// (cap::dirty_log_ring)) with acquire/release ordering where offered. Before the first vCPU; the VM then
  /// has no dirty bitmaps. Errors: errc::capability_missing, errc::dirty_ring_too_late, EINVAL for a bad size.
  [[nodiscard]] auto enable_dirty_ring(std::uint32_t bytes) -> result<void>;

  /// Hands back every harvested dirty ring entry (KVM_RESET_DIRTY_RINGS); returns how many were reset.
  [[nodiscard]] auto reset_dirty_rings() const -> result<int>;

  /// The dirty ring size of each vCPU (0 when not enabled).
  [[nodiscard]] inline auto dirty_ring_bytes() const noexcept -> std::size_t { return dirty_ring_bytes_; }

  [[nodiscard]] auto get_clock() const -> result<clock_data>;
  [[nodiscard]] auto set_clock(const clock_data& value) const -> result<void>;

  /// Creates vCPU `id` and maps its kvm_run area (and dirty ring). Errors: EEXIST for an id in use, EINVAL above
  /// the vCPU limit.
  [[nodiscard]] auto create_vcpu(std::uint32_t id) -> result<vcpu>;

  [[nodiscard]] inline auto fd() const noexcept -> sys::borrowed_fd { return fd_.borrow(); }

 private:
  vm(sys::unique_fd fd, std::size_t vcpu_mmap_size);
  void remember_slot(std::uint32_t slot, std::uint64_t size) const;
  [[nodiscard]] auto ioevent(sys::borrowed_fd event, io_event_address address, std::uint32_t length,
                             std::optional<std::uint64_t> datamatch, bool deassign) const -> result<void>;
  sys::unique_fd fd_;
  std::size_t vcpu_mmap_size_;
  std::size_t dirty_ring_bytes_ = 0;
  std::size_t vcpus_created_ = 0;
  std::unique_ptr<slot_table> slots_;
};

}  // namespace vmm::kvm
