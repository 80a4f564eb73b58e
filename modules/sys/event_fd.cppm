// vmm.sys:event_fd — eventfd(2): a 64-bit counter in the kernel, the doorbell of every VMM (irqfd, ioeventfd,
// thread wake-ups).
export module vmm.sys:event_fd;
import std;
import :error;
import :fd;

export namespace vmm::sys {

/// How an event_fd behaves.
struct event_fd_options {
  std::uint64_t initial = 0;  ///< starting counter value (the kernel limits it to 32 bits: EINVAL above)
  bool semaphore = false;     ///< read() takes 1 from the counter instead of draining it
  bool nonblocking = false;   ///< read() on zero and overflowing write() fail with EAGAIN instead of blocking
};

/// An eventfd: write() adds to a counter, read() takes it (all of it, or 1 in semaphore mode). Close-on-exec.
class event_fd {
 public:
  /// Creates an eventfd. Errors: EINVAL for an initial value above 2^32-1; EMFILE/ENFILE when out of descriptors.
  [[nodiscard]] static auto create(event_fd_options options = {}) -> result<event_fd>;

  /// Adds `value` to the counter. Errors: EINVAL for 2^64-1 (not a valid increment); EAGAIN when non-blocking and
  /// the counter would exceed 2^64-2; EINTR when a signal interrupts a blocked write.
  [[nodiscard]] auto write(std::uint64_t value = 1) const -> result<void>;

  /// Takes the counter (or 1 of it in semaphore mode) and returns what was taken. Errors: EAGAIN when non-blocking
  /// and the counter is zero; EINTR when a signal (such as the kick signal) interrupts a blocked read.
  [[nodiscard]] auto read() const -> result<std::uint64_t>;

  /// A second descriptor for the same counter (for handing to KVM or another thread).
  [[nodiscard]] auto try_clone() const -> result<event_fd>;

  [[nodiscard]] auto fd() const noexcept -> borrowed_fd { return fd_.borrow(); }
  /// Gives up the descriptor (for a caller that wants to own it directly).
  [[nodiscard]] auto into_fd() && noexcept -> unique_fd { return std::move(fd_); }

 private:
  explicit event_fd(unique_fd fd) noexcept : fd_{std::move(fd)} {}
  unique_fd fd_;
};

}  // namespace vmm::sys
