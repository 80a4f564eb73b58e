// vmm.sys:terminal — raw mode for a terminal, so every key reaches the guest's serial console unprocessed.
module;
#include <termios.h>
export module vmm.sys:terminal;
import std;
import :error;
import :fd;

export namespace vmm::sys {

/// Keeps a terminal in raw mode (no line editing, no echo, no signal keys: Ctrl-C goes to the guest, VMIN=1) for
/// its lifetime and restores the saved settings on every orderly exit path: when the guard is destroyed (normal
/// return, exception), and at process exit (std::exit, return from main) for guards still alive then. Paths that
/// skip atexit handlers leave the terminal raw: SIGKILL and other fatal signals, std::abort (and so std::terminate
/// and the default contract-violation handler), _exit and quick_exit. A VMM that handles SIGTERM/SIGINT should
/// leave through std::exit.
///
/// The guard keeps its own duplicate of the descriptor, so restoring reaches the same terminal even if the caller's
/// descriptor number is closed and reused meanwhile. A child made by fork() inherits the exit hook but never
/// restores its parent's terminals.
class raw_terminal {
 public:
  /// Saves the settings of the terminal on `tty` and switches it to raw mode. Errors: ENOTTY when `tty` is not a
  /// terminal; EBADF when it is closed.
  [[nodiscard]] static auto enable(borrowed_fd tty) -> result<raw_terminal>;

  raw_terminal(raw_terminal&& other) noexcept;
  auto operator=(raw_terminal&& other) noexcept -> raw_terminal&;
  raw_terminal(const raw_terminal&) = delete;
  auto operator=(const raw_terminal&) -> raw_terminal& = delete;
  /// Restores the saved settings (errors are ignored here; call restore() to see them).
  ~raw_terminal();

  /// Restores the saved settings now; later calls and the destructor do nothing. Errors: as tcsetattr (EBADF when
  /// the descriptor was closed meanwhile, EIO when the terminal went away).
  [[nodiscard]] auto restore() -> result<void>;

  /// The terminal this guard keeps raw (the guard's own duplicate of the descriptor given to enable()).
  [[nodiscard]] auto fd() const noexcept -> borrowed_fd { return fd_.borrow(); }

 private:
  raw_terminal(unique_fd fd, std::uint64_t ticket) noexcept : fd_{std::move(fd)}, ticket_{ticket} {}
  unique_fd fd_;
  std::uint64_t ticket_ = 0;  // the entry in the process-exit registry; 0 once restored
};

}  // namespace vmm::sys
