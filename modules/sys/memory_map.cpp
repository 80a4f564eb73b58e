module;
#include <cerrno>
#include <climits>
#include <cstddef>
#include <fcntl.h>
#include <linux/mman.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
module vmm.sys;
import std;

namespace vmm::sys {

static_assert(sizeof(io_buffer) == sizeof(::iovec));
static_assert(alignof(io_buffer) == alignof(::iovec));
static_assert(offsetof(io_buffer, base) == offsetof(::iovec, iov_base));
static_assert(offsetof(io_buffer, length) == offsetof(::iovec, iov_len));
static_assert(max_io_buffers == IOV_MAX);

namespace {

auto prot_bits(protection prot) noexcept -> int {
  switch (prot) {
    case protection::none:
      return PROT_NONE;
    case protection::read:
      return PROT_READ;
    case protection::read_write:
      return PROT_READ | PROT_WRITE;
  }
  return PROT_NONE;
}

// MAP_HUGETLB plus the page size's log2 in the MAP_HUGE_SHIFT field (MFD_HUGE_SHIFT has the same value), or -1 for
// a size that is not a power of two of at least a page.
auto huge_bits(std::size_t huge_page_size) noexcept -> int {
  if (huge_page_size == 0) {
    return 0;
  }
  if (!std::has_single_bit(huge_page_size) || huge_page_size <= page_size()) {
    return -1;
  }
  return static_cast<int>(static_cast<unsigned>(std::countr_zero(huge_page_size)) << MAP_HUGE_SHIFT);
}

auto flag_bits(const map_options& options) noexcept -> int {
  return (options.shared ? MAP_SHARED : MAP_PRIVATE) | (options.noreserve ? MAP_NORESERVE : 0) |
         (options.populate ? MAP_POPULATE : 0);
}

auto round_up_to_page(std::size_t size) noexcept -> std::optional<std::size_t> {
  const std::size_t page = page_size();
  if (size > std::numeric_limits<std::size_t>::max() - (page - 1)) {
    return std::nullopt;
  }
  return (size + page - 1) & ~(page - 1);
}

auto as_iovecs(std::span<const io_buffer> buffers) noexcept -> const ::iovec* {
  // io_buffer has iovec's exact layout (static_asserts above); the kernel only reads the array.
  return reinterpret_cast<const ::iovec*>(buffers.data());  // NOLINT(*-reinterpret-cast)
}

auto io_result(::ssize_t n) -> result<std::size_t> {
  if (n < 0) {
    return os_failure();
  }
  return static_cast<std::size_t>(n);
}

}  // namespace

auto page_size() noexcept -> std::size_t {
  static const std::size_t size = [] {
    // SAFETY: sysconf only reads a system constant.
    const long value = ::sysconf(_SC_PAGESIZE);
    return value > 0 ? static_cast<std::size_t>(value) : std::size_t{4096};
  }();
  return size;
}

void mapping::reset() noexcept {
  if (data_ != nullptr) {
    const int saved_errno = errno;
    // SAFETY: [data_, data_ + size_) is a range this object mapped and owns exclusively; after munmap nothing refers
    // to it (the pointers are cleared below). munmap of an owned, page-aligned range cannot fail.
    static_cast<void>(::munmap(data_, size_));
    errno = saved_errno;
  }
  data_ = nullptr;
  size_ = 0;
}

auto mapping::anonymous(std::size_t size, const map_options& options) -> result<mapping> {
  const auto rounded = round_up_to_page(size);
  const int huge = huge_bits(options.huge_page_size);
  if (size == 0 || !rounded || huge < 0) {
    return os_failure(EINVAL);
  }
  // SAFETY: a new anonymous mapping at an address the kernel chooses touches no existing memory.
  void* p = ::mmap(nullptr, *rounded, prot_bits(options.prot), flag_bits(options) | MAP_ANONYMOUS | huge, -1, 0);
  if (p == MAP_FAILED) {
    return os_failure();
  }
  return mapping{static_cast<std::byte*>(p), *rounded};
}

auto mapping::of_fd(borrowed_fd fd, std::size_t size, std::uint64_t offset, const map_options& options)
    -> result<mapping> {
  const auto rounded = round_up_to_page(size);
  if (size == 0 || !rounded || offset % page_size() != 0 || options.huge_page_size != 0 ||
      offset > static_cast<std::uint64_t>(std::numeric_limits<::off_t>::max())) {
    return os_failure(EINVAL);
  }
  // SAFETY: a new mapping of the caller's fd at an address the kernel chooses touches no existing memory.
  void* p =
      ::mmap(nullptr, *rounded, prot_bits(options.prot), flag_bits(options), fd.get(), static_cast<::off_t>(offset));
  if (p == MAP_FAILED) {
    return os_failure();
  }
  return mapping{static_cast<std::byte*>(p), *rounded};
}

auto mapping::reserve(std::size_t size) -> result<mapping> {
  return anonymous(
      size, {.prot = protection::none, .shared = false, .noreserve = true, .populate = false, .huge_page_size = 0});
}

auto mapping::check_subrange(std::size_t offset, std::size_t size) const noexcept -> bool {
  const std::size_t page = page_size();
  return size != 0 && offset % page == 0 && size % page == 0 && offset <= size_ && size <= size_ - offset;
}

auto mapping::map_anonymous_at(std::size_t offset, std::size_t size, const map_options& options) -> result<void> {
  const int huge = huge_bits(options.huge_page_size);
  if (!check_subrange(offset, size) || huge < 0) {
    return os_failure(EINVAL);
  }
  // SAFETY: MAP_FIXED replaces [data_ + offset, +size), which check_subrange proved lies inside the range this
  // object owns: no memory anybody else uses is replaced.
  void* p = ::mmap(data_ + offset, size, prot_bits(options.prot), flag_bits(options) | MAP_ANONYMOUS | MAP_FIXED | huge,
                   -1, 0);
  if (p == MAP_FAILED) {
    return os_failure();
  }
  return {};
}

auto mapping::map_fd_at(std::size_t offset, std::size_t size, borrowed_fd fd, std::uint64_t file_offset,
                        const map_options& options) -> result<void> {
  if (!check_subrange(offset, size) || file_offset % page_size() != 0 || options.huge_page_size != 0 ||
      file_offset > static_cast<std::uint64_t>(std::numeric_limits<::off_t>::max())) {
    return os_failure(EINVAL);
  }
  // SAFETY: as map_anonymous_at: the fixed range lies inside the range this object owns.
  void* p = ::mmap(data_ + offset, size, prot_bits(options.prot), flag_bits(options) | MAP_FIXED, fd.get(),
                   static_cast<::off_t>(file_offset));
  if (p == MAP_FAILED) {
    return os_failure();
  }
  return {};
}

auto mapping::protect(std::size_t offset, std::size_t size, protection prot) -> result<void> {
  if (!check_subrange(offset, size)) {
    return os_failure(EINVAL);
  }
  // SAFETY: changes the protection of a range this object owns; no other memory is affected.
  if (::mprotect(data_ + offset, size, prot_bits(prot)) < 0) {
    return os_failure();
  }
  return {};
}

auto mapping::advise(std::size_t offset, std::size_t size, advice what) -> result<void> {
  if (!check_subrange(offset, size)) {
    return os_failure(EINVAL);
  }
  int bits = MADV_NORMAL;
  switch (what) {
    case advice::normal:
      bits = MADV_NORMAL;
      break;
    case advice::dont_need:
      bits = MADV_DONTNEED;
      break;
    case advice::hugepage:
      bits = MADV_HUGEPAGE;
      break;
    case advice::no_hugepage:
      bits = MADV_NOHUGEPAGE;
      break;
    case advice::dont_dump:
      bits = MADV_DONTDUMP;
      break;
    case advice::dont_fork:
      bits = MADV_DONTFORK;
      break;
  }
  // SAFETY: advice about a range this object owns; MADV_DONTNEED drops its contents, which is what was asked.
  if (::madvise(data_ + offset, size, bits) < 0) {
    return os_failure();
  }
  return {};
}

auto create_memfd(std::string_view name, const memfd_options& options) -> result<unique_fd> {
  if (name.contains('\0')) {
    return failure(errc::invalid_name);
  }
  const int huge = huge_bits(options.huge_page_size);
  if (huge < 0) {
    return os_failure(EINVAL);
  }
  const std::string terminated{name};
  const unsigned flags = MFD_CLOEXEC | (options.allow_sealing ? MFD_ALLOW_SEALING : 0U) |
                         (huge != 0 ? MFD_HUGETLB | static_cast<unsigned>(huge) : 0U);
  // SAFETY: memfd_create reads the NUL-terminated name and returns a new descriptor.
  const int fd = ::memfd_create(terminated.c_str(), flags);
  if (fd < 0) {
    return os_failure();
  }
  return unique_fd{fd};
}

auto seal_size(borrowed_fd fd) -> result<void> {
  // SAFETY: F_ADD_SEALS only restricts future operations on the file.
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
    return os_failure();
  }
  return {};
}

