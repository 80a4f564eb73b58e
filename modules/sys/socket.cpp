module;
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
module vmm.sys;
import std;

namespace vmm::sys {
namespace {

// Room for the largest SCM_RIGHTS message, aligned for cmsghdr.
constexpr std::size_t control_capacity = CMSG_SPACE(sizeof(int) * max_fds_per_message);

auto native_kind(socket_kind kind) noexcept -> int {
  switch (kind) {
    case socket_kind::seqpacket:
      return SOCK_SEQPACKET;
    case socket_kind::datagram:
      return SOCK_DGRAM;
    case socket_kind::stream:
      break;
  }
  return SOCK_STREAM;
}

// A new socket of `kind` and the address of `path`, ready for bind() or connect().
struct unix_endpoint {
  unique_fd fd;
  ::sockaddr_un address;
  ::socklen_t length;

  [[nodiscard]] auto sockaddr() const noexcept -> const ::sockaddr* {
    return reinterpret_cast<const ::sockaddr*>(&address);
  }
};

auto open_endpoint(const std::filesystem::path& path, socket_kind kind) -> result<unix_endpoint> {
  unix_endpoint endpoint{.fd = {}, .address = {}, .length = 0};
  endpoint.address.sun_family = AF_UNIX;
  const auto& text = path.native();
  if (text.empty() || text.size() >= sizeof endpoint.address.sun_path) {
    return failure(errc::path_too_long);
  }
  std::ranges::copy(text, std::begin(endpoint.address.sun_path));
  endpoint.length = static_cast<::socklen_t>(offsetof(::sockaddr_un, sun_path) + text.size() + 1);
  // SAFETY: socket() only creates a new descriptor.
  endpoint.fd.reset(::socket(AF_UNIX, native_kind(kind) | SOCK_CLOEXEC, 0));
  if (!endpoint.fd.valid()) {
    return os_failure();
  }
  return endpoint;
}

}  // namespace

auto socket_pair(socket_kind kind) -> result<std::pair<unique_fd, unique_fd>> {
  std::array<int, 2> ends{-1, -1};
  // SAFETY: socketpair writes two descriptor numbers into `ends`, which has room for exactly two.
  if (::socketpair(AF_UNIX, native_kind(kind) | SOCK_CLOEXEC, 0, ends.data()) < 0) {
    return os_failure();
  }
  return std::pair{unique_fd{ends[0]}, unique_fd{ends[1]}};
}

auto send_with_fds(borrowed_fd socket, std::span<const std::byte> data, std::span<const borrowed_fd> fds)
    -> result<std::size_t> {
  if (fds.size() > max_fds_per_message) {
    return failure(errc::too_many_fds);
  }
  if (!fds.empty() && data.empty()) {
    return failure(errc::empty_message);
  }
  ::iovec iov{.iov_base = const_cast<std::byte*>(data.data()), .iov_len = data.size()};  // NOLINT(*-const-cast)
  ::msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  alignas(::cmsghdr) std::array<std::byte, control_capacity> control{};
  if (!fds.empty()) {
    message.msg_control = control.data();
    message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    ::cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    auto* payload = reinterpret_cast<std::byte*>(CMSG_DATA(header));
    for (const auto fd : fds) {
      const int raw = fd.get();
      std::memcpy(payload, &raw, sizeof raw);
      payload += sizeof raw;
    }
  }
  // SAFETY: `message` points to `iov` (the caller's bytes, only read) and `control` (sized by CMSG_SPACE for
  // fds.size() descriptors, aligned for cmsghdr); all live for the call. MSG_NOSIGNAL turns SIGPIPE into EPIPE.
  const ::ssize_t sent = ::sendmsg(socket.get(), &message, MSG_NOSIGNAL);
  if (sent < 0) {
    return os_failure();
  }
  return static_cast<std::size_t>(sent);
}

auto recv_with_fds(borrowed_fd socket, std::span<std::byte> buffer, std::size_t max_fds) -> result<received_message> {
  if (max_fds > max_fds_per_message) {
    return failure(errc::too_many_fds);
  }
  if (buffer.empty()) {
    return failure(errc::empty_message);  // a 0-byte result must only ever mean "the peer closed"
  }
  ::iovec iov{.iov_base = buffer.data(), .iov_len = buffer.size()};
  ::msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  alignas(::cmsghdr) std::array<std::byte, control_capacity> control{};
  if (max_fds > 0) {
    message.msg_control = control.data();
    message.msg_controllen = CMSG_SPACE(sizeof(int) * max_fds);
  }
  // SAFETY: the kernel writes at most buffer.size() bytes into `buffer` and at most msg_controllen bytes into
  // `control`; MSG_CMSG_CLOEXEC marks every received descriptor close-on-exec atomically.
  const ::ssize_t got = ::recvmsg(socket.get(), &message, MSG_CMSG_CLOEXEC);
  if (got < 0) {
    return os_failure();
  }
  received_message received{.bytes = static_cast<std::size_t>(got), .fds = {}};
  // Take ownership of every descriptor that arrived before judging the message, so each is closed on any error.
  for (::cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS || header->cmsg_len < CMSG_LEN(0)) {
      continue;
    }
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const auto* payload = reinterpret_cast<const std::byte*>(CMSG_DATA(header));
    for (std::size_t i = 0; i < count; ++i) {
      int raw = -1;
      std::memcpy(&raw, payload + (i * sizeof raw), sizeof raw);
      received.fds.emplace_back(raw);
    }
  }
  // CMSG_SPACE pads the control buffer to 8 bytes, so for an odd max_fds the kernel may fit one descriptor more
  // than the caller allowed without setting MSG_CTRUNC: count what arrived instead of trusting the flag alone.
  if ((message.msg_flags & MSG_CTRUNC) != 0 || received.fds.size() > max_fds) {
    return failure(errc::fds_truncated);
  }
  if ((message.msg_flags & MSG_TRUNC) != 0) {
    return failure(errc::message_truncated);
  }
  return received;
}

