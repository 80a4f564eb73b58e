// Unix-domain sockets: socket pairs, data with descriptors (SCM_RIGHTS) both ways, every rejection of a hostile or
// broken peer, and listeners bound to filesystem paths.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <fcntl.h>
#include <sys/socket.h>

import std;
import vmm.sys;
import vmm.testing;

using vmm::testing::os_error;
namespace sys = vmm::sys;
using vmm::testing::bytes;
using vmm::testing::error_of;
using vmm::testing::is_close_on_exec;
namespace fs = std::filesystem;

namespace {

auto text(std::span<const std::byte> buffer, std::size_t size) -> std::string_view {
  return {reinterpret_cast<const char*>(buffer.data()), size};
}

auto socket_type(sys::borrowed_fd fd) -> int {
  int type = -1;
  ::socklen_t length = sizeof type;
  BOOST_TEST_REQUIRE(::getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &type, &length) == 0);
  return type;
}

// One byte read from `fd`, as a char ('\0' when nothing could be read).
auto read_char(sys::borrowed_fd fd) -> char {
  std::array<std::byte, 1> got{};
  const auto n = sys::read(fd, got);
  return n.has_value() && *n == 1U ? static_cast<char>(got[0]) : '\0';
}

// sun_path holds 108 bytes, including the terminating NUL.
constexpr std::size_t sun_path_size = 108;

// A path inside `dir` that is exactly `length` bytes long.
auto path_of_length(const fs::path& dir, std::size_t length) -> fs::path {
  const auto base = dir.native() + "/";
  BOOST_TEST_REQUIRE(base.size() < length);
  return fs::path{base + std::string(length - base.size(), 'p')};
}

auto make_socket_dir() -> sys::temp_dir {
  auto dir = sys::temp_dir::create("sock-");
  BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
  return std::move(*dir);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sys_socket)

// --- socket_pair ---

BOOST_AUTO_TEST_CASE(stream_pair_carries_bytes_both_ways) {
  auto pair = sys::socket_pair(sys::socket_kind::stream);
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  BOOST_TEST(socket_type(pair->first) == SOCK_STREAM);
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("ping")).value() == 4U);
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->second, bytes("pong")).value() == 4U);
  std::array<std::byte, 16> buffer{};
  const auto at_second = sys::recv_with_fds(pair->second, buffer);
  BOOST_TEST_REQUIRE(at_second.has_value(), vmm::testing::describe(at_second));
  BOOST_TEST(text(buffer, at_second->bytes) == "ping");
  const auto at_first = sys::recv_with_fds(pair->first, buffer);
  BOOST_TEST_REQUIRE(at_first.has_value(), vmm::testing::describe(at_first));
  BOOST_TEST(text(buffer, at_first->bytes) == "pong");
  BOOST_TEST(at_first->fds.empty());
}

BOOST_AUTO_TEST_CASE(default_kind_is_stream) {
  auto pair = sys::socket_pair();
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  BOOST_TEST(socket_type(pair->first) == SOCK_STREAM);
}

BOOST_AUTO_TEST_CASE(seqpacket_pair_keeps_message_boundaries) {
  auto pair = sys::socket_pair(sys::socket_kind::seqpacket);
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  BOOST_TEST(socket_type(pair->first) == SOCK_SEQPACKET);
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("one")).has_value());
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("two")).has_value());
  std::array<std::byte, 16> buffer{};
  const auto first = sys::recv_with_fds(pair->second, buffer);
  BOOST_TEST_REQUIRE(first.has_value(), vmm::testing::describe(first));
  BOOST_TEST(text(buffer, first->bytes) == "one");
  const auto second = sys::recv_with_fds(pair->second, buffer);
  BOOST_TEST_REQUIRE(second.has_value(), vmm::testing::describe(second));
  BOOST_TEST(text(buffer, second->bytes) == "two");
}

BOOST_AUTO_TEST_CASE(datagram_pair_delivers_datagrams) {
  auto pair = sys::socket_pair(sys::socket_kind::datagram);
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  BOOST_TEST(socket_type(pair->first) == SOCK_DGRAM);
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("datagram")).value() == 8U);
  std::array<std::byte, 16> buffer{};
  const auto got = sys::recv_with_fds(pair->second, buffer);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST(text(buffer, got->bytes) == "datagram");
}

