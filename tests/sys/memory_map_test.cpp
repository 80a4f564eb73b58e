// mapping (anonymous, fd, reservations with fixed sub-mappings, protect, advise), memfd and seals, truncate, status,
// and the vectored I/O calls.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

import std;
import vmm.sys;
import vmm.testing;

namespace sys = vmm::sys;
using vmm::testing::error_of;
using vmm::testing::os_error;

namespace {

// Two pages: enough to map a sub-range that is neither the first nor the whole.
auto two_pages() -> std::size_t {
  return 2 * sys::page_size();
}

// Whether running `touch` in a forked child kills it with SIGSEGV. The child restores SIGSEGV's default action
// first: Boost.Test's handler, inherited through fork, would otherwise catch the fault.
auto faults(const std::function<void()>& touch) -> bool {
  const int status = vmm::testing::wait_status_of_child([&touch] {
    static_cast<void>(std::signal(SIGSEGV, SIG_DFL));
    touch();
  });
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

auto memfd_of_size(std::uint64_t size) -> sys::unique_fd {
  auto fd = sys::create_memfd("memory-map-test");
  BOOST_TEST_REQUIRE(fd.has_value(), vmm::testing::describe(fd));
  BOOST_TEST_REQUIRE(sys::truncate(*fd, size).has_value());
  return std::move(*fd);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sys_memory_map)

BOOST_AUTO_TEST_CASE(page_size_is_a_power_of_two_of_at_least_4_kib) {
  BOOST_TEST(std::has_single_bit(sys::page_size()));
  BOOST_TEST(sys::page_size() >= 4096U);
}

BOOST_AUTO_TEST_CASE(anonymous_mapping_is_zeroed_writable_and_rounded_to_pages) {
  auto m = sys::mapping::anonymous(100, {});
  BOOST_TEST_REQUIRE(m.has_value(), vmm::testing::describe(m));
  BOOST_TEST(m->size() == sys::page_size());
  BOOST_TEST(!m->empty());
  BOOST_TEST(std::to_integer<int>(m->data()[0]) == 0);
  m->data()[99] = std::byte{7};
  BOOST_TEST(std::to_integer<int>(m->data()[99]) == 7);
}

BOOST_AUTO_TEST_CASE(zero_size_mapping_is_einval) {
  BOOST_TEST(error_of(sys::mapping::anonymous(0, {})) == os_error(EINVAL));
  BOOST_TEST(error_of(sys::mapping::reserve(0)) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(huge_page_size_that_is_not_a_power_of_two_is_einval) {
  BOOST_TEST(error_of(sys::mapping::anonymous(sys::page_size(), {.huge_page_size = 3U << 20U})) == os_error(EINVAL));
  BOOST_TEST(error_of(sys::create_memfd("x", {.huge_page_size = 3U << 20U})) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(populated_noreserve_mapping_is_usable) {
  auto m = sys::mapping::anonymous(
      two_pages(),
      {.prot = sys::protection::read_write, .shared = false, .noreserve = true, .populate = true, .huge_page_size = 0});
  BOOST_TEST_REQUIRE(m.has_value());
  m->data()[two_pages() - 1] = std::byte{1};
  BOOST_TEST(std::to_integer<int>(m->data()[two_pages() - 1]) == 1);
}

BOOST_AUTO_TEST_CASE(move_transfers_the_range_and_empties_the_source) {
  auto m = sys::mapping::anonymous(sys::page_size(), {});
  BOOST_TEST_REQUIRE(m.has_value());
  std::byte* data = m->data();
  sys::mapping moved = std::move(*m);
  BOOST_TEST(moved.data() == data);
  BOOST_TEST(m->data() == nullptr);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  BOOST_TEST(m->size() == 0U);       // NOLINT(bugprone-use-after-move)
  sys::mapping assigned;
  assigned = std::move(moved);
  BOOST_TEST(assigned.data() == data);
  assigned = sys::mapping{};
  BOOST_TEST(assigned.empty());
}

BOOST_AUTO_TEST_CASE(reset_empties_the_mapping) {
  // Whether the old range faults afterwards is not checked: any later mmap (ASan's allocator, for one) may reuse it.
  auto m = sys::mapping::anonymous(sys::page_size(), {});
  BOOST_TEST_REQUIRE(m.has_value());
  m->reset();
  BOOST_TEST(m->empty());
  BOOST_TEST(m->data() == nullptr);
  m->reset();  // a second reset is a no-op
  BOOST_TEST(m->empty());
}

BOOST_AUTO_TEST_CASE(reservation_faults_until_a_part_is_mapped_into_it) {
  auto r = sys::mapping::reserve(3 * sys::page_size());
  BOOST_TEST_REQUIRE(r.has_value());
  std::byte* first = r->data();
  std::byte* middle = r->data() + sys::page_size();
  BOOST_TEST(faults([middle] { *static_cast<volatile std::byte*>(middle) = std::byte{1}; }));
  BOOST_TEST_REQUIRE(r->map_anonymous_at(sys::page_size(), sys::page_size(), {}).has_value());
  middle[0] = std::byte{5};
  BOOST_TEST(std::to_integer<int>(middle[0]) == 5);
  BOOST_TEST(faults([first] { *static_cast<volatile std::byte*>(first) = std::byte{1}; }));
}

BOOST_AUTO_TEST_CASE(fixed_mapping_outside_or_misaligned_in_the_reservation_is_einval) {
  auto r = sys::mapping::reserve(two_pages());
  BOOST_TEST_REQUIRE(r.has_value());
  const auto page = sys::page_size();
  BOOST_TEST(error_of(r->map_anonymous_at(page, two_pages(), {})) == os_error(EINVAL));  // runs past the end
  BOOST_TEST(error_of(r->map_anonymous_at(1, page, {})) == os_error(EINVAL));            // misaligned offset
  BOOST_TEST(error_of(r->map_anonymous_at(0, 1, {})) == os_error(EINVAL));               // not whole pages
  BOOST_TEST(error_of(r->map_anonymous_at(0, 0, {})) == os_error(EINVAL));               // empty
  BOOST_TEST(error_of(r->map_anonymous_at(3 * page, page, {})) == os_error(EINVAL));     // beyond
  BOOST_TEST(error_of(r->map_anonymous_at(0, page, {.huge_page_size = 12345})) == os_error(EINVAL));
  const auto fd = memfd_of_size(page);
  BOOST_TEST(error_of(r->map_fd_at(page, two_pages(), fd, 0, {.shared = true})) == os_error(EINVAL));
  BOOST_TEST(error_of(r->map_fd_at(0, page, fd, 1, {.shared = true})) == os_error(EINVAL));
  BOOST_TEST(error_of(r->map_fd_at(0, page, fd, 0, {.shared = true, .huge_page_size = 1U << 21U})) == os_error(EINVAL));
  BOOST_TEST(error_of(r->protect(page, two_pages(), sys::protection::read)) == os_error(EINVAL));
  BOOST_TEST(error_of(r->advise(page, two_pages(), sys::advice::normal)) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(fd_mapped_into_a_reservation_shares_the_file) {
  const auto page = sys::page_size();
  const auto fd = memfd_of_size(page);
  auto r = sys::mapping::reserve(3 * page);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST_REQUIRE(r->map_fd_at(page, page, fd, 0, {.shared = true}).has_value());
  auto other = sys::mapping::of_fd(fd, page, 0, {.shared = true});
  BOOST_TEST_REQUIRE(other.has_value());
  r->data()[page + 10] = std::byte{42};
  BOOST_TEST(std::to_integer<int>(other->data()[10]) == 42);
}

BOOST_AUTO_TEST_CASE(fd_mapping_with_a_bad_offset_or_size_is_einval) {
  const auto fd = memfd_of_size(sys::page_size());
  BOOST_TEST(error_of(sys::mapping::of_fd(fd, 0, 0, {.shared = true})) == os_error(EINVAL));
  BOOST_TEST(error_of(sys::mapping::of_fd(fd, sys::page_size(), 1, {.shared = true})) == os_error(EINVAL));
  BOOST_TEST(error_of(sys::mapping::of_fd(fd, sys::page_size(), 0, {.shared = true, .huge_page_size = 1U << 21U})) ==
             os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(mapping_a_closed_fd_is_ebadf) {
  BOOST_TEST(error_of(sys::mapping::of_fd(sys::borrowed_fd{-1}, sys::page_size(), 0, {.shared = true})) ==
             os_error(EBADF));
}

BOOST_AUTO_TEST_CASE(writable_shared_mapping_of_a_read_only_fd_is_eacces) {
  auto file = sys::temp_file::create();
  BOOST_TEST_REQUIRE(file.has_value());
  BOOST_TEST_REQUIRE(sys::truncate(file->fd(), sys::page_size()).has_value());
  const sys::unique_fd read_only{::open(file->path().c_str(), O_RDONLY | O_CLOEXEC)};
  BOOST_TEST_REQUIRE(read_only.valid());
  BOOST_TEST(error_of(sys::mapping::of_fd(read_only, sys::page_size(), 0, {.shared = true})) == os_error(EACCES));
  auto readable = sys::mapping::of_fd(read_only, sys::page_size(), 0, {.prot = sys::protection::read, .shared = true});
  BOOST_TEST(readable.has_value(), vmm::testing::describe(readable));
}

BOOST_AUTO_TEST_CASE(protect_none_makes_a_page_fault_and_read_write_restores_it) {
  auto m = sys::mapping::anonymous(two_pages(), {});
  BOOST_TEST_REQUIRE(m.has_value());
  std::byte* second = m->data() + sys::page_size();
  BOOST_TEST_REQUIRE(m->protect(sys::page_size(), sys::page_size(), sys::protection::none).has_value());
  BOOST_TEST(faults([second] { static_cast<void>(*static_cast<volatile std::byte*>(second)); }));
  BOOST_TEST_REQUIRE(m->protect(sys::page_size(), sys::page_size(), sys::protection::read).has_value());
  BOOST_TEST(faults([second] { *static_cast<volatile std::byte*>(second) = std::byte{1}; }));
  BOOST_TEST(std::to_integer<int>(second[0]) == 0);
  BOOST_TEST_REQUIRE(m->protect(sys::page_size(), sys::page_size(), sys::protection::read_write).has_value());
  second[0] = std::byte{3};
  BOOST_TEST(std::to_integer<int>(second[0]) == 3);
}

BOOST_AUTO_TEST_CASE(dont_need_drops_anonymous_contents) {
  auto m = sys::mapping::anonymous(sys::page_size(), {});
  BOOST_TEST_REQUIRE(m.has_value());
  m->data()[0] = std::byte{9};
  BOOST_TEST_REQUIRE(m->advise(0, sys::page_size(), sys::advice::dont_need).has_value());
  BOOST_TEST(std::to_integer<int>(m->data()[0]) == 0);
}

BOOST_AUTO_TEST_CASE(every_advice_is_accepted_for_anonymous_memory) {
  auto m = sys::mapping::anonymous(two_pages(), {});
  BOOST_TEST_REQUIRE(m.has_value());
  for (const auto what : {sys::advice::normal, sys::advice::hugepage, sys::advice::no_hugepage, sys::advice::dont_dump,
                          sys::advice::dont_fork}) {
    const auto r = m->advise(0, two_pages(), what);
    // MADV_HUGEPAGE is EINVAL on a kernel built without transparent huge pages; every other advice must work.
    BOOST_TEST((r.has_value() || (what == sys::advice::hugepage && error_of(r) == os_error(EINVAL))),
               vmm::testing::describe(r));
  }
}

BOOST_AUTO_TEST_CASE(memfd_is_close_on_exec_and_sealed_size_cannot_change) {
  auto fd = memfd_of_size(sys::page_size());
  BOOST_TEST(vmm::testing::is_close_on_exec(fd));
  BOOST_TEST_REQUIRE(sys::seal_size(fd).has_value());
  BOOST_TEST(error_of(sys::truncate(fd, 0)) == os_error(EPERM));
  BOOST_TEST(error_of(sys::truncate(fd, 2 * sys::page_size())) == os_error(EPERM));
  const auto st = sys::status(fd);
  BOOST_TEST_REQUIRE(st.has_value());
  BOOST_TEST(st->size == sys::page_size());
  BOOST_TEST(st->regular);
  BOOST_TEST(!st->block_device);
}

BOOST_AUTO_TEST_CASE(memfd_without_sealing_cannot_be_sealed) {
  auto fd = sys::create_memfd("no-seals", {.allow_sealing = false, .huge_page_size = 0});
  BOOST_TEST_REQUIRE(fd.has_value());
  BOOST_TEST(error_of(sys::seal_size(*fd)) == os_error(EPERM));
}

BOOST_AUTO_TEST_CASE(memfd_name_with_nul_is_invalid_name) {
  using namespace std::string_view_literals;
  BOOST_TEST(error_of(sys::create_memfd("a\0b"sv)) == make_error_code(sys::errc::invalid_name));
}

BOOST_AUTO_TEST_CASE(seal_and_status_of_a_closed_fd_are_ebadf) {
  BOOST_TEST(error_of(sys::seal_size(sys::borrowed_fd{-1})) == os_error(EBADF));
  BOOST_TEST(error_of(sys::status(sys::borrowed_fd{-1})) == os_error(EBADF));
  BOOST_TEST(error_of(sys::truncate(sys::borrowed_fd{-1}, 0)) == os_error(EBADF));
}

BOOST_AUTO_TEST_CASE(truncate_beyond_off_t_is_efbig) {
  const auto fd = memfd_of_size(0);
  BOOST_TEST(error_of(sys::truncate(fd, std::numeric_limits<std::uint64_t>::max())) == os_error(EFBIG));
}

BOOST_AUTO_TEST_CASE(status_of_a_pipe_is_not_regular) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  const auto st = sys::status(pipe->first);
  BOOST_TEST_REQUIRE(st.has_value());
  BOOST_TEST(!st->regular);
}

BOOST_AUTO_TEST_CASE(readv_and_writev_move_bytes_through_several_buffers_in_order) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  std::array<char, 3> a{'a', 'b', 'c'};
  std::array<char, 2> b{'d', 'e'};
  const std::array<sys::io_buffer, 2> out{
      {{.base = a.data(), .length = a.size()}, {.base = b.data(), .length = b.size()}}};
  BOOST_TEST(sys::writev(pipe->second, out).value_or(0) == 5U);
  std::array<char, 2> c{};
  std::array<char, 3> d{};
  const std::array<sys::io_buffer, 2> in{
      {{.base = c.data(), .length = c.size()}, {.base = d.data(), .length = d.size()}}};
  BOOST_TEST(sys::readv(pipe->first, in).value_or(0) == 5U);
  BOOST_TEST((std::string{c.data(), c.size()} + std::string{d.data(), d.size()}) == "abcde");
}

BOOST_AUTO_TEST_CASE(preadv_and_pwritev_use_the_offset_and_leave_the_position) {
  auto file = sys::temp_file::create();
  BOOST_TEST_REQUIRE(file.has_value());
  std::array<char, 4> word{'w', 'x', 'y', 'z'};
  const std::array<sys::io_buffer, 1> out{{{.base = word.data(), .length = word.size()}}};
  BOOST_TEST(sys::pwritev(file->fd(), out, 100).value_or(0) == 4U);
  BOOST_TEST(::lseek(file->fd().get(), 0, SEEK_CUR) == 0);
  std::array<char, 4> back{};
  const std::array<sys::io_buffer, 1> in{{{.base = back.data(), .length = back.size()}}};
  BOOST_TEST(sys::preadv(file->fd(), in, 100).value_or(0) == 4U);
  BOOST_TEST((back == word));
}

BOOST_AUTO_TEST_CASE(vectored_io_with_too_many_buffers_or_offset_beyond_off_t_is_einval) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  std::vector<sys::io_buffer> many(sys::max_io_buffers + 1);
  BOOST_TEST(error_of(sys::readv(pipe->first, many)) == os_error(EINVAL));
  BOOST_TEST(error_of(sys::writev(pipe->second, many)) == os_error(EINVAL));
  BOOST_TEST(error_of(sys::preadv(pipe->first, many, 0)) == os_error(EINVAL));
  BOOST_TEST(error_of(sys::pwritev(pipe->second, many, 0)) == os_error(EINVAL));
  const std::array<sys::io_buffer, 1> one{};
  constexpr auto beyond = std::numeric_limits<std::uint64_t>::max();
  BOOST_TEST(error_of(sys::preadv(pipe->first, one, beyond)) == os_error(EINVAL));
  BOOST_TEST(error_of(sys::pwritev(pipe->second, one, beyond)) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(vectored_io_on_a_closed_fd_is_ebadf) {
  const std::array<sys::io_buffer, 1> one{};
  BOOST_TEST(error_of(sys::readv(sys::borrowed_fd{-1}, one)) == os_error(EBADF));
  BOOST_TEST(error_of(sys::writev(sys::borrowed_fd{-1}, one)) == os_error(EBADF));
}

BOOST_AUTO_TEST_CASE(preadv_on_a_pipe_is_espipe) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value());
  std::array<char, 1> c{};
  const std::array<sys::io_buffer, 1> one{{{.base = c.data(), .length = 1}}};
  BOOST_TEST(error_of(sys::preadv(pipe->first, one, 0)) == os_error(ESPIPE));
  BOOST_TEST(error_of(sys::pwritev(pipe->second, one, 0)) == os_error(ESPIPE));
}

BOOST_AUTO_TEST_SUITE_END()
