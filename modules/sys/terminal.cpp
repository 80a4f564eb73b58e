module;
#include <cerrno>
#include <cstdlib>
#include <termios.h>
#include <unistd.h>
module vmm.sys;
import std;

namespace vmm::sys {
namespace {

// The saved settings of every terminal currently in raw mode, so a process exit can restore them.
struct saved_terminal {
  std::uint64_t ticket;
  int fd;         // the guard's own duplicate, open for as long as the entry exists
  ::pid_t owner;  // the process that made the guard: a forked child must not restore its parent's terminal
  ::termios settings;
};

struct terminal_registry {
  std::mutex mutex;
  std::vector<saved_terminal> entries;
  std::uint64_t next_ticket = 1;
};

auto registry() -> terminal_registry& {
  // Never destroyed: the exit handler may run after static destructors have started.
  static auto* instance = new terminal_registry;  // NOLINT(cppcoreguidelines-owning-memory)
  return *instance;
}

extern "C" void restore_all_terminals() {
  auto& r = registry();
  const std::scoped_lock lock{r.mutex};
  const ::pid_t self = ::getpid();
  // Newest first, so a terminal put into raw mode twice ends in its original state.
  for (auto& entry : std::views::reverse(r.entries)) {
    if (entry.owner != self) {
      continue;
    }
    // SAFETY: tcsetattr reads the saved settings; a descriptor closed meanwhile fails harmlessly with EBADF.
    static_cast<void>(::tcsetattr(entry.fd, TCSANOW, &entry.settings));
  }
  r.entries.clear();
}

auto register_terminal(int fd, const ::termios& settings) -> std::uint64_t {
  static std::once_flag exit_hook;
  std::call_once(exit_hook, [] {
    registry();  // constructed before the hook is registered
    static_cast<void>(std::atexit(restore_all_terminals));
  });
  auto& r = registry();
  const std::scoped_lock lock{r.mutex};
  const auto ticket = r.next_ticket++;
  r.entries.push_back({ticket, fd, ::getpid(), settings});
  return ticket;
}

// Removes the entry for `ticket` and returns its saved settings (if it was still registered).
auto unregister_terminal(std::uint64_t ticket) -> std::optional<saved_terminal> {
  auto& r = registry();
  const std::scoped_lock lock{r.mutex};
  const auto it = std::ranges::find(r.entries, ticket, &saved_terminal::ticket);
  if (it == r.entries.end()) {
    return std::nullopt;
  }
  auto entry = *it;
  r.entries.erase(it);
  return entry;
}

}  // namespace

auto raw_terminal::enable(borrowed_fd tty) -> result<raw_terminal> {
  ::termios saved{};
  // SAFETY: tcgetattr writes one termios into `saved`.
  if (::tcgetattr(tty.get(), &saved) < 0) {
    return os_failure();
  }
  auto own = duplicate(tty);
  if (!own) {
    return std::unexpected(own.error());
  }
  ::termios raw = saved;
  raw.c_lflag &= ~static_cast<::tcflag_t>(ICANON | ECHO | ISIG | IEXTEN);
  raw.c_iflag &= ~static_cast<::tcflag_t>(IXON | ICRNL);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  const auto ticket = register_terminal(own->get(), saved);
  // SAFETY: tcsetattr reads `raw`, a live local.
  if (::tcsetattr(own->get(), TCSANOW, &raw) < 0) {
    const auto error = last_os_error();
    static_cast<void>(unregister_terminal(ticket));
    return std::unexpected(error);
  }
  return raw_terminal{std::move(*own), ticket};
}

raw_terminal::raw_terminal(raw_terminal&& other) noexcept
    : fd_{std::move(other.fd_)}, ticket_{std::exchange(other.ticket_, 0)} {
}

auto raw_terminal::operator=(raw_terminal&& other) noexcept -> raw_terminal& {
  if (this != &other) {
    static_cast<void>(restore());
    fd_ = std::move(other.fd_);
    ticket_ = std::exchange(other.ticket_, 0);
  }
  return *this;
}

raw_terminal::~raw_terminal() {
  static_cast<void>(restore());
}  // fd_ closes after the settings are back

auto raw_terminal::restore() -> result<void> {
  const auto ticket = std::exchange(ticket_, 0);
  if (ticket == 0) {
    return {};
  }
  const auto entry = unregister_terminal(ticket);
  if (!entry) {
    return {};  // already restored by the exit handler
  }
  // SAFETY: tcsetattr reads the saved settings, a live local copy.
  if (::tcsetattr(entry->fd, TCSANOW, &entry->settings) < 0) {
    return os_failure();
  }
  return {};
}

}  // namespace vmm::sys