BOOST_AUTO_TEST_CASE(socket_pair_ends_are_close_on_exec) {
  auto pair = sys::socket_pair();
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  BOOST_TEST(is_close_on_exec(pair->first));
  BOOST_TEST(is_close_on_exec(pair->second));
}

// --- descriptors with data ---

BOOST_AUTO_TEST_CASE(one_descriptor_arrives_as_a_new_close_on_exec_number_for_the_same_file) {
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::array<sys::borrowed_fd, 1> fds{pipe->second};
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("f"), fds).value() == 1U);
  std::array<std::byte, 4> buffer{};
  auto got = sys::recv_with_fds(pair->second, buffer, 1);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST(got->bytes == 1U);
  BOOST_TEST_REQUIRE(got->fds.size() == 1U);
  BOOST_TEST(got->fds[0].get() != pipe->second.get());
  BOOST_TEST(is_close_on_exec(got->fds[0]));
  BOOST_TEST_REQUIRE(sys::write(got->fds[0], bytes("z")).value() == 1U);
  BOOST_TEST(read_char(pipe->first) == 'z');
}

BOOST_AUTO_TEST_CASE(three_descriptors_arrive_in_the_order_sent) {
  auto pair = sys::socket_pair();
  auto a = sys::make_pipe();
  auto b = sys::make_pipe();
  auto c = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && a.has_value() && b.has_value() && c.has_value()));
  const std::array<sys::borrowed_fd, 3> fds{a->second, b->second, c->second};
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("abc"), fds).value() == 3U);
  std::array<std::byte, 4> buffer{};
  auto got = sys::recv_with_fds(pair->second, buffer, 3);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST_REQUIRE(got->fds.size() == 3U);
  BOOST_TEST_REQUIRE(sys::write(got->fds[0], bytes("1")).value() == 1U);
  BOOST_TEST_REQUIRE(sys::write(got->fds[1], bytes("2")).value() == 1U);
  BOOST_TEST_REQUIRE(sys::write(got->fds[2], bytes("3")).value() == 1U);
  BOOST_TEST(read_char(a->first) == '1');
  BOOST_TEST(read_char(b->first) == '2');
  BOOST_TEST(read_char(c->first) == '3');
}

BOOST_AUTO_TEST_CASE(every_received_descriptor_is_close_on_exec) {
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::array<sys::borrowed_fd, 2> fds{pipe->first, pipe->second};
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("x"), fds).has_value());
  std::array<std::byte, 4> buffer{};
  auto got = sys::recv_with_fds(pair->second, buffer, 2);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST_REQUIRE(got->fds.size() == 2U);
  BOOST_TEST(is_close_on_exec(got->fds[0]));
  BOOST_TEST(is_close_on_exec(got->fds[1]));
}

BOOST_AUTO_TEST_CASE(receiver_allowing_more_than_sent_gets_exactly_what_was_sent) {
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::array<sys::borrowed_fd, 1> fds{pipe->second};
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("x"), fds).has_value());
  std::array<std::byte, 4> buffer{};
  auto got = sys::recv_with_fds(pair->second, buffer, 8);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST(got->fds.size() == 1U);
}

BOOST_AUTO_TEST_CASE(the_kernel_maximum_of_253_descriptors_travels_in_one_message) {
  auto pair = sys::socket_pair(sys::socket_kind::seqpacket);
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::vector<sys::borrowed_fd> fds(sys::max_fds_per_message, pipe->second.borrow());
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("many"), fds).value() == 4U);
  std::array<std::byte, 8> buffer{};
  auto got = sys::recv_with_fds(pair->second, buffer, sys::max_fds_per_message);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST(got->fds.size() == sys::max_fds_per_message);
  BOOST_TEST(sys::max_fds_per_message == 253U);
}

BOOST_AUTO_TEST_CASE(descriptors_travel_over_a_seqpacket_pair) {
  auto pair = sys::socket_pair(sys::socket_kind::seqpacket);
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::array<sys::borrowed_fd, 1> fds{pipe->second};
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("packet"), fds).value() == 6U);
  std::array<std::byte, 8> buffer{};
  auto got = sys::recv_with_fds(pair->second, buffer, 1);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST(text(buffer, got->bytes) == "packet");
  BOOST_TEST(got->fds.size() == 1U);
}

