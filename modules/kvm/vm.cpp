module;
#include <cerrno>
#include <fcntl.h>
#include <linux/kvm.h>
module vmm.kvm;
import std;
import vmm.sys;
import vmm.memory;

namespace vmm::kvm {

struct slot_table {
  std::mutex mutex;
  std::map<std::uint32_t, std::uint64_t> sizes;  // slot -> bytes, guarded by `mutex`
};

namespace {

// The Linux 6.8+ uAPI that the build machine's headers (Linux 6.1) lack, as include/uapi/linux/kvm.h defines it.
struct kvm_userspace_memory_region2 {
  std::uint32_t slot;
  std::uint32_t flags;
  std::uint64_t guest_phys_addr;
  std::uint64_t memory_size;
  std::uint64_t userspace_addr;
  std::uint64_t guest_memfd_offset;
  std::uint32_t guest_memfd;
  std::uint32_t pad1;
  std::array<std::uint64_t, 14> pad2;
};
static_assert(sizeof(kvm_userspace_memory_region2) == 160);
struct kvm_create_guest_memfd {
  std::uint64_t size;
  std::uint64_t flags;
  std::array<std::uint64_t, 6> reserved;
};
static_assert(sizeof(kvm_create_guest_memfd) == 64);
constexpr auto set_user_memory_region2_request = sys::iow<kvm_userspace_memory_region2>(KVMIO, 0x49);
constexpr auto create_guest_memfd_request = sys::iowr<kvm_create_guest_memfd>(KVMIO, 0xd4);

auto done(const result<int>& r) -> result<void> {
  if (!r) {
    return std::unexpected(r.error());
  }
  return {};
}

// Owns a descriptor KVM made without O_CLOEXEC (KVM_CREATE_GUEST_MEMFD uses get_unused_fd_flags(0)) and marks it.
auto cloexec(int raw) -> result<sys::unique_fd> {
  sys::unique_fd fd{raw};
  // SAFETY: fcntl sets a descriptor flag of an fd this function owns.
  if (::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) < 0) {
    return os_failure();
  }
  return fd;
}

}  // namespace

vm::vm(sys::unique_fd fd, std::size_t vcpu_mmap_size)
    : fd_{std::move(fd)}, vcpu_mmap_size_{vcpu_mmap_size}, slots_{std::make_unique<slot_table>()} {
}
vm::vm(vm&& other) noexcept = default;
auto vm::operator=(vm&& other) noexcept -> vm& = default;
vm::~vm() = default;

auto vm::from_fd(sys::unique_fd fd, std::size_t vcpu_mmap_size) -> vm {
  return vm{std::move(fd), vcpu_mmap_size};
}

void vm::remember_slot(std::uint32_t slot, std::uint64_t size) const {
  // The caller holds slots_->mutex across its ioctl and this call, so get_dirty_log never sees a stale size.
  if (size == 0) {
    slots_->sizes.erase(slot);
  } else {
    slots_->sizes.insert_or_assign(slot, size);
  }
}

auto vm::check_extension(unsigned capability) const -> result<int> {
  return sys::ioctl_with_val(fd_, KVM_CHECK_EXTENSION, capability);
}

auto vm::enable_cap(unsigned capability, std::span<const std::uint64_t> args, std::uint32_t flags) const
    -> result<void> {
  ::kvm_enable_cap request{};
  contract_check(args.size() <= std::size(request.args), "vm::enable_cap: at most 4 arguments");
  request.cap = capability;
  request.flags = flags;
  std::ranges::copy(args, std::begin(request.args));
  return done(sys::ioctl_with_ref(fd_, KVM_ENABLE_CAP, request));
}

auto vm::set_user_memory_region(const memory_region& region) const -> result<void> {
  const ::kvm_userspace_memory_region request{.slot = region.slot,
                                              .flags = region.flags,
                                              .guest_phys_addr = region.guest_address,
                                              .memory_size = region.size,
                                              .userspace_addr = region.host_address};
  // SAFETY (the caller's, see the declaration): the host range stays mapped while the slot exists.
  const std::scoped_lock lock{slots_->mutex};
  if (auto r = sys::ioctl_with_ref(fd_, KVM_SET_USER_MEMORY_REGION, request); !r) {
    return std::unexpected(r.error());
  }
  remember_slot(region.slot, region.size);
  return {};
}