auto truncate(borrowed_fd fd, std::uint64_t size) -> result<void> {
  if (size > static_cast<std::uint64_t>(std::numeric_limits<::off_t>::max())) {
    return os_failure(EFBIG);
  }
  // SAFETY: ftruncate changes the size of the caller's file; it touches no memory of this process.
  if (::ftruncate(fd.get(), static_cast<::off_t>(size)) < 0) {
    return os_failure();
  }
  return {};
}

auto status(borrowed_fd fd) -> result<file_status> {
  struct ::stat st{};
  // SAFETY: fstat writes one struct stat, which `st` is.
  if (::fstat(fd.get(), &st) < 0) {
    return os_failure();
  }
  return file_status{.size = static_cast<std::uint64_t>(st.st_size),
                     .regular = S_ISREG(st.st_mode),
                     .block_device = S_ISBLK(st.st_mode)};
}

auto readv(borrowed_fd fd, std::span<const io_buffer> buffers) -> result<std::size_t> {
  if (buffers.size() > max_io_buffers) {
    return os_failure(EINVAL);
  }
  // SAFETY: the kernel writes into the caller's buffers, each of which the caller guarantees is writable for its
  // length.
  return io_result(::readv(fd.get(), as_iovecs(buffers), static_cast<int>(buffers.size())));
}