// --- what the sender rejects ---

BOOST_AUTO_TEST_CASE(sending_one_more_than_the_kernel_maximum_is_too_many_fds) {
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::vector<sys::borrowed_fd> fds(sys::max_fds_per_message + 1, pipe->second.borrow());
  const auto sent = sys::send_with_fds(pair->first, bytes("x"), fds);
  BOOST_TEST(error_of(sent) == make_error_code(sys::errc::too_many_fds));
}

BOOST_AUTO_TEST_CASE(descriptors_without_data_are_an_empty_message) {
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::array<sys::borrowed_fd, 1> fds{pipe->second};
  const auto sent = sys::send_with_fds(pair->first, {}, fds);
  BOOST_TEST(error_of(sent) == make_error_code(sys::errc::empty_message));
}

BOOST_AUTO_TEST_CASE(sending_a_closed_descriptor_returns_ebadf) {
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const sys::borrowed_fd closed{pipe->second.get()};
  pipe->second.reset();
  const std::array<sys::borrowed_fd, 1> fds{closed};
  BOOST_TEST(error_of(sys::send_with_fds(pair->first, bytes("x"), fds)) == os_error(EBADF));
}

BOOST_AUTO_TEST_CASE(sending_to_a_closed_peer_returns_epipe_without_sigpipe) {
  auto pair = sys::socket_pair();
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  pair->second.reset();
  // With SIGPIPE at its default disposition, a raised signal would kill the test process here.
  BOOST_TEST(error_of(sys::send_with_fds(pair->first, bytes("x"))) == os_error(EPIPE));
}

BOOST_AUTO_TEST_CASE(sending_on_a_closed_socket_returns_ebadf) {
  BOOST_TEST(error_of(sys::send_with_fds(sys::borrowed_fd{-1}, bytes("x"))) == os_error(EBADF));
}

// --- what the receiver rejects ---

BOOST_AUTO_TEST_CASE(allowing_more_than_the_kernel_maximum_is_too_many_fds) {
  auto pair = sys::socket_pair();
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  std::array<std::byte, 4> buffer{};
  const auto got = sys::recv_with_fds(pair->second, buffer, sys::max_fds_per_message + 1);
  BOOST_TEST(error_of(got) == make_error_code(sys::errc::too_many_fds));
}

BOOST_AUTO_TEST_CASE(three_descriptors_for_a_receiver_allowing_one_are_truncated_and_closed) {
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::array<sys::borrowed_fd, 3> fds{pipe->second, pipe->second, pipe->second};
  const auto before = vmm::testing::open_fd_count();
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("x"), fds).has_value());
  std::array<std::byte, 4> buffer{};
  const auto got = sys::recv_with_fds(pair->second, buffer, 1);
  BOOST_TEST(error_of(got) == make_error_code(sys::errc::fds_truncated));
  BOOST_TEST(vmm::testing::open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(descriptors_for_a_receiver_allowing_none_are_truncated_and_closed) {
  auto pair = sys::socket_pair();
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE((pair.has_value() && pipe.has_value()));
  const std::array<sys::borrowed_fd, 1> fds{pipe->second};
  const auto before = vmm::testing::open_fd_count();
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("x"), fds).has_value());
  std::array<std::byte, 4> buffer{};
  const auto got = sys::recv_with_fds(pair->second, buffer);
  BOOST_TEST(error_of(got) == make_error_code(sys::errc::fds_truncated));
  BOOST_TEST(vmm::testing::open_fd_count() == before);
}

BOOST_AUTO_TEST_CASE(seqpacket_larger_than_the_buffer_is_message_truncated) {
  auto pair = sys::socket_pair(sys::socket_kind::seqpacket);
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("eight by")).value() == 8U);
  std::array<std::byte, 4> small{};
  const auto got = sys::recv_with_fds(pair->second, small);
  BOOST_TEST(error_of(got) == make_error_code(sys::errc::message_truncated));
}

