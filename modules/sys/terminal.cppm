// vmm.sys:terminal — raw mode for a terminal, so every key reaches the guest's serial console unprocessed.
module;
#include <termios.h>
export module vmm.sys:terminal;
import std;
import :error;
import :fd;

export namespace vmm::sys {

/// Keeps a terminal in raw mode (no line editing, no echo, no signal keys: Ctrl-C goes to the guest, VMIN=1) for
/// its lifetime and restores the saved settings on every exit path: when the guard is destroyed (normal return,
/// exception), and at process exit (std::exit, return from main) for guards still alive then. Only SIGKILL, _exit
/// and quick_exit leave the terminal raw; a VMM that handles SIGTERM/SIGINT should exit through std::exit.
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

  [[nodiscard]] auto fd() const noexcept -> borrowed_fd { return borrowed_fd{fd_}; }

 private:
  raw_terminal(int fd, std::uint64_t ticket) noexcept : fd_{fd}, ticket_{ticket} {}
  int fd_ = -1;
  std::uint64_t ticket_ = 0;  // the entry in the process-exit registry; 0 once restored
};

}  // namespace vmm::sys
