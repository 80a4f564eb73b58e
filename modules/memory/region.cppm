// vmm.memory:region — one contiguous range of guest physical memory and the host memory behind it.
//
// Backings: anonymous (MAP_NORESERVE: a sparse guest costs only what it touches), a shared file at an offset, a
// memfd (shareable with vhost-user backends, its size sealed), hugetlb (really backed by huge pages, reserved when
// the region is made), guest_memfd (KVM's own memory file, mapped shared), and memory mapped elsewhere. Optional
// PROT_NONE guard pages before and after catch a runaway copy in the VMM with SIGSEGV instead of letting it walk
// into a neighbouring mapping. Start, size and host address are page-aligned, as KVM memory slots require.
export module vmm.memory:region;
import std;
import vmm.sys;
import :error;
import :address;
import :copy;
import :dirty_bitmap;
import :volatile_slice;

export namespace vmm::memory {

/// What backs a region's host memory.
enum class region_kind : std::uint8_t {
  anonymous,    ///< private anonymous memory (MAP_NORESERVE)
  file,         ///< a shared mapping of a caller's file at an offset
  memfd,        ///< a shared mapping of a memfd the region owns (size sealed)
  hugetlb,      ///< a shared mapping of a hugetlb memfd
  guest_memfd,  ///< a shared mapping of a KVM guest_memfd (host-mappable, shared memory)
  foreign,      ///< memory mapped by someone else (not owned)
};

/// How a region is made.
struct region_options {
  /// Map PROT_READ only (firmware, ROM): writes through vmm.memory fail with errc::read_only_region.
  bool read_only = false;
  /// Put one PROT_NONE page before and after the region (not for foreign memory, where it is ignored).
  bool guard_pages = false;
  /// Keep a dirty bitmap: every write through vmm.memory marks its pages.
  bool track_dirty = false;
  /// Fault every page in when the region is made (MAP_POPULATE).
  bool populate = false;
  /// Leave the region out of core dumps (MADV_DONTDUMP): guest memory holds the guest's secrets.
  bool dont_dump = false;
};

/// A file and the offset in it where a region's memory starts.
struct file_offset {
  sys::borrowed_fd fd;
  std::uint64_t offset = 0;
};

/// One region of guest physical memory. Made by the static factories, held by shared_ptr (a guest_memory snapshot
/// and every reader of it share the region); neither copyable nor movable, so host pointers into it stay valid for
/// as long as anybody holds it.
class guest_region {
 public:
  guest_region(const guest_region&) = delete;
  auto operator=(const guest_region&) -> guest_region& = delete;
  guest_region(guest_region&&) = delete;
  auto operator=(guest_region&&) -> guest_region& = delete;
  ~guest_region() = default;

  /// Anonymous private memory for [start, start + size). Errors: errc::zero_size, errc::unaligned_region (start or
  /// size not page-aligned), errc::address_overflow (the range passes 2^64), ENOMEM.
  [[nodiscard]] static auto anonymous(guest_address start, std::uint64_t size, const region_options& options = {})
      -> result<std::shared_ptr<guest_region>>;

  /// `size` bytes of `fd` from `offset`, mapped shared (guest writes reach the file). The region keeps its own
  /// duplicate of `fd`. Errors: as anonymous; errc::unaligned_region for a misaligned offset; errc::file_too_small
  /// when a regular file is shorter than offset + size (accesses past its end would raise SIGBUS); EACCES when the
  /// fd's open mode does not allow the protection; EBADF.
  [[nodiscard]] static auto from_file(guest_address start, std::uint64_t size, sys::borrowed_fd fd,
                                      std::uint64_t offset, const region_options& options = {})
      -> result<std::shared_ptr<guest_region>>;

  /// A new memfd of `size` bytes, its size sealed, mapped shared: the memory can be handed to another process
  /// (vhost-user) through file(). Errors: as anonymous.
  [[nodiscard]] static auto memfd(guest_address start, std::uint64_t size, const region_options& options = {})
      -> result<std::shared_ptr<guest_region>>;

  /// Memory backed by huge pages of `huge_page_size` bytes (2 MiB or 1 GiB on x86-64), from a hugetlb memfd whose
  /// size is sealed. The huge pages are reserved now, so a region that exists never faults for lack of them. Errors: as
  /// anonymous; errc::invalid_huge_page_size when the host offers no such page size or `size` (or `start`) is not a
  /// multiple of it; errc::no_huge_pages when too few free huge pages are configured (/proc/sys/vm/nr_hugepages).
  [[nodiscard]] static auto hugetlb(guest_address start, std::uint64_t size, std::uint64_t huge_page_size,
                                    const region_options& options = {}) -> result<std::shared_ptr<guest_region>>;

  /// Memory from a KVM guest_memfd of the VM `vm` (KVM_CREATE_GUEST_MEMFD with GUEST_MEMFD_FLAG_MMAP and
  /// GUEST_MEMFD_FLAG_INIT_SHARED), mapped shared: the VMM reaches it like any region, and guest_memfd() gives the
  /// fd and offset for KVM_SET_USER_MEMORY_REGION2. Errors: as anonymous; errc::guest_memfd_unsupported when the
  /// kernel or this VM type cannot create host-mappable shared guest_memfd memory (Linux 6.18 or later needed);
  /// EBADF/ENOTTY for an fd that is not KVM's; the kernel's error (EINVAL for a size it refuses or for the /dev/kvm
  /// fd passed instead of a VM's, ENOMEM) when the capability is there but this guest_memfd cannot be made.
  [[nodiscard]] static auto guest_memfd(guest_address start, std::uint64_t size, sys::borrowed_fd vm,
                                        const region_options& options = {}) -> result<std::shared_ptr<guest_region>>;