auto vm::set_user_memory_region2(const memory_region2& region) const -> result<void> {
  if (auto supported = check_extension(cap::user_memory2); !supported || *supported == 0) {
    return failure(errc::capability_missing);
  }
  const kvm_userspace_memory_region2 request{
      .slot = region.slot,
      .flags = region.flags,
      .guest_phys_addr = region.guest_address,
      .memory_size = region.size,
      .userspace_addr = region.host_address,
      .guest_memfd_offset = region.guest_memfd_offset,
      .guest_memfd = static_cast<std::uint32_t>(region.guest_memfd.valid() ? region.guest_memfd.get() : 0),
      .pad1 = 0,
      .pad2 = {}};
  const std::scoped_lock lock{slots_->mutex};
  if (auto r = sys::ioctl_with_ref(fd_, set_user_memory_region2_request, request); !r) {
    return std::unexpected(r.error());
  }
  remember_slot(region.slot, region.size);
  return {};
}

auto vm::set_memory_region(std::uint32_t slot, const memory::guest_region& region, std::uint32_t flags) const
    -> result<void> {
  const std::uint32_t all_flags = flags | (region.read_only() ? memory_flags::read_only : 0U);
  const auto host = std::bit_cast<std::uintptr_t>(region.host_address());
  if (const auto gmem = region.guest_memfd()) {
    return set_user_memory_region2({.slot = slot,
                                    .flags = all_flags | memory_flags::guest_memfd,
                                    .guest_address = region.start().raw(),
                                    .size = region.size(),
                                    .host_address = host,
                                    .guest_memfd = gmem->fd,
                                    .guest_memfd_offset = gmem->offset});
  }
  return set_user_memory_region({.slot = slot,
                                 .flags = all_flags,
                                 .guest_address = region.start().raw(),
                                 .size = region.size(),
                                 .host_address = host});
}

auto vm::remove_memory_region(std::uint32_t slot) const -> result<void> {
  return set_user_memory_region({.slot = slot, .flags = 0, .guest_address = 0, .size = 0, .host_address = 0});
}

auto vm::create_guest_memfd(std::uint64_t size, std::uint64_t flags) const -> result<sys::unique_fd> {
  if (auto supported = check_extension(cap::guest_memfd); !supported || *supported == 0) {
    return failure(errc::capability_missing);
  }
  kvm_create_guest_memfd request{.size = size, .flags = flags, .reserved = {}};
  const auto created = sys::ioctl_with_mut_ref(fd_, create_guest_memfd_request, request);
  if (!created) {
    return std::unexpected(created.error());
  }
  return cloexec(*created);
}

auto vm::create_irqchip() const -> result<void> {
  return done(sys::ioctl(fd_, KVM_CREATE_IRQCHIP));
}

auto vm::create_pit2(std::uint32_t flags) const -> result<void> {
  const ::kvm_pit_config config{.flags = flags, .pad = {}};
  return done(sys::ioctl_with_ref(fd_, KVM_CREATE_PIT2, config));
}

auto vm::set_tss_address(std::uint64_t address) const -> result<void> {
  return done(sys::ioctl_with_val(fd_, KVM_SET_TSS_ADDR, address));
}

auto vm::set_identity_map_address(std::uint64_t address) const -> result<void> {
  return done(sys::ioctl_with_ref(fd_, KVM_SET_IDENTITY_MAP_ADDR, address));
}

auto vm::set_irq_line(std::uint32_t irq, bool level) const -> result<void> {
  ::kvm_irq_level request{};
  request.irq = irq;  // NOLINT(cppcoreguidelines-pro-type-union-access): the kernel ABI is a C union
  request.level = level ? 1U : 0U;
  return done(sys::ioctl_with_ref(fd_, KVM_IRQ_LINE, request));
}

auto vm::register_irqfd(sys::borrowed_fd event, std::uint32_t gsi) const -> result<void> {
  const ::kvm_irqfd request{
      .fd = static_cast<std::uint32_t>(event.get()), .gsi = gsi, .flags = 0, .resamplefd = 0, .pad = {}};
  return done(sys::ioctl_with_ref(fd_, KVM_IRQFD, request));
}

auto vm::register_irqfd_with_resample(sys::borrowed_fd event, sys::borrowed_fd resample, std::uint32_t gsi) const
    -> result<void> {
  const ::kvm_irqfd request{.fd = static_cast<std::uint32_t>(event.get()),
                            .gsi = gsi,
                            .flags = KVM_IRQFD_FLAG_RESAMPLE,
                            .resamplefd = static_cast<std::uint32_t>(resample.get()),
                            .pad = {}};
  return done(sys::ioctl_with_ref(fd_, KVM_IRQFD, request));
}

