module;
#include <cerrno>
#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>
module vmm.virtio.block;
import std;
import vmm.sys;

namespace vmm::virtio::block {

namespace {

// A page-sized run of zeroes for file systems without FALLOC_FL_ZERO_RANGE (tmpfs): write-zeroes writes it.
constexpr std::size_t zero_chunk = std::size_t{64} * 1024;
alignas(4096) constinit const std::array<std::byte, zero_chunk> zeroes{};

// preadv/pwritev of all of `buffers` at `offset`, retrying EINTR and short transfers. End of file before the last
// byte is errc::io_failed (the file shrank under the device).
auto transfer_all(sys::borrowed_fd fd, bool write, std::span<const sys::io_buffer> buffers, std::uint64_t offset)
    -> std::error_code {
  std::vector<sys::io_buffer> copy{buffers.begin(), buffers.end()};
  std::span<sys::io_buffer> pending = advance_buffers(copy, 0);
  while (!pending.empty()) {
    auto done = write ? sys::pwritev(fd, pending, offset) : sys::preadv(fd, pending, offset);
    if (!done) {
      if (done.error() == std::errc::interrupted) {
        continue;
      }
      return done.error();
    }
    if (*done == 0) {
      return make_error_code(errc::io_failed);
    }
    offset += *done;
    pending = advance_buffers(pending, *done);
  }
  return {};
}

// fallocate(2) with EINTR retried.
auto allocate(sys::borrowed_fd fd, int mode, std::uint64_t offset, std::uint64_t length) -> std::error_code {
  if (length == 0) {
    return {};
  }
  if (offset > static_cast<std::uint64_t>(std::numeric_limits<::off_t>::max()) ||
      length > static_cast<std::uint64_t>(std::numeric_limits<::off_t>::max()) - offset) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  for (;;) {
    // SAFETY: fallocate only changes the file's allocation in [offset, offset + length), both checked to fit off_t
    // above; it touches no memory of this process.
    if (::fallocate(fd.get(), mode, static_cast<::off_t>(offset), static_cast<::off_t>(length)) == 0) {
      return {};
    }
    if (errno != EINTR) {
      return last_os_error();
    }
  }
}

}  // namespace

auto advance_buffers(std::span<sys::io_buffer> buffers, std::uint64_t n) noexcept -> std::span<sys::io_buffer> {
  std::size_t first = 0;
  for (; first < buffers.size(); ++first) {
    auto& b = buffers[first];
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(n, b.length));
    b.base = static_cast<std::byte*>(b.base) + take;
    b.length -= take;
    n -= take;
    if (b.length > 0) {
      break;
    }
  }
  return buffers.subspan(first);
}

namespace detail {

auto write_zero_bytes(sys::borrowed_fd fd, std::uint64_t offset, std::uint64_t length) -> std::error_code {
  // A full batch of iovecs over the one zero chunk: 64 MiB per call.
  std::vector<sys::io_buffer> batch;
  while (length > 0) {
    batch.clear();
    std::uint64_t bytes = 0;
    while (length - bytes > 0 && batch.size() < sys::max_io_buffers) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(zero_chunk, length - bytes));
      // pwritev only reads through the iovec; io_buffer's base is non-const because readv shares the type.
      batch.push_back({.base = const_cast<std::byte*>(zeroes.data()), .length = n});  // NOLINT(*-const-cast)
      bytes += n;
    }
    if (auto e = transfer_all(fd, true, batch, offset); e) {
      return e;
    }
    offset += bytes;
    length -= bytes;
  }
  return {};
}

}  // namespace detail

namespace {

auto do_zero_range(sys::borrowed_fd fd, std::uint64_t offset, std::uint64_t length) -> std::error_code {
  auto e = allocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length);
  if (e == std::errc::operation_not_supported) {
    return detail::write_zero_bytes(fd, offset, length);
  }
  return e;
}

auto do_flush(sys::borrowed_fd fd) -> std::error_code {
  for (;;) {
    // SAFETY: fdatasync writes the file's dirty pages back; it takes no memory of this process.
    if (::fdatasync(fd.get()) == 0) {
      return {};
    }
    if (errno != EINTR) {
      return last_os_error();
    }
  }
}

}  // namespace

auto open_image(const std::filesystem::path& path, bool read_only) -> vmm::result<sys::unique_fd> {
  // SAFETY: open reads the NUL-terminated path string, alive for the call; the new descriptor is owned at once.
  sys::unique_fd fd{::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC)};
  if (!fd.valid()) {
    return os_failure();
  }
  return fd;
}

auto file_backend::create(sys::unique_fd fd, bool read_only) -> vmm::result<std::unique_ptr<file_backend>> {
  auto st = sys::status(fd);
  if (!st) {
    return std::unexpected(st.error());
  }
  return std::make_unique<file_backend>(std::move(fd), st->size, read_only);
}

auto file_backend::free_slots() const noexcept -> std::size_t {
  // Operations finish inside submit(): the limit only bounds the completions waiting to be reaped.
  return std::numeric_limits<std::uint32_t>::max() - done_.size();
}

auto file_backend::submit(const io_operation& op) -> vmm::result<void> {
  std::error_code e;
  switch (op.kind) {
    case io_kind::read:
      e = transfer_all(fd_, false, op.buffers, op.offset);
      break;
    case io_kind::write:
      e = transfer_all(fd_, true, op.buffers, op.offset);
      break;
    case io_kind::flush:
      e = do_flush(fd_);
      break;
    case io_kind::discard:
      e = allocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, op.offset, op.length);
      break;
    case io_kind::write_zeroes:
      e = do_zero_range(fd_, op.offset, op.length);
      break;
  }
  done_.push_back({.cookie = op.cookie, .error = e});
  return {};
}

void file_backend::reap(std::vector<io_completion>& out) {
  out.insert(out.end(), done_.begin(), done_.end());
  done_.clear();
}

}  // namespace vmm::virtio::block
