module;
#include <cerrno>
module vmm.memory;
import std;
import vmm.sys;

namespace vmm::memory {
namespace {

// KVM's guest_memfd interface (linux/kvm.h of Linux 6.18; Debian 12's headers predate it, so the values are here).
constexpr std::uint32_t kvm_ioctl_type = 0xAE;  // KVMIO
struct kvm_create_guest_memfd {
  std::uint64_t size = 0;
  std::uint64_t flags = 0;
  std::array<std::uint64_t, 6> reserved{};
};
static_assert(sizeof(kvm_create_guest_memfd) == 64);
constexpr auto kvm_check_extension = sys::io(kvm_ioctl_type, 0x03);
constexpr auto kvm_create_guest_memfd_request = sys::iowr<kvm_create_guest_memfd>(kvm_ioctl_type, 0xd4);
constexpr unsigned long kvm_cap_guest_memfd_flags = 244;   // KVM_CAP_GUEST_MEMFD_FLAGS: the flags this VM accepts
constexpr std::uint64_t guest_memfd_flag_mmap = 1U << 0U;  // the fd can be mmap()ed
constexpr std::uint64_t guest_memfd_flag_init_shared = 1U << 1U;  // and its memory starts shared (host-accessible)

auto check_layout(guest_address start, std::uint64_t size) -> result<void> {
  if (size == 0) {
    return failure(errc::zero_size);
  }
  const std::uint64_t page = sys::page_size();
  if (start.raw() % page != 0 || size % page != 0) {
    return failure(errc::unaligned_region);
  }
  if (auto r = guest_range::make(start, size); !r) {
    return std::unexpected(r.error());
  }
  if (size > std::numeric_limits<std::size_t>::max()) {
    return failure(errc::out_of_range);
  }
  return {};
}

struct backing {
  sys::mapping map;
  std::byte* host = nullptr;
};

// Maps `size` bytes, anonymous (fd invalid) or of `fd` at `offset`, with a PROT_NONE page before and after when the
// options ask for guard pages. `align` is the alignment the host address needs (a huge page size, or the page size).
auto map_backing(std::uint64_t size, sys::borrowed_fd fd, std::uint64_t offset, std::uint64_t align,
                 const region_options& options) -> result<backing> {
  const bool anonymous = !fd.valid();
  const sys::map_options how{.prot = options.read_only ? sys::protection::read : sys::protection::read_write,
                             .shared = !anonymous,
                             .noreserve = anonymous,
                             .populate = options.populate,
                             .huge_page_size = 0};
  const std::size_t page = sys::page_size();
  const auto length = static_cast<std::size_t>(size);
  backing b;
  std::size_t at = 0;
  if (!options.guard_pages) {
    auto m = anonymous ? sys::mapping::anonymous(length, how) : sys::mapping::of_fd(fd, length, offset, how);
    if (!m) {
      return std::unexpected(m.error());
    }
    b.map = std::move(*m);
  } else {
    // [guard | region | guard] inside one reservation; with a large alignment the slack before and after stays
    // PROT_NONE too, so there is always at least one guard page on each side.
    const std::size_t slack = align > page ? static_cast<std::size_t>(align) : page;
    if (length > std::numeric_limits<std::size_t>::max() - (2 * slack)) {
      return failure(errc::out_of_range);
    }
    auto reserved = sys::mapping::reserve(length + (2 * slack));
    if (!reserved) {
      return std::unexpected(reserved.error());
    }
    const auto base = reinterpret_cast<std::uintptr_t>(reserved->data());  // NOLINT(*-reinterpret-cast)
    const std::uintptr_t first = base + page;
    const std::uintptr_t aligned = (first + (align - 1)) & ~static_cast<std::uintptr_t>(align - 1);
    at = aligned - base;
    auto mapped =
        anonymous ? reserved->map_anonymous_at(at, length, how) : reserved->map_fd_at(at, length, fd, offset, how);
    if (!mapped) {
      return std::unexpected(mapped.error());
    }
    b.map = std::move(*reserved);
  }
  b.host = b.map.data() + at;
  if (options.dont_dump) {
    if (auto r = b.map.advise(at, length, sys::advice::dont_dump); !r) {
      return std::unexpected(r.error());
    }
  }
  return b;
}

auto huge_page_size_offered(std::uint64_t size) -> bool {
  if (!std::has_single_bit(size) || size <= sys::page_size()) {
    return false;
  }
  std::error_code ec;
  return std::filesystem::is_directory(std::format("/sys/kernel/mm/hugepages/hugepages-{}kB", size / 1024), ec);
}

}  // namespace

guest_region::guest_region(parts p)
    : start_{p.start},
      size_{p.size},
      kind_{p.kind},
      read_only_{p.options->read_only},
      guard_pages_{p.options->guard_pages && p.kind != region_kind::foreign},
      backing_page_size_{p.backing_page_size},
      map_{std::move(p.map)},
      host_{p.host},
      fd_{std::move(p.fd)},
      file_offset_{p.file_offset},
      bitmap_{p.options->track_dirty ? std::make_unique<dirty_bitmap>(p.size) : nullptr} {
}

auto guest_region::anonymous(guest_address start, std::uint64_t size, const region_options& options)
    -> result<std::shared_ptr<guest_region>> {
  if (auto ok = check_layout(start, size); !ok) {
    return std::unexpected(ok.error());
  }
  auto b = map_backing(size, {}, 0, sys::page_size(), options);
  if (!b) {
    return std::unexpected(b.error());
  }
  return std::shared_ptr<guest_region>{new guest_region{parts{.start = start,
                                                              .size = size,
                                                              .kind = region_kind::anonymous,
                                                              .options = &options,
                                                              .map = std::move(b->map),
                                                              .host = b->host,
                                                              .fd = {},
                                                              .file_offset = 0,
                                                              .backing_page_size = sys::page_size()}}};
}

auto guest_region::from_file(guest_address start, std::uint64_t size, sys::borrowed_fd fd, std::uint64_t offset,
                             const region_options& options) -> result<std::shared_ptr<guest_region>> {
  if (auto ok = check_layout(start, size); !ok) {
    return std::unexpected(ok.error());
  }
  if (offset % sys::page_size() != 0) {
    return failure(errc::unaligned_region);
  }
  const auto st = sys::status(fd);
  if (!st) {
    return std::unexpected(st.error());
  }
  if (st->regular && (offset > st->size || size > st->size - offset)) {
    return failure(errc::file_too_small);
  }
  auto own = sys::duplicate(fd);
  if (!own) {
    return std::unexpected(own.error());
  }
  auto b = map_backing(size, *own, offset, sys::page_size(), options);
  if (!b) {
    return std::unexpected(b.error());
  }
  return std::shared_ptr<guest_region>{new guest_region{parts{.start = start,
                                                              .size = size,
                                                              .kind = region_kind::file,
                                                              .options = &options,
                                                              .map = std::move(b->map),
                                                              .host = b->host,
                                                              .fd = std::move(*own),
                                                              .file_offset = offset,
                                                              .backing_page_size = sys::page_size()}}};
}

auto guest_region::memfd(guest_address start, std::uint64_t size, const region_options& options)
    -> result<std::shared_ptr<guest_region>> {
  if (auto ok = check_layout(start, size); !ok) {
    return std::unexpected(ok.error());
  }
  auto fd = sys::create_memfd("vmm-guest-memory", {.allow_sealing = true, .huge_page_size = 0});
  if (!fd) {
    return std::unexpected(fd.error());
  }
  if (auto r = sys::truncate(*fd, size); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = sys::seal_size(*fd); !r) {
    return std::unexpected(r.error());
  }
  auto b = map_backing(size, *fd, 0, sys::page_size(), options);
  if (!b) {
    return std::unexpected(b.error());
  }
  return std::shared_ptr<guest_region>{new guest_region{parts{.start = start,
                                                              .size = size,
                                                              .kind = region_kind::memfd,
                                                              .options = &options,
                                                              .map = std::move(b->map),
                                                              .host = b->host,
                                                              .fd = std::move(*fd),
                                                              .file_offset = 0,
                                                              .backing_page_size = sys::page_size()}}};
}

auto guest_region::hugetlb(guest_address start, std::uint64_t size, std::uint64_t huge_page_size,
                           const region_options& options) -> result<std::shared_ptr<guest_region>> {
  if (auto ok = check_layout(start, size); !ok) {
    return std::unexpected(ok.error());
  }
  if (!huge_page_size_offered(huge_page_size) || size % huge_page_size != 0 || start.raw() % huge_page_size != 0) {
    return failure(errc::invalid_huge_page_size);
  }
  auto fd = sys::create_memfd("vmm-guest-hugetlb",
                              {.allow_sealing = true, .huge_page_size = static_cast<std::size_t>(huge_page_size)});
  if (!fd) {
    return fd.error() == std::errc::invalid_argument ? failure(errc::invalid_huge_page_size)
                                                     : std::unexpected(fd.error());
  }
  if (auto r = sys::truncate(*fd, size); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = sys::seal_size(*fd); !r) {
    return std::unexpected(r.error());
  }
  // The mapping (shared, without MAP_NORESERVE) is what reserves the huge pages: it fails with ENOMEM when too few
  // are free, instead of a SIGBUS at the first guest access that finds none.
  auto b = map_backing(size, *fd, 0, huge_page_size, options);
  if (!b) {
    return b.error() == std::errc::not_enough_memory ? failure(errc::no_huge_pages) : std::unexpected(b.error());
  }
  return std::shared_ptr<guest_region>{new guest_region{parts{.start = start,
                                                              .size = size,
                                                              .kind = region_kind::hugetlb,
                                                              .options = &options,
                                                              .map = std::move(b->map),
                                                              .host = b->host,
                                                              .fd = std::move(*fd),
                                                              .file_offset = 0,
                                                              .backing_page_size = huge_page_size}}};
}

auto guest_region::guest_memfd(guest_address start, std::uint64_t size, sys::borrowed_fd vm,
                               const region_options& options) -> result<std::shared_ptr<guest_region>> {
  if (auto ok = check_layout(start, size); !ok) {
    return std::unexpected(ok.error());
  }
  constexpr std::uint64_t wanted = guest_memfd_flag_mmap | guest_memfd_flag_init_shared;
  // Both flags or nothing: a guest_memfd mapped without INIT_SHARED holds private memory, and the first host access
  // to it raises SIGBUS.
  const auto flags = sys::ioctl_with_val(vm, kvm_check_extension, kvm_cap_guest_memfd_flags);
  if (!flags) {
    return std::unexpected(flags.error());
  }
  if ((static_cast<std::uint64_t>(*flags) & wanted) != wanted) {
    return failure(errc::guest_memfd_unsupported);
  }
  kvm_create_guest_memfd request{.size = size, .flags = wanted, .reserved = {}};
  const auto created = sys::ioctl_with_mut_ref(vm, kvm_create_guest_memfd_request, request);
  if (!created) {
    // The VM said it supports these flags, so an error now is about this request (EINVAL: a size KVM refuses,
    // ENOMEM), not a missing feature: report it as it is, so no caller mistakes it for "fall back to other memory".
    return std::unexpected(created.error());
  }
  // KVM creates the guest_memfd without O_CLOEXEC (get_unused_fd_flags(0)); a close-on-exec duplicate replaces it,
  // so the guest's memory never leaks into a program the VMM executes.
  const sys::unique_fd created_fd{*created};
  auto fd = sys::duplicate(created_fd);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  auto b = map_backing(size, *fd, 0, sys::page_size(), options);
  if (!b) {
    return std::unexpected(b.error());
  }
  return std::shared_ptr<guest_region>{new guest_region{parts{.start = start,
                                                              .size = size,
                                                              .kind = region_kind::guest_memfd,
                                                              .options = &options,
                                                              .map = std::move(b->map),
                                                              .host = b->host,
                                                              .fd = std::move(*fd),
                                                              .file_offset = 0,
                                                              .backing_page_size = sys::page_size()}}};
}

auto guest_region::from_host_memory(guest_address start, std::span<std::byte> memory, const region_options& options)
    -> result<std::shared_ptr<guest_region>> {
  if (auto ok = check_layout(start, memory.size()); !ok) {
    return std::unexpected(ok.error());
  }
  if (reinterpret_cast<std::uintptr_t>(memory.data()) % sys::page_size() != 0) {  // NOLINT(*-reinterpret-cast)
    return failure(errc::unaligned_region);
  }
  return std::shared_ptr<guest_region>{new guest_region{parts{.start = start,
                                                              .size = memory.size(),
                                                              .kind = region_kind::foreign,
                                                              .options = &options,
                                                              .map = {},
                                                              .host = memory.data(),
                                                              .fd = {},
                                                              .file_offset = 0,
                                                              .backing_page_size = sys::page_size()}}};
}

}  // namespace vmm::memory