auto vm::unregister_irqfd(sys::borrowed_fd event, std::uint32_t gsi) const -> result<void> {
  const ::kvm_irqfd request{.fd = static_cast<std::uint32_t>(event.get()),
                            .gsi = gsi,
                            .flags = KVM_IRQFD_FLAG_DEASSIGN,
                            .resamplefd = 0,
                            .pad = {}};
  return done(sys::ioctl_with_ref(fd_, KVM_IRQFD, request));
}

auto vm::ioevent(sys::borrowed_fd event, io_event_address address, std::uint32_t length,
                 std::optional<std::uint64_t> datamatch, bool deassign) const -> result<void> {
  ::kvm_ioeventfd request{};
  request.datamatch = datamatch.value_or(0);
  request.addr = address.address;
  request.len = length;
  request.fd = event.get();
  request.flags = (datamatch ? static_cast<std::uint32_t>(KVM_IOEVENTFD_FLAG_DATAMATCH) : 0U) |
                  (address.space == io_event_space::pio ? static_cast<std::uint32_t>(KVM_IOEVENTFD_FLAG_PIO) : 0U) |
                  (deassign ? static_cast<std::uint32_t>(KVM_IOEVENTFD_FLAG_DEASSIGN) : 0U);
  return done(sys::ioctl_with_ref(fd_, KVM_IOEVENTFD, request));
}

auto vm::register_ioevent(sys::borrowed_fd event, io_event_address address, std::uint32_t length,
                          std::optional<std::uint64_t> datamatch) const -> result<void> {
  return ioevent(event, address, length, datamatch, false);
}

auto vm::unregister_ioevent(sys::borrowed_fd event, io_event_address address, std::uint32_t length,
                            std::optional<std::uint64_t> datamatch) const -> result<void> {
  return ioevent(event, address, length, datamatch, true);
}

auto vm::set_gsi_routing(std::span<const gsi_route> routes) const -> result<void> {
  if (routes.size() > max_gsi_routes) {
    return failure(errc::too_many_entries);
  }
  // kvm_irq_routing (8 bytes: nr, flags) followed by the entries, in 8-byte-aligned zeroed storage.
  std::vector<std::uint64_t> words(
      (sizeof(abi::irq_routing_header) + (routes.size() * sizeof(::kvm_irq_routing_entry))) / sizeof(std::uint64_t));
  auto* table = reinterpret_cast<abi::irq_routing_header*>(words.data());  // NOLINT(*-reinterpret-cast)
  table->nr = static_cast<std::uint32_t>(routes.size());
  auto* entries = reinterpret_cast<::kvm_irq_routing_entry*>(                         // NOLINT(*-reinterpret-cast)
      reinterpret_cast<std::byte*>(words.data()) + sizeof(abi::irq_routing_header));  // NOLINT(*-reinterpret-cast)
  // NOLINTBEGIN(cppcoreguidelines-pro-type-union-access): kvm_irq_routing_entry's payload is a C union in the ABI
  for (std::size_t i = 0; i < routes.size(); ++i) {
    auto& entry = entries[i];  // NOLINT(*-pointer-arithmetic): i < routes.size(), the storage holds them all
    if (const auto* chip = std::get_if<irqchip_route>(&routes[i])) {
      entry.gsi = chip->gsi;
      entry.type = KVM_IRQ_ROUTING_IRQCHIP;
      entry.u.irqchip.irqchip = chip->chip;
      entry.u.irqchip.pin = chip->pin;
    } else {
      const auto& msi = std::get<msi_route>(routes[i]);
      entry.gsi = msi.gsi;
      entry.type = KVM_IRQ_ROUTING_MSI;
      entry.flags = msi.message.flags;
      entry.u.msi.address_lo = msi.message.address_lo;
      entry.u.msi.address_hi = msi.message.address_hi;
      entry.u.msi.data = msi.message.data;
      entry.u.msi.devid = msi.message.devid;
    }
  }
  // NOLINTEND(cppcoreguidelines-pro-type-union-access)
  return done(sys::ioctl_with_ptr(fd_, abi::set_gsi_routing, table));
}

auto vm::signal_msi(const msi_message& message) const -> result<int> {
  ::kvm_msi request{};
  request.address_lo = message.address_lo;
  request.address_hi = message.address_hi;
  request.data = message.data;
  request.flags = message.flags;
  request.devid = message.devid;
  return sys::ioctl_with_ref(fd_, KVM_SIGNAL_MSI, request);
}