auto unix_listener::bind(const std::filesystem::path& path, socket_kind kind, int backlog) -> result<unix_listener> {
  auto endpoint = open_endpoint(path, kind);
  if (!endpoint) {
    return std::unexpected(endpoint.error());
  }
  // SAFETY: bind reads `length` bytes of the sockaddr_un built by open_endpoint.
  if (::bind(endpoint->fd.get(), endpoint->sockaddr(), endpoint->length) < 0) {
    return os_failure();
  }
  unix_listener listener{std::move(endpoint->fd), path};  // from here on the path is ours to unlink
  if (kind != socket_kind::datagram && ::listen(listener.fd_.get(), backlog) < 0) {
    return os_failure();
  }
  return listener;
}

unix_listener::unix_listener(unix_listener&& other) noexcept
    : fd_{std::move(other.fd_)}, path_{std::exchange(other.path_, {})} {
}

auto unix_listener::operator=(unix_listener&& other) noexcept -> unix_listener& {
  if (this != &other) {
    close();
    fd_ = std::move(other.fd_);
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

unix_listener::~unix_listener() {
  close();
}

void unix_listener::close() noexcept {
  fd_.reset();
  if (!path_.empty()) {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
    path_.clear();
  }
}

auto unix_listener::accept() const -> result<unique_fd> {
  // SAFETY: accept4 with null address pointers only creates a new descriptor.
  const int fd = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    return os_failure();
  }
  return unique_fd{fd};
}

auto unix_connect(const std::filesystem::path& path, socket_kind kind) -> result<unique_fd> {
  auto endpoint = open_endpoint(path, kind);
  if (!endpoint) {
    return std::unexpected(endpoint.error());
  }
  // SAFETY: connect reads `length` bytes of the sockaddr_un built by open_endpoint.
  if (::connect(endpoint->fd.get(), endpoint->sockaddr(), endpoint->length) < 0) {
    return os_failure();
  }
  return std::move(endpoint->fd);
}

auto unix_connect_nonblocking(const std::filesystem::path& path, socket_kind kind) -> result<unique_fd> {
  auto endpoint = open_endpoint(path, kind);
  if (!endpoint) {
    return std::unexpected(endpoint.error());
  }
  if (auto nb = set_nonblocking(endpoint->fd, true); !nb) {
    return std::unexpected(nb.error());
  }
  // SAFETY: connect reads `length` bytes of the sockaddr_un built by open_endpoint; on a non-blocking unix socket
  // it completes or fails at once.
  if (::connect(endpoint->fd.get(), endpoint->sockaddr(), endpoint->length) < 0) {
    return os_failure();
  }
  return std::move(endpoint->fd);
}

auto shutdown_socket(borrowed_fd socket, shutdown_direction direction) -> result<void> {
  int how = SHUT_RDWR;
  if (direction == shutdown_direction::read) {
    how = SHUT_RD;
  } else if (direction == shutdown_direction::write) {
    how = SHUT_WR;
  }
  // SAFETY: shutdown only changes the state of the connection behind `socket`.
  if (::shutdown(socket.get(), how) < 0) {
    return os_failure();
  }
  return {};
}

}  // namespace vmm::sys
