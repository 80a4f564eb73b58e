// vmm.sys:fd — owning and borrowed file descriptors, and the few plain fd operations every component needs.
export module vmm.sys:fd;
import std;
import :error;

export namespace vmm::sys {

/// A non-owning file descriptor: the parameter type for "use this fd, do not keep or close it". Copyable and
/// trivially cheap; valid only while the owner keeps the fd open. -1 means "none".
class borrowed_fd {
 public:
  constexpr borrowed_fd() noexcept = default;
  constexpr explicit borrowed_fd(int fd) noexcept : fd_{fd} {}

  /// The raw descriptor number (-1 when empty).
  [[nodiscard]] constexpr auto get() const noexcept -> int { return fd_; }
  /// Whether this refers to a descriptor at all (says nothing about whether it is still open).
  [[nodiscard]] constexpr auto valid() const noexcept -> bool { return fd_ >= 0; }

  friend constexpr auto operator==(borrowed_fd, borrowed_fd) noexcept -> bool = default;

 private:
  int fd_ = -1;
};

/// A move-only owner of one file descriptor that closes it exactly once.
///
/// close() is never retried on EINTR (on Linux the descriptor is released even when close reports EINTR, and a
/// retry could close a descriptor another thread just received), and the destructor preserves errno so it can run
/// between a failing call and last_os_error().
class unique_fd {
 public:
  constexpr unique_fd() noexcept = default;
  /// Takes ownership of `fd` (which may be -1).
  constexpr explicit unique_fd(int fd) noexcept : fd_{fd} {}
  unique_fd(const unique_fd&) = delete;
  auto operator=(const unique_fd&) -> unique_fd& = delete;
  constexpr unique_fd(unique_fd&& other) noexcept : fd_{std::exchange(other.fd_, -1)} {}
  auto operator=(unique_fd&& other) noexcept -> unique_fd& {
    if (this != &other) {
      reset(std::exchange(other.fd_, -1));
    }
    return *this;
  }
  ~unique_fd() { reset(); }

  /// The raw descriptor number (-1 when empty). Ownership stays here.
  [[nodiscard]] constexpr auto get() const noexcept -> int { return fd_; }
  /// A borrowed view for passing to functions.
  [[nodiscard]] constexpr auto borrow() const noexcept -> borrowed_fd { return borrowed_fd{fd_}; }
  // NOLINTNEXTLINE(google-explicit-constructor): lending an owned fd to a borrowed_fd parameter is the intent.
  constexpr operator borrowed_fd() const noexcept { return borrow(); }
  [[nodiscard]] constexpr auto valid() const noexcept -> bool { return fd_ >= 0; }

  /// Gives up ownership without closing; returns the descriptor.
  [[nodiscard]] constexpr auto release() noexcept -> int { return std::exchange(fd_, -1); }
  /// Closes the current descriptor (if any) and takes ownership of `fd`. Preserves errno.
  void reset(int fd = -1) noexcept;

  /// A new owner of a duplicate (F_DUPFD_CLOEXEC) of this descriptor.
  /// Errors: EBADF when empty or closed, EMFILE when the process is out of descriptors.
  [[nodiscard]] auto duplicate() const -> result<unique_fd>;

 private:
  int fd_ = -1;
};

/// A new owner of a duplicate (F_DUPFD_CLOEXEC) of `fd`. Errors: EBADF for a closed or empty descriptor, EMFILE
/// when the process is out of descriptors.
[[nodiscard]] auto duplicate(borrowed_fd fd) -> result<unique_fd>;

/// Sets or clears O_NONBLOCK. Errors: EBADF for a closed or empty descriptor.
[[nodiscard]] auto set_nonblocking(borrowed_fd fd, bool nonblocking) -> result<void>;

/// Whether O_NONBLOCK is set. Errors: EBADF for a closed or empty descriptor.
[[nodiscard]] auto is_nonblocking(borrowed_fd fd) -> result<bool>;

/// One read(2): returns the bytes read (0 at end of file). EINTR and EAGAIN are returned, not retried, so a kick
/// signal can interrupt a blocked reader.
[[nodiscard]] auto read(borrowed_fd fd, std::span<std::byte> buffer) -> result<std::size_t>;

/// One write(2): returns the bytes written, which may be fewer than asked. EINTR and EAGAIN are returned.
[[nodiscard]] auto write(borrowed_fd fd, std::span<const std::byte> data) -> result<std::size_t>;

/// A pipe with both ends close-on-exec: {read end, write end}. `nonblocking` applies to both ends.
[[nodiscard]] auto make_pipe(bool nonblocking = false) -> result<std::pair<unique_fd, unique_fd>>;

/// Whether `fd` is an open descriptor in this process (fcntl F_GETFD succeeds).
[[nodiscard]] auto is_open(borrowed_fd fd) noexcept -> bool;

}  // namespace vmm::sys