BOOST_AUTO_TEST_CASE(datagram_larger_than_the_buffer_is_message_truncated) {
  auto pair = sys::socket_pair(sys::socket_kind::datagram);
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("eight by")).value() == 8U);
  std::array<std::byte, 4> small{};
  const auto got = sys::recv_with_fds(pair->second, small);
  BOOST_TEST(error_of(got) == make_error_code(sys::errc::message_truncated));
}

BOOST_AUTO_TEST_CASE(stream_message_larger_than_the_buffer_is_read_in_parts) {
  auto pair = sys::socket_pair(sys::socket_kind::stream);
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->first, bytes("abcdefgh")).value() == 8U);
  std::array<std::byte, 4> small{};
  const auto head = sys::recv_with_fds(pair->second, small);
  BOOST_TEST_REQUIRE(head.has_value(), vmm::testing::describe(head));
  BOOST_TEST(text(small, head->bytes) == "abcd");
  const auto tail = sys::recv_with_fds(pair->second, small);
  BOOST_TEST_REQUIRE(tail.has_value(), vmm::testing::describe(tail));
  BOOST_TEST(text(small, tail->bytes) == "efgh");
}

BOOST_AUTO_TEST_CASE(receive_after_the_peer_closed_returns_zero_bytes) {
  auto pair = sys::socket_pair();
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  pair->first.reset();
  std::array<std::byte, 4> buffer{};
  const auto got = sys::recv_with_fds(pair->second, buffer, 1);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST(got->bytes == 0U);
  BOOST_TEST(got->fds.empty());
}

BOOST_AUTO_TEST_CASE(nonblocking_receive_with_nothing_queued_returns_eagain) {
  auto pair = sys::socket_pair();
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  BOOST_TEST_REQUIRE(sys::set_nonblocking(pair->second, true).has_value());
  std::array<std::byte, 4> buffer{};
  BOOST_TEST(error_of(sys::recv_with_fds(pair->second, buffer, 1)) == os_error(EAGAIN));
}

BOOST_AUTO_TEST_CASE(receiving_on_a_closed_socket_returns_ebadf) {
  std::array<std::byte, 4> buffer{};
  BOOST_TEST(error_of(sys::recv_with_fds(sys::borrowed_fd{-1}, buffer)) == os_error(EBADF));
}

// --- unix_listener and unix_connect ---

BOOST_AUTO_TEST_CASE(listener_accepts_a_connection_that_exchanges_data_and_descriptors) {
  const auto dir = make_socket_dir();
  const auto path = dir.path() / "vhost.sock";
  const auto listener = sys::unix_listener::bind(path);
  BOOST_TEST_REQUIRE(listener.has_value(), vmm::testing::describe(listener));
  const auto client = sys::unix_connect(path);
  BOOST_TEST_REQUIRE(client.has_value(), vmm::testing::describe(client));
  const auto server = listener->accept();
  BOOST_TEST_REQUIRE(server.has_value(), vmm::testing::describe(server));
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value(), vmm::testing::describe(pipe));
  const std::array<sys::borrowed_fd, 1> fds{pipe->second};
  BOOST_TEST_REQUIRE(sys::send_with_fds(*client, bytes("hello"), fds).value() == 5U);
  std::array<std::byte, 8> buffer{};
  auto got = sys::recv_with_fds(*server, buffer, 1);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST(text(buffer, got->bytes) == "hello");
  BOOST_TEST_REQUIRE(got->fds.size() == 1U);
  BOOST_TEST_REQUIRE(sys::write(got->fds[0], bytes("w")).value() == 1U);
  BOOST_TEST(read_char(pipe->first) == 'w');
}

BOOST_AUTO_TEST_CASE(listener_reports_its_path_and_creates_a_socket_file_there) {
  const auto dir = make_socket_dir();
  const auto path = dir.path() / "api.sock";
  const auto listener = sys::unix_listener::bind(path);
  BOOST_TEST_REQUIRE(listener.has_value(), vmm::testing::describe(listener));
  BOOST_TEST(listener->path() == path);
  BOOST_TEST(fs::is_socket(path));
}