auto writev(borrowed_fd fd, std::span<const io_buffer> buffers) -> result<std::size_t> {
  if (buffers.size() > max_io_buffers) {
    return os_failure(EINVAL);
  }
  // SAFETY: the kernel only reads the caller's buffers.
  return io_result(::writev(fd.get(), as_iovecs(buffers), static_cast<int>(buffers.size())));
}

auto preadv(borrowed_fd fd, std::span<const io_buffer> buffers, std::uint64_t offset) -> result<std::size_t> {
  if (buffers.size() > max_io_buffers || offset > static_cast<std::uint64_t>(std::numeric_limits<::off_t>::max())) {
    return os_failure(EINVAL);
  }
  // SAFETY: as readv.
  return io_result(
      ::preadv(fd.get(), as_iovecs(buffers), static_cast<int>(buffers.size()), static_cast<::off_t>(offset)));
}

auto pwritev(borrowed_fd fd, std::span<const io_buffer> buffers, std::uint64_t offset) -> result<std::size_t> {
  if (buffers.size() > max_io_buffers || offset > static_cast<std::uint64_t>(std::numeric_limits<::off_t>::max())) {
    return os_failure(EINVAL);
  }
  // SAFETY: as writev.
  return io_result(
      ::pwritev(fd.get(), as_iovecs(buffers), static_cast<int>(buffers.size()), static_cast<::off_t>(offset)));
}

}  // namespace vmm::sys