auto vm::get_dirty_log(std::uint32_t slot) const -> result<std::vector<std::uint64_t>> {
  // Held across the ioctl: the slot cannot be replaced by a larger one between the size lookup and KVM's copy.
  const std::scoped_lock lock{slots_->mutex};
  const auto found = slots_->sizes.find(slot);
  if (found == slots_->sizes.end()) {
    return failure(errc::unknown_slot);
  }
  const std::uint64_t size = found->second;
  // KVM writes ALIGN(pages of the slot, 64) / 8 bytes: exactly this many words for the slot's recorded size.
  const std::uint64_t pages = (size + dirty_page_size - 1) / dirty_page_size;
  std::vector<std::uint64_t> bitmap(static_cast<std::size_t>((pages + 63) / 64));
  ::kvm_dirty_log request{};
  request.slot = slot;
  request.dirty_bitmap = bitmap.data();  // NOLINT(cppcoreguidelines-pro-type-union-access): a C union in the ABI
  if (auto r = sys::ioctl_with_ref(fd_, KVM_GET_DIRTY_LOG, request); !r) {
    return std::unexpected(r.error());
  }
  return bitmap;
}

auto vm::clear_dirty_log(std::uint32_t slot, std::uint64_t first_page, std::uint32_t page_count,
                         std::span<const std::uint64_t> bitmap) const -> result<void> {
  if (bitmap.size() < (std::uint64_t{page_count} + 63) / 64) {
    return failure(errc::bitmap_too_small);
  }
  ::kvm_clear_dirty_log request{};
  request.slot = slot;
  request.num_pages = page_count;
  request.first_page = first_page;
  // KVM only reads the bitmap (it clears the pages it names in its own log).
  request.dirty_bitmap = const_cast<std::uint64_t*>(bitmap.data());  // NOLINT(*-const-cast, *-union-access)
  return done(sys::ioctl_with_ref(fd_, KVM_CLEAR_DIRTY_LOG, request));
}

auto vm::enable_manual_dirty_log_protect() const -> result<void> {
  const auto supported = check_extension(cap::manual_dirty_log_protect2);
  if (!supported || *supported == 0) {
    return failure(errc::capability_missing);
  }
  // Only the "manual protect" bit: KVM_DIRTY_LOG_INITIALLY_SET would report every page dirty at first.
  const std::array<std::uint64_t, 1> args{KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE};
  return enable_cap(cap::manual_dirty_log_protect2, args);
}

auto vm::enable_dirty_ring(std::uint32_t bytes) -> result<void> {
  if (vcpus_created_ != 0) {
    return failure(errc::dirty_ring_too_late);
  }
  const auto acq_rel = check_extension(cap::dirty_log_ring_acq_rel);
  const auto plain = check_extension(cap::dirty_log_ring);
  const bool has_acq_rel = acq_rel && *acq_rel > 0;
  if (!has_acq_rel && (!plain || *plain == 0)) {
    return failure(errc::capability_missing);
  }
  const std::array<std::uint64_t, 1> args{bytes};
  if (auto enabled = enable_cap(has_acq_rel ? cap::dirty_log_ring_acq_rel : cap::dirty_log_ring, args); !enabled) {
    return enabled;
  }
  dirty_ring_bytes_ = bytes;
  return {};
}

auto vm::reset_dirty_rings() const -> result<int> {
  return sys::ioctl(fd_, KVM_RESET_DIRTY_RINGS);
}

auto vm::get_clock() const -> result<clock_data> {
  clock_data value{};
  if (auto r = sys::ioctl_with_mut_ref(fd_, KVM_GET_CLOCK, value); !r) {
    return std::unexpected(r.error());
  }
  return value;
}

auto vm::set_clock(const clock_data& value) const -> result<void> {
  return done(sys::ioctl_with_ref(fd_, KVM_SET_CLOCK, value));
}

auto vm::create_vcpu(std::uint32_t id) -> result<vcpu> {
  const auto created = sys::ioctl_with_val(fd_, KVM_CREATE_VCPU, id);
  if (!created) {
    return std::unexpected(created.error());
  }
  ++vcpus_created_;
  // KVM_CREATE_VCPU makes its fd with O_CLOEXEC (anon_inode_getfd(..., O_RDWR | O_CLOEXEC)).
  return vcpu::from_fd(sys::unique_fd{*created}, vcpu_mmap_size_, dirty_ring_bytes_);
}

}  // namespace vmm::kvm