BOOST_AUTO_TEST_CASE(listener_connected_and_accepted_sockets_are_close_on_exec) {
  const auto dir = make_socket_dir();
  const auto path = dir.path() / "s";
  const auto listener = sys::unix_listener::bind(path);
  BOOST_TEST_REQUIRE(listener.has_value(), vmm::testing::describe(listener));
  const auto client = sys::unix_connect(path);
  BOOST_TEST_REQUIRE(client.has_value(), vmm::testing::describe(client));
  const auto server = listener->accept();
  BOOST_TEST_REQUIRE(server.has_value(), vmm::testing::describe(server));
  BOOST_TEST(is_close_on_exec(listener->fd()));
  BOOST_TEST(is_close_on_exec(*client));
  BOOST_TEST(is_close_on_exec(*server));
}

BOOST_AUTO_TEST_CASE(seqpacket_listener_keeps_message_boundaries) {
  const auto dir = make_socket_dir();
  const auto path = dir.path() / "seq.sock";
  const auto listener = sys::unix_listener::bind(path, sys::socket_kind::seqpacket);
  BOOST_TEST_REQUIRE(listener.has_value(), vmm::testing::describe(listener));
  const auto client = sys::unix_connect(path, sys::socket_kind::seqpacket);
  BOOST_TEST_REQUIRE(client.has_value(), vmm::testing::describe(client));
  const auto server = listener->accept();
  BOOST_TEST_REQUIRE(server.has_value(), vmm::testing::describe(server));
  BOOST_TEST(socket_type(*server) == SOCK_SEQPACKET);
  BOOST_TEST_REQUIRE(sys::send_with_fds(*client, bytes("one")).has_value());
  BOOST_TEST_REQUIRE(sys::send_with_fds(*client, bytes("two")).has_value());
  std::array<std::byte, 16> buffer{};
  const auto got = sys::recv_with_fds(*server, buffer);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST(text(buffer, got->bytes) == "one");
}

BOOST_AUTO_TEST_CASE(datagram_listener_receives_without_accept) {
  const auto dir = make_socket_dir();
  const auto path = dir.path() / "dgram.sock";
  const auto listener = sys::unix_listener::bind(path, sys::socket_kind::datagram);
  BOOST_TEST_REQUIRE(listener.has_value(), vmm::testing::describe(listener));
  const auto client = sys::unix_connect(path, sys::socket_kind::datagram);
  BOOST_TEST_REQUIRE(client.has_value(), vmm::testing::describe(client));
  BOOST_TEST_REQUIRE(sys::send_with_fds(*client, bytes("dgram")).value() == 5U);
  std::array<std::byte, 16> buffer{};
  const auto got = sys::recv_with_fds(listener->fd(), buffer);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST(text(buffer, got->bytes) == "dgram");
}

BOOST_AUTO_TEST_CASE(listener_unlinks_its_path_on_destruction) {
  const auto dir = make_socket_dir();
  const auto path = dir.path() / "gone.sock";
  {
    const auto listener = sys::unix_listener::bind(path);
    BOOST_TEST_REQUIRE(listener.has_value(), vmm::testing::describe(listener));
    BOOST_TEST_REQUIRE(fs::exists(path));
  }
  BOOST_TEST(!fs::exists(path));
}

BOOST_AUTO_TEST_CASE(path_can_be_bound_again_after_the_listener_is_gone) {
  const auto dir = make_socket_dir();
  const auto path = dir.path() / "again.sock";
  {
    const auto first = sys::unix_listener::bind(path);
    BOOST_TEST_REQUIRE(first.has_value(), vmm::testing::describe(first));
  }
  const auto second = sys::unix_listener::bind(path);
  BOOST_TEST(second.has_value(), vmm::testing::describe(second));
}

BOOST_AUTO_TEST_CASE(nonblocking_accept_with_no_pending_connection_returns_eagain) {
  const auto dir = make_socket_dir();
  const auto listener = sys::unix_listener::bind(dir.path() / "idle.sock");
  BOOST_TEST_REQUIRE(listener.has_value(), vmm::testing::describe(listener));
  BOOST_TEST_REQUIRE(sys::set_nonblocking(listener->fd(), true).has_value());
  BOOST_TEST(error_of(listener->accept()) == os_error(EAGAIN));
}

BOOST_AUTO_TEST_CASE(binding_a_path_in_use_returns_eaddrinuse) {
  const auto dir = make_socket_dir();
  const auto path = dir.path() / "taken.sock";
  const auto first = sys::unix_listener::bind(path);
  BOOST_TEST_REQUIRE(first.has_value(), vmm::testing::describe(first));
  const auto second = sys::unix_listener::bind(path);
  BOOST_TEST(error_of(second) == os_error(EADDRINUSE));
}