  /// Wraps memory mapped elsewhere (a vhost-user frontend's region, a device BAR). Nothing is owned; guard_pages,
  /// populate and dont_dump are ignored. Safety: `memory` must stay mapped, readable (and writable unless read_only)
  /// for the region's whole lifetime. Errors: errc::zero_size, errc::unaligned_region, errc::address_overflow.
  [[nodiscard]] static auto from_host_memory(guest_address start, std::span<std::byte> memory,
                                             const region_options& options = {})
      -> result<std::shared_ptr<guest_region>>;

  /// The first guest address.
  [[nodiscard]] inline auto start() const noexcept -> guest_address { return start_; }
  /// The length in bytes.
  [[nodiscard]] inline auto size() const noexcept -> std::uint64_t { return size_; }
  /// The last guest address inside the region.
  [[nodiscard]] inline auto last() const noexcept -> guest_address { return guest_address{start_.raw() + (size_ - 1)}; }
  /// [start, start + size).
  [[nodiscard]] inline auto range() const noexcept -> guest_range { return {.start = start_, .size = size_}; }
  /// What backs it.
  [[nodiscard]] inline auto kind() const noexcept -> region_kind { return kind_; }
  [[nodiscard]] inline auto read_only() const noexcept -> bool { return read_only_; }
  [[nodiscard]] inline auto has_guard_pages() const noexcept -> bool { return guard_pages_; }
  /// The page size of the backing memory (the base page size, or the huge page size of a hugetlb region).
  [[nodiscard]] inline auto backing_page_size() const noexcept -> std::uint64_t { return backing_page_size_; }

  /// The host address of the first byte. Safety: valid while the region is alive; writes through it bypass dirty
  /// tracking (call mark_dirty) and must not target a read-only region.
  [[nodiscard]] inline auto host_address() const noexcept -> std::byte* { return host_; }

  /// The file and offset behind the region (file, memfd, hugetlb and guest_memfd regions), to share it with a
  /// vhost-user backend or to create a KVM memory slot.
  [[nodiscard]] inline auto file() const noexcept -> std::optional<file_offset> {
    if (!fd_.valid()) {
      return std::nullopt;
    }
    return file_offset{.fd = fd_.borrow(), .offset = file_offset_};
  }

  /// The guest_memfd and offset for KVM_SET_USER_MEMORY_REGION2 (guest_memfd regions only).
  [[nodiscard]] inline auto guest_memfd() const noexcept -> std::optional<file_offset> {
    if (kind_ != region_kind::guest_memfd) {
      return std::nullopt;
    }
    return file();
  }

  /// The dirty bitmap (nullptr unless made with track_dirty).
  [[nodiscard]] inline auto bitmap() const noexcept -> dirty_bitmap* { return bitmap_.get(); }

  /// Whether `address` lies inside the region.
  [[nodiscard]] inline auto contains(guest_address address) const noexcept -> bool {
    return address >= start_ && address.raw() - start_.raw() < size_;
  }

  /// The offset of `address` in the region, or nullopt when it lies outside.
  [[nodiscard]] inline auto to_region_address(guest_address address) const noexcept -> std::optional<region_address> {
    if (!contains(address)) {
      return std::nullopt;
    }
    return region_address{address.raw() - start_.raw()};
  }

  /// A slice of [offset, offset + length) of the region. Errors: errc::out_of_range when it does not fit,
  /// errc::read_only_region for access::write on a read-only region.
  [[nodiscard]] inline auto slice(region_address offset, std::uint64_t length, access mode) const noexcept
      -> result<volatile_slice> {
    if (offset.raw() > size_ || length > size_ - offset.raw()) {
      return failure(errc::out_of_range);
    }
    if (mode == access::write && read_only_) {
      return failure(errc::read_only_region);
    }
    return volatile_slice{host_ + offset.raw(), static_cast<std::size_t>(length), mode, bitmap_.get(), offset.raw()};
  }

  /// The whole region as one slice.
  [[nodiscard]] inline auto as_slice(access mode) const noexcept -> result<volatile_slice> {
    return slice(region_address{0}, size_, mode);
  }

 private:
  struct parts {
    guest_address start;
    std::uint64_t size = 0;
    region_kind kind = region_kind::anonymous;
    const region_options* options = nullptr;
    sys::mapping map;
    std::byte* host = nullptr;
    sys::unique_fd fd;
    std::uint64_t file_offset = 0;
    std::uint64_t backing_page_size = 0;
  };
  explicit guest_region(parts p);

  guest_address start_;
  std::uint64_t size_;
  region_kind kind_;
  bool read_only_;
  bool guard_pages_;
  std::uint64_t backing_page_size_;
  sys::mapping map_;  // owns the host memory (and the guard pages), empty for foreign memory
  std::byte* host_;
  sys::unique_fd fd_;
  std::uint64_t file_offset_;
  std::unique_ptr<dirty_bitmap> bitmap_;
};

}  // namespace vmm::memory
