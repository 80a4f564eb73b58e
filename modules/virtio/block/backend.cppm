// vmm.virtio.block:backend — where a block device's sectors live: an abstract backend that takes I/O operations and
// hands back their completions, a synchronous file backend (preadv, pwritev, fdatasync, fallocate), and an io_uring
// backend that batches operations into one submission and completes them through an eventfd.
//
// The io_uring system calls (through liburing) are made in this partition, not in vmm.sys: liburing is a dependency
// of the block device alone, and putting it under vmm.sys would make every component link it. Each call has a
// SAFETY comment, as in vmm.sys.
export module vmm.virtio.block:backend;
import std;
import vmm.sys;
import :error;

export namespace vmm::virtio::block {

/// What a backend operation does.
enum class io_kind : std::uint8_t {
  read,          ///< preadv into the buffers
  write,         ///< pwritev from the buffers
  flush,         ///< fdatasync
  discard,       ///< fallocate(PUNCH_HOLE | KEEP_SIZE): the range reads back as zero and may be deallocated
  write_zeroes,  ///< fallocate(ZERO_RANGE | KEEP_SIZE), or zeroes written where the file system lacks it
};

/// One backend operation. The buffers (read, write) must stay valid, and the guest memory under them mapped, until
/// the operation's completion has been reaped.
struct io_operation {
  io_kind kind = io_kind::read;
  /// Byte offset in the backing file.
  std::uint64_t offset = 0;
  /// Bytes to discard or zero (read and write: the buffers' total, filled in by the backend).
  std::uint64_t length = 0;
  std::span<const sys::io_buffer> buffers;
  /// Handed back with the completion.
  std::uint64_t cookie = 0;
};

/// A finished operation: its cookie and, when it failed, why (errno, or errc::io_failed when the file ended before
/// the last byte of a read or write).
struct io_completion {
  std::uint64_t cookie = 0;
  std::error_code error;
};

/// A block device's storage. Not thread safe: one device thread submits and reaps.
class block_backend {
 public:
  block_backend() = default;
  block_backend(const block_backend&) = delete;
  auto operator=(const block_backend&) -> block_backend& = delete;
  block_backend(block_backend&&) = delete;
  auto operator=(block_backend&&) -> block_backend& = delete;
  virtual ~block_backend() = default;

  /// The size of the backing file in bytes (its capacity is size() / 512 sectors).
  [[nodiscard]] virtual auto size() const noexcept -> std::uint64_t = 0;
  /// Whether the file was opened read-only (writes would fail).
  [[nodiscard]] virtual auto read_only() const noexcept -> bool = 0;
  /// How many more operations submit() accepts before completions are reaped.
  [[nodiscard]] virtual auto free_slots() const noexcept -> std::size_t = 0;
  /// Starts `op` (a synchronous backend finishes it here). Errors: errc::backend_full when free_slots() is 0
  /// (nothing started). A failing operation is not an error here: its completion carries the error.
  [[nodiscard]] virtual auto submit(const io_operation& op) -> vmm::result<void> = 0;
  /// Hands the operations submitted since the last call to the kernel in one go (io_uring); a no-op for a
  /// synchronous backend. Errors: the submission's errno.
  [[nodiscard]] virtual auto flush_submissions() -> vmm::result<void> = 0;
  /// Appends the operations that finished since the last call to `out`.
  virtual void reap(std::vector<io_completion>& out) = 0;
  /// Readable when completions may be waiting (io_uring's eventfd); empty for a synchronous backend, whose
  /// completions are ready as soon as submit() returns.
  [[nodiscard]] virtual auto completion_event() const noexcept -> sys::borrowed_fd = 0;
  /// Operations submitted and not yet reaped.
  [[nodiscard]] virtual auto in_flight() const noexcept -> std::size_t = 0;
};

/// Drops the first `n` bytes of `buffers` after a transfer moved them (a short preadv/pwritev or io_uring
/// completion): whole buffers are skipped, a partly moved one starts after its moved bytes. Returns the buffers
/// still holding bytes, from the first non-empty one (empty when `n` covers them all; a larger `n` is clamped).
[[nodiscard]] auto advance_buffers(std::span<sys::io_buffer> buffers, std::uint64_t n) noexcept
    -> std::span<sys::io_buffer>;

/// Opens the disk image at `path` (O_CLOEXEC; read-write unless `read_only`). Errors: open(2)'s errno.
[[nodiscard]] auto open_image(const std::filesystem::path& path, bool read_only) -> vmm::result<sys::unique_fd>;

/// A backend that does each operation synchronously in submit(): preadv/pwritev (retrying EINTR and short
/// transfers), fdatasync, fallocate.
class file_backend final : public block_backend {
 public:
  /// A backend on `fd`, an open regular file or block device. Errors: fstat's errno.
  [[nodiscard]] static auto create(sys::unique_fd fd, bool read_only) -> vmm::result<std::unique_ptr<file_backend>>;