BOOST_AUTO_TEST_CASE(failed_bind_leaves_the_existing_listener_reachable) {
  const auto dir = make_socket_dir();
  const auto path = dir.path() / "taken.sock";
  const auto first = sys::unix_listener::bind(path);
  BOOST_TEST_REQUIRE(first.has_value(), vmm::testing::describe(first));
  BOOST_TEST_REQUIRE(!sys::unix_listener::bind(path).has_value());
  const auto client = sys::unix_connect(path);
  BOOST_TEST(client.has_value(), vmm::testing::describe(client));
}

BOOST_AUTO_TEST_CASE(binding_over_a_regular_file_returns_eaddrinuse_and_keeps_the_file) {
  const auto dir = make_socket_dir();
  const auto path = dir.path() / "plain.txt";
  std::ofstream{path} << "not a socket";
  const auto listener = sys::unix_listener::bind(path);
  BOOST_TEST(error_of(listener) == os_error(EADDRINUSE));
  BOOST_TEST(fs::is_regular_file(path));
}

BOOST_AUTO_TEST_CASE(path_of_107_bytes_fits) {
  const auto dir = make_socket_dir();
  const auto path = path_of_length(dir.path(), sun_path_size - 1);
  const auto listener = sys::unix_listener::bind(path);
  BOOST_TEST_REQUIRE(listener.has_value(), vmm::testing::describe(listener));
  const auto client = sys::unix_connect(path);
  BOOST_TEST(client.has_value(), vmm::testing::describe(client));
}

BOOST_AUTO_TEST_CASE(path_of_108_bytes_is_path_too_long) {
  const auto dir = make_socket_dir();
  const auto path = path_of_length(dir.path(), sun_path_size);
  BOOST_TEST(error_of(sys::unix_listener::bind(path)) == make_error_code(sys::errc::path_too_long));
  BOOST_TEST(error_of(sys::unix_connect(path)) == make_error_code(sys::errc::path_too_long));
  BOOST_TEST(!fs::exists(path));
}

BOOST_AUTO_TEST_CASE(empty_path_is_path_too_long) {
  BOOST_TEST(error_of(sys::unix_listener::bind(fs::path{})) == make_error_code(sys::errc::path_too_long));
  BOOST_TEST(error_of(sys::unix_connect(fs::path{})) == make_error_code(sys::errc::path_too_long));
}

BOOST_AUTO_TEST_CASE(binding_in_a_missing_directory_returns_enoent) {
  const auto dir = make_socket_dir();
  const auto listener = sys::unix_listener::bind(dir.path() / "missing" / "s.sock");
  BOOST_TEST(error_of(listener) == os_error(ENOENT));
}

BOOST_AUTO_TEST_CASE(connecting_to_a_missing_path_returns_enoent) {
  const auto dir = make_socket_dir();
  BOOST_TEST(error_of(sys::unix_connect(dir.path() / "nobody.sock")) == os_error(ENOENT));
}

BOOST_AUTO_TEST_CASE(connecting_to_a_path_nobody_listens_on_returns_econnrefused) {
  const auto dir = make_socket_dir();
  const auto path = dir.path() / "plain.txt";
  std::ofstream{path} << "not a socket";
  BOOST_TEST(error_of(sys::unix_connect(path)) == os_error(ECONNREFUSED));
}

BOOST_AUTO_TEST_CASE(moved_listener_keeps_the_path_until_the_new_owner_dies) {
  const auto dir = make_socket_dir();
  const auto path = dir.path() / "moved.sock";
  std::optional<sys::unix_listener> owner;
  {
    auto original = sys::unix_listener::bind(path);
    BOOST_TEST_REQUIRE(original.has_value(), vmm::testing::describe(original));
    owner.emplace(std::move(*original));
  }  // the moved-from listener is destroyed here
  BOOST_TEST(fs::exists(path));
  BOOST_TEST(owner->path() == path);
  const auto client = sys::unix_connect(path);
  BOOST_TEST(client.has_value(), vmm::testing::describe(client));
  owner.reset();
  BOOST_TEST(!fs::exists(path));
}

