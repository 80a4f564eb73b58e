// vmm.sys:memory_map — owned memory mappings, address-space reservations, memfd and seals, and vectored I/O.
//
// The raw mmap/munmap/mprotect/madvise/memfd_create/readv/writev calls of cpp-vmm live here (vmm.memory builds guest
// memory from them). A mapping owns its address range and unmaps it exactly once. A reservation is a PROT_NONE range
// into which parts can be mapped with MAP_FIXED: that is how guard pages around a region are made, and MAP_FIXED
// is never offered for an address this object does not own (it silently replaces whatever is mapped there).
export module vmm.sys:memory_map;
import std;
import :error;
import :fd;

export namespace vmm::sys {

/// The base page size of this machine (sysconf(_SC_PAGESIZE)), read once.
[[nodiscard]] auto page_size() noexcept -> std::size_t;

/// What a mapping may be used for (PROT_*).
enum class protection : std::uint8_t {
  none = 0,        ///< PROT_NONE: every access faults (guard pages, reservations)
  read = 1,        ///< PROT_READ
  read_write = 3,  ///< PROT_READ | PROT_WRITE
};

/// How a mapping is made.
struct map_options {
  protection prot = protection::read_write;
  /// MAP_SHARED (writes reach the file and every other mapping of it) instead of MAP_PRIVATE (copy on write).
  bool shared = false;
  /// MAP_NORESERVE: no swap space is reserved, so a sparse 16 GiB guest costs only the pages it touches.
  bool noreserve = false;
  /// MAP_POPULATE: fault every page in now (slower to create, no page faults later).
  bool populate = false;
  /// Anonymous mappings only: 0 for normal pages, else MAP_HUGETLB with this page size (2 MiB or 1 GiB). The kernel
  /// reserves the huge pages when the mapping is made and fails with ENOMEM when too few are free.
  std::size_t huge_page_size = 0;
};

/// Advice for a range of a mapping (madvise).
enum class advice : std::uint8_t {
  normal,       ///< MADV_NORMAL
  dont_need,    ///< MADV_DONTNEED: drop the pages (anonymous private memory reads back as zero)
  hugepage,     ///< MADV_HUGEPAGE: ask for transparent huge pages
  no_hugepage,  ///< MADV_NOHUGEPAGE
  dont_dump,    ///< MADV_DONTDUMP: leave the range out of core dumps (guest memory holds guest secrets)
  dont_fork,    ///< MADV_DONTFORK: do not share the range with a forked child
};

/// One buffer of a vectored read or write, laid out exactly like struct iovec (checked in memory_map.cpp), so a
/// span of these is what readv/writev, io_uring and vhost-user take.
struct io_buffer {
  void* base = nullptr;
  std::size_t length = 0;
};

/// A move-only owner of one range of this process's address space, unmapped once on destruction.
class mapping {
 public:
  constexpr mapping() noexcept = default;
  mapping(const mapping&) = delete;
  auto operator=(const mapping&) -> mapping& = delete;
  inline mapping(mapping&& other) noexcept
      : data_{std::exchange(other.data_, nullptr)}, size_{std::exchange(other.size_, 0)} {}
  inline auto operator=(mapping&& other) noexcept -> mapping& {
    if (this != &other) {
      reset();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  inline ~mapping() { reset(); }

  /// New anonymous memory of `size` bytes (rounded up to whole pages), zero-filled. Errors: EINVAL for size 0 or a
  /// huge page size that is not a power of two, ENOMEM when the kernel cannot map it (or too few huge pages are free).
  [[nodiscard]] static auto anonymous(std::size_t size, const map_options& options) -> result<mapping>;

  /// `size` bytes of `fd` from `offset` (a multiple of page_size()). Errors: EINVAL for size 0 or a misaligned
  /// offset, EBADF, EACCES when the fd's open mode does not allow `options.prot`, ENODEV when the fd cannot be mapped.
  /// Accessing pages beyond the end of a regular file raises SIGBUS: check the file's size first.
  [[nodiscard]] static auto of_fd(borrowed_fd fd, std::size_t size, std::uint64_t offset, const map_options& options)
      -> result<mapping>;

  /// Reserves `size` bytes (rounded up to pages) of address space with PROT_NONE and MAP_NORESERVE: nothing is
  /// committed, and any access faults until a part is mapped with map_anonymous_at or map_fd_at.
  [[nodiscard]] static auto reserve(std::size_t size) -> result<mapping>;

  /// Maps anonymous memory over [offset, offset + size) of this mapping (MAP_FIXED inside the range this object
  /// owns). Errors: EINVAL when the range is not page-aligned or not inside this mapping; as anonymous() otherwise.
  [[nodiscard]] auto map_anonymous_at(std::size_t offset, std::size_t size, const map_options& options) -> result<void>;

  /// Maps `size` bytes of `fd` from `file_offset` over [offset, offset + size) of this mapping. Errors: as
  /// map_anonymous_at and of_fd.
  [[nodiscard]] auto map_fd_at(std::size_t offset, std::size_t size, borrowed_fd fd, std::uint64_t file_offset,
                               const map_options& options) -> result<void>;

  /// Changes the protection of [offset, offset + size). Errors: EINVAL for a range outside this mapping or not
  /// page-aligned.
  [[nodiscard]] auto protect(std::size_t offset, std::size_t size, protection prot) -> result<void>;

  /// Gives the kernel advice about [offset, offset + size). Errors: EINVAL for a range outside this mapping or
  /// advice the kernel does not support for it.
  [[nodiscard]] auto advise(std::size_t offset, std::size_t size, advice what) -> result<void>;

  /// The first byte of the range (nullptr when empty).
  [[nodiscard]] inline auto data() const noexcept -> std::byte* { return data_; }
  /// The length of the range in bytes (a multiple of page_size()).
  [[nodiscard]] inline auto size() const noexcept -> std::size_t { return size_; }
  [[nodiscard]] inline auto empty() const noexcept -> bool { return size_ == 0; }

  /// Unmaps the range now (the destructor does nothing afterwards). Preserves errno.
  void reset() noexcept;

 private:
  mapping(std::byte* data, std::size_t size) noexcept : data_{data}, size_{size} {}
  [[nodiscard]] auto check_subrange(std::size_t offset, std::size_t size) const noexcept -> bool;

  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

/// How a memfd is created.
struct memfd_options {
  /// MFD_ALLOW_SEALING, so the size can be sealed afterwards (seal_size).
  bool allow_sealing = true;
  /// 0 for normal pages, else MFD_HUGETLB with this page size (2 MiB or 1 GiB).
  std::size_t huge_page_size = 0;
};

/// A new anonymous memory file (memfd_create with MFD_CLOEXEC) of size 0. `name` shows in /proc/PID/maps.
/// Errors: errc::invalid_name for a name containing NUL, EINVAL for a bad huge page size or a name longer than 249
/// bytes, ENOSYS/EINVAL where the kernel lacks hugetlb memfds.
[[nodiscard]] auto create_memfd(std::string_view name, const memfd_options& options = {}) -> result<unique_fd>;

/// Seals the size of a memfd (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL): nobody holding the fd can shrink it under a
/// mapping, which would turn guest accesses into SIGBUS. Errors: EPERM when the fd was made without allow_sealing,
/// EINVAL for an fd that does not support seals, EBADF.
[[nodiscard]] auto seal_size(borrowed_fd fd) -> result<void>;

/// Sets the size of a file (ftruncate). Errors: EINVAL, EPERM (sealed), EBADF, EFBIG.
[[nodiscard]] auto truncate(borrowed_fd fd, std::uint64_t size) -> result<void>;

/// What fstat says about an fd.
struct file_status {
  std::uint64_t size = 0;     ///< st_size
  bool regular = false;       ///< S_ISREG: a size beyond which mapped accesses fault
  bool block_device = false;  ///< S_ISBLK
};

/// fstat of `fd`. Errors: EBADF.
[[nodiscard]] auto status(borrowed_fd fd) -> result<file_status>;

/// One readv(2): fills the buffers in order and returns the bytes read (0 at end of file). EINTR and EAGAIN are
/// returned, not retried. Errors: EINVAL for more than 1024 buffers (IOV_MAX) or a total above SSIZE_MAX.
[[nodiscard]] auto readv(borrowed_fd fd, std::span<const io_buffer> buffers) -> result<std::size_t>;

/// One writev(2): writes the buffers in order and returns the bytes written, which may be fewer than asked.
[[nodiscard]] auto writev(borrowed_fd fd, std::span<const io_buffer> buffers) -> result<std::size_t>;

/// One preadv(2) at `offset` (the file position does not move).
[[nodiscard]] auto preadv(borrowed_fd fd, std::span<const io_buffer> buffers, std::uint64_t offset)
    -> result<std::size_t>;

/// One pwritev(2) at `offset` (the file position does not move).
[[nodiscard]] auto pwritev(borrowed_fd fd, std::span<const io_buffer> buffers, std::uint64_t offset)
    -> result<std::size_t>;

/// The most buffers one readv/writev takes (IOV_MAX).
inline constexpr std::size_t max_io_buffers = 1024;

}  // namespace vmm::sys
