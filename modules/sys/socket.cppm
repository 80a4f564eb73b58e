// vmm.sys:socket — unix-domain sockets that carry file descriptors (SCM_RIGHTS), as vhost-user and vsock need.
//
// The peer on the other side of such a socket is untrusted (a vhost-user backend, a vsock client): it may send
// more descriptors than expected, a message larger than the buffer, or close mid-message. Every such case is
// reported as an error, and descriptors that arrived with a rejected message are closed, never leaked.
export module vmm.sys:socket;
import std;
import :error;
import :fd;

export namespace vmm::sys {

/// The kernel's limit on descriptors in one SCM_RIGHTS message (SCM_MAX_FD).
inline constexpr std::size_t max_fds_per_message = 253;

/// The kind of a unix-domain socket.
enum class socket_kind : std::uint8_t {
  stream,     ///< SOCK_STREAM: a byte stream (message boundaries are not kept)
  seqpacket,  ///< SOCK_SEQPACKET: connected, reliable, message boundaries kept
  datagram,   ///< SOCK_DGRAM
};

/// A connected pair of unix sockets, both close-on-exec.
[[nodiscard]] auto socket_pair(socket_kind kind = socket_kind::stream) -> result<std::pair<unique_fd, unique_fd>>;

/// Sends `data` and, with it, duplicates of `fds` (SCM_RIGHTS). Returns the bytes sent, which for a stream socket
/// may be fewer than `data.size()` (the descriptors travel with the first byte). Never raises SIGPIPE.
/// Errors: vmm::sys::errc::too_many_fds above max_fds_per_message; errc::empty_message when `fds` is not empty and
/// `data` is (the kernel cannot deliver descriptors without data on a stream socket); EPIPE when the peer is gone;
/// EBADF when one of `fds` is closed; EAGAIN/EINTR as for send(2).
[[nodiscard]] auto send_with_fds(borrowed_fd socket, std::span<const std::byte> data,
                                 std::span<const borrowed_fd> fds = {}) -> result<std::size_t>;

/// What recv_with_fds received: the number of bytes placed in the buffer (0: the peer closed the connection) and
/// the descriptors that came with them (close-on-exec, owned by the caller).
struct received_message {
  std::size_t bytes = 0;
  std::vector<unique_fd> fds;
};

/// Receives into `buffer`, accepting at most `max_fds` descriptors. Errors (in each case every descriptor that
/// arrived is closed before returning): vmm::sys::errc::fds_truncated when the peer sent more than `max_fds`;
/// errc::empty_message for an empty `buffer` (0 bytes received must only ever mean end of stream);
/// errc::message_truncated when a seqpacket or datagram message did not fit in `buffer`; errc::too_many_fds when
/// `max_fds` exceeds max_fds_per_message; EAGAIN/EINTR as for recv(2).
[[nodiscard]] auto recv_with_fds(borrowed_fd socket, std::span<std::byte> buffer, std::size_t max_fds = 0)
    -> result<received_message>;

/// A listening unix socket bound to a filesystem path, which it unlinks on destruction.
class unix_listener {
 public:
  /// Binds and listens on `path` (which must not exist yet). Errors: vmm::sys::errc::path_too_long when the path
  /// does not fit in sockaddr_un; EADDRINUSE when it exists; ENOENT/EACCES for a bad directory.
  [[nodiscard]] static auto bind(const std::filesystem::path& path, socket_kind kind = socket_kind::stream,
                                 int backlog = 128) -> result<unix_listener>;

  unix_listener(unix_listener&& other) noexcept;
  auto operator=(unix_listener&& other) noexcept -> unix_listener&;
  unix_listener(const unix_listener&) = delete;
  auto operator=(const unix_listener&) -> unix_listener& = delete;
  ~unix_listener();

  /// Accepts one connection (close-on-exec). Errors: EAGAIN when non-blocking with none pending; EINTR.
  [[nodiscard]] auto accept() const -> result<unique_fd>;

  [[nodiscard]] auto fd() const noexcept -> borrowed_fd { return fd_.borrow(); }
  [[nodiscard]] auto path() const noexcept -> const std::filesystem::path& { return path_; }

 private:
  unix_listener(unique_fd fd, std::filesystem::path path) noexcept : fd_{std::move(fd)}, path_{std::move(path)} {}
  void close() noexcept;
  unique_fd fd_;
  std::filesystem::path path_;
};

/// Connects to the unix socket at `path` (close-on-exec). Errors: errc::path_too_long; ENOENT when nothing is
/// there; ECONNREFUSED when nobody listens.
[[nodiscard]] auto unix_connect(const std::filesystem::path& path, socket_kind kind = socket_kind::stream)
    -> result<unique_fd>;

/// As unix_connect, but the socket is non-blocking from the start, so the connect itself never waits: a unix
/// listener whose backlog is full answers EAGAIN at once instead of blocking the caller (a device thread that a
/// guest drives must not hang on a host listener that stopped accepting). Errors: as unix_connect, plus EAGAIN.
[[nodiscard]] auto unix_connect_nonblocking(const std::filesystem::path& path, socket_kind kind = socket_kind::stream)
    -> result<unique_fd>;

/// Which directions shutdown_socket closes.
enum class shutdown_direction : std::uint8_t {
  read,   ///< SHUT_RD
  write,  ///< SHUT_WR: the peer reads end of stream once it has everything sent before
  both,   ///< SHUT_RDWR
};

/// shutdown(2) on a connected socket. Errors: ENOTCONN when it is not connected; EBADF/ENOTSOCK.
[[nodiscard]] auto shutdown_socket(borrowed_fd socket, shutdown_direction direction) -> result<void>;

}  // namespace vmm::sys