BOOST_AUTO_TEST_CASE(move_assignment_unlinks_the_path_the_target_owned) {
  const auto dir = make_socket_dir();
  const auto old_path = dir.path() / "old.sock";
  const auto new_path = dir.path() / "new.sock";
  auto target = sys::unix_listener::bind(old_path);
  auto source = sys::unix_listener::bind(new_path);
  BOOST_TEST_REQUIRE((target.has_value() && source.has_value()));
  *target = std::move(*source);
  BOOST_TEST(!fs::exists(old_path));
  BOOST_TEST(fs::exists(new_path));
  BOOST_TEST(target->path() == new_path);
}

BOOST_AUTO_TEST_CASE(receiving_into_an_empty_buffer_is_an_empty_message) {
  auto pair = sys::socket_pair();
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  // A 0-byte result must only ever mean "the peer closed", so an empty buffer is refused up front.
  BOOST_TEST(error_of(sys::recv_with_fds(pair->first, {})) == make_error_code(sys::errc::empty_message));
}

// --- unix_connect_nonblocking and shutdown_socket (vmm.virtio.vsock's host side) ---

BOOST_AUTO_TEST_CASE(nonblocking_connect_reaches_the_listener_with_a_non_blocking_descriptor) {
  const auto dir = make_socket_dir();
  const auto path = dir.path() / "vsock.sock_52";
  const auto listener = sys::unix_listener::bind(path);
  BOOST_TEST_REQUIRE(listener.has_value(), vmm::testing::describe(listener));
  const auto client = sys::unix_connect_nonblocking(path);
  BOOST_TEST_REQUIRE(client.has_value(), vmm::testing::describe(client));
  BOOST_TEST((::fcntl(client->get(), F_GETFL) & O_NONBLOCK) != 0);
  BOOST_TEST(is_close_on_exec(client->borrow()));
  const auto server = listener->accept();
  BOOST_TEST_REQUIRE(server.has_value(), vmm::testing::describe(server));
  BOOST_TEST_REQUIRE(sys::send_with_fds(*client, bytes("ping")).value() == 4U);
  std::array<std::byte, 8> buffer{};
  auto got = sys::recv_with_fds(*server, buffer, 0);
  BOOST_TEST_REQUIRE(got.has_value(), vmm::testing::describe(got));
  BOOST_TEST(text(buffer, got->bytes) == "ping");
}

BOOST_AUTO_TEST_CASE(nonblocking_connect_to_a_path_nobody_listens_on_returns_enoent) {
  const auto dir = make_socket_dir();
  const auto client = sys::unix_connect_nonblocking(dir.path() / "absent.sock");
  BOOST_TEST(error_of(client) == os_error(ENOENT));
}

BOOST_AUTO_TEST_CASE(shutdown_for_writing_lets_the_peer_read_end_of_stream_and_still_receive) {
  auto pair = sys::socket_pair(sys::socket_kind::stream);
  BOOST_TEST_REQUIRE(pair.has_value(), vmm::testing::describe(pair));
  BOOST_TEST_REQUIRE(sys::shutdown_socket(pair->first, sys::shutdown_direction::write).has_value());
  std::array<std::byte, 4> buffer{};
  auto eof = sys::recv_with_fds(pair->second, buffer, 0);
  BOOST_TEST_REQUIRE(eof.has_value(), vmm::testing::describe(eof));
  BOOST_TEST(eof->bytes == 0U);
  BOOST_TEST_REQUIRE(sys::send_with_fds(pair->second, bytes("back")).value() == 4U);
  auto back = sys::recv_with_fds(pair->first, buffer, 0);
  BOOST_TEST_REQUIRE(back.has_value(), vmm::testing::describe(back));
  BOOST_TEST(text(buffer, back->bytes) == "back");
}

BOOST_AUTO_TEST_CASE(shutdown_of_a_descriptor_that_is_not_a_socket_returns_enotsock) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value(), vmm::testing::describe(pipe));
  BOOST_TEST(error_of(sys::shutdown_socket(pipe->first, sys::shutdown_direction::both)) == os_error(ENOTSOCK));
}

BOOST_AUTO_TEST_SUITE_END()