  [[nodiscard]] auto size() const noexcept -> std::uint64_t override { return size_; }
  [[nodiscard]] auto read_only() const noexcept -> bool override { return read_only_; }
  [[nodiscard]] auto free_slots() const noexcept -> std::size_t override;
  [[nodiscard]] auto submit(const io_operation& op) -> vmm::result<void> override;
  [[nodiscard]] auto flush_submissions() -> vmm::result<void> override { return {}; }
  void reap(std::vector<io_completion>& out) override;
  [[nodiscard]] auto completion_event() const noexcept -> sys::borrowed_fd override { return {}; }
  [[nodiscard]] auto in_flight() const noexcept -> std::size_t override { return done_.size(); }

  file_backend(sys::unique_fd fd, std::uint64_t size, bool read_only) noexcept
      : fd_{std::move(fd)}, size_{size}, read_only_{read_only} {}

 private:
  sys::unique_fd fd_;
  std::uint64_t size_;
  bool read_only_;
  std::vector<io_completion> done_;
};

/// The io_uring state (liburing's struct io_uring), defined where liburing is included.
struct uring_state;

/// A backend on an io_uring of bounded depth: submit() queues a READV/WRITEV/FSYNC(DATASYNC)/FALLOCATE entry,
/// flush_submissions() submits them all with one io_uring_enter, and completions arrive in any order on
/// completion_event() (an eventfd registered with the ring). A read or write that moved fewer bytes than asked is
/// resubmitted for the rest (iovecs and offset advanced) from reap(); it completes when every byte moved, and with
/// errc::io_failed when a resubmission moves nothing (end of file), so each round makes progress and it ends.
class uring_backend final : public block_backend {
 public:
  /// The default ring depth: the operations in flight at once.
  static constexpr unsigned default_depth = 128;

  /// A backend on `fd` with a ring of `depth` entries (1..4096). Errors: io_uring_setup's errno (ENOSYS or EPERM
  /// where the kernel or a seccomp filter refuses io_uring; callers fall back to file_backend), the eventfd's,
  /// fstat's.
  [[nodiscard]] static auto create(sys::unique_fd fd, bool read_only, unsigned depth = default_depth)
      -> vmm::result<std::unique_ptr<uring_backend>>;

  uring_backend(const uring_backend&) = delete;
  auto operator=(const uring_backend&) -> uring_backend& = delete;
  uring_backend(uring_backend&&) = delete;
  auto operator=(uring_backend&&) -> uring_backend& = delete;
  /// Waits for the operations still in the kernel (their buffers must not be reused before), then tears the ring
  /// down.
  ~uring_backend() override;

  [[nodiscard]] auto size() const noexcept -> std::uint64_t override { return size_; }
  [[nodiscard]] auto read_only() const noexcept -> bool override { return read_only_; }
  [[nodiscard]] auto free_slots() const noexcept -> std::size_t override;
  [[nodiscard]] auto submit(const io_operation& op) -> vmm::result<void> override;
  [[nodiscard]] auto flush_submissions() -> vmm::result<void> override;
  void reap(std::vector<io_completion>& out) override;
  [[nodiscard]] auto completion_event() const noexcept -> sys::borrowed_fd override { return event_.fd(); }
  [[nodiscard]] auto in_flight() const noexcept -> std::size_t override { return in_flight_; }

 private:
  struct slot {
    io_kind kind = io_kind::read;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;  // read, write: the bytes still to move
    std::uint64_t cookie = 0;
    std::span<const sys::io_buffer> buffers;  // the caller's, until a short transfer
    std::vector<sys::io_buffer> rest;         // after a short transfer: what is left of them
  };
  // After a completion that moved `moved` (> 0) of the bytes left: resubmits the rest. Returns false when no
  // submission entry was free (the operation then fails).
  [[nodiscard]] auto resubmit(std::uint32_t index, std::uint64_t moved) -> bool;
  uring_backend(sys::unique_fd fd, std::uint64_t size, bool read_only, unsigned depth, sys::event_fd event,
                std::unique_ptr<uring_state> ring);

  sys::unique_fd fd_;
  std::uint64_t size_;
  bool read_only_;
  sys::event_fd event_;
  std::unique_ptr<uring_state> ring_;
  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_;  // indices of unused slots
  std::size_t in_flight_ = 0;
};

}  // namespace vmm::virtio::block

namespace vmm::virtio::block::detail {
/// Writes zeroes over [offset, offset + length) of `fd` with pwritev, for file systems that refuse ZERO_RANGE
/// (tmpfs). Returns the error, empty on success.
auto write_zero_bytes(sys::borrowed_fd fd, std::uint64_t offset, std::uint64_t length) -> std::error_code;
}  // namespace vmm::virtio::block::detail
