// ioctl request numbers computed at compile time, and the checked ioctl calls on pipes, pseudo-terminals and KVM.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

import std;
import vmm.sys;
import vmm.testing;

using vmm::testing::os_error;
namespace sys = vmm::sys;
using vmm::testing::bytes;
using vmm::testing::error_of;
using vmm::testing::open_kvm;
using vmm::testing::open_pseudo_terminal;

// The helpers must compute exactly what the kernel's _IO/_IOR/_IOW/_IOWR macros compute. These are compile-time
// checks; the test cases below repeat a few at run time so a report lists them.
static_assert(sys::io(KVMIO, 0x00) == KVM_GET_API_VERSION);
static_assert(sys::io(KVMIO, 0x03) == KVM_CHECK_EXTENSION);
static_assert(sys::io(KVMIO, 0x41) == KVM_CREATE_VCPU);
static_assert(sys::ior<kvm_regs>(KVMIO, 0x81) == KVM_GET_REGS);
static_assert(sys::iow<kvm_sregs>(KVMIO, 0x84) == KVM_SET_SREGS);
static_assert(sys::iow<kvm_irqfd>(KVMIO, 0x76) == KVM_IRQFD);
static_assert(sys::iowr<kvm_cpuid2>(KVMIO, 0x05) == KVM_GET_SUPPORTED_CPUID);
static_assert(sys::ior<unsigned int>('T', 0x30) == TIOCGPTN);
static_assert(sys::iow<int>('T', 0x31) == TIOCSPTLCK);
static_assert(sys::ior<long>('f', 1) == FS_IOC_GETFLAGS);
static_assert(sys::iow<long>('f', 2) == FS_IOC_SETFLAGS);

namespace {

// The API version every KVM since Linux 2.6.22 reports (KVM_API_VERSION in <linux/kvm.h>).
constexpr int kvm_api_version = 12;

}  // namespace

BOOST_AUTO_TEST_SUITE(sys_ioctl)

// --- request numbers ---

BOOST_AUTO_TEST_CASE(io_matches_the_kernel_macro_for_requests_without_argument) {
  constexpr unsigned long get_api_version = sys::io(KVMIO, 0x00);
  constexpr unsigned long create_vcpu = sys::io(KVMIO, 0x41);
  BOOST_TEST(get_api_version == KVM_GET_API_VERSION);
  BOOST_TEST(create_vcpu == KVM_CREATE_VCPU);
}

BOOST_AUTO_TEST_CASE(ior_matches_the_kernel_macro_for_read_requests) {
  constexpr unsigned long get_regs = sys::ior<kvm_regs>(KVMIO, 0x81);
  constexpr unsigned long get_pty_number = sys::ior<unsigned int>('T', 0x30);
  constexpr unsigned long get_flags = sys::ior<long>('f', 1);
  BOOST_TEST(get_regs == KVM_GET_REGS);
  BOOST_TEST(get_pty_number == TIOCGPTN);
  BOOST_TEST(get_flags == FS_IOC_GETFLAGS);
}

BOOST_AUTO_TEST_CASE(iow_matches_the_kernel_macro_for_write_requests) {
  constexpr unsigned long set_sregs = sys::iow<kvm_sregs>(KVMIO, 0x84);
  constexpr unsigned long irqfd = sys::iow<kvm_irqfd>(KVMIO, 0x76);
  BOOST_TEST(set_sregs == KVM_SET_SREGS);
  BOOST_TEST(irqfd == KVM_IRQFD);
}

BOOST_AUTO_TEST_CASE(iowr_matches_the_kernel_macro_for_read_write_requests) {
  constexpr unsigned long get_supported_cpuid = sys::iowr<kvm_cpuid2>(KVMIO, 0x05);
  BOOST_TEST(get_supported_cpuid == KVM_GET_SUPPORTED_CPUID);
}

BOOST_AUTO_TEST_CASE(ioctl_request_places_each_field_at_its_bit_position) {
  // direction 1 at bit 30, size 0x56 at bit 16, type 0x12 at bit 8, number 0x34 at bit 0.
  constexpr unsigned long request = sys::ioctl_request(sys::ioctl_dir::write, 0x12, 0x34, 0x56);
  BOOST_TEST(request == 0x4056'1234UL);
}

BOOST_AUTO_TEST_CASE(ioctl_request_fields_at_their_maximum_fill_exactly_32_bits) {
  // 2 direction bits, 14 size bits, 8 type bits and 8 number bits, all set: no overlap and nothing beyond bit 31.
  constexpr unsigned long request = sys::ioctl_request(sys::ioctl_dir::read_write, 0xff, 0xff, 0x3fff);
  BOOST_TEST(request == 0xffff'ffffUL);
}

BOOST_AUTO_TEST_CASE(direction_values_match_the_kernel_encoding) {
  BOOST_TEST(std::to_underlying(sys::ioctl_dir::none) == _IOC_NONE);
  BOOST_TEST(std::to_underlying(sys::ioctl_dir::write) == _IOC_WRITE);
  BOOST_TEST(std::to_underlying(sys::ioctl_dir::read) == _IOC_READ);
  BOOST_TEST(std::to_underlying(sys::ioctl_dir::read_write) == (_IOC_READ | _IOC_WRITE));
}

// --- calls that succeed ---

BOOST_AUTO_TEST_CASE(fionread_on_a_pipe_reports_the_unread_bytes) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value(), vmm::testing::describe(pipe));
  BOOST_TEST_REQUIRE(sys::write(pipe->second, bytes("abc")).value() == 3U);
  int unread = -1;
  const auto r = sys::ioctl_with_mut_ref(pipe->first, FIONREAD, unread);
  BOOST_TEST_REQUIRE(r.has_value(), vmm::testing::describe(r));
  BOOST_TEST(*r == 0);
  BOOST_TEST(unread == 3);
}

BOOST_AUTO_TEST_CASE(tiocgptn_on_a_pty_master_reports_the_slave_number) {
  auto pty = open_pseudo_terminal();
  BOOST_TEST_REQUIRE(pty.has_value(), vmm::testing::describe(pty));
  unsigned int number = std::numeric_limits<unsigned int>::max();
  const auto r = sys::ioctl_with_mut_ref(pty->master, TIOCGPTN, number);
  BOOST_TEST_REQUIRE(r.has_value(), vmm::testing::describe(r));
  // The slave, seen through /proc, is /dev/pts/<the number the kernel reported>.
  const auto slave_path = std::filesystem::read_symlink(std::format("/proc/self/fd/{}", pty->slave.get()));
  BOOST_TEST(std::format("/dev/pts/{}", number) == slave_path.string());
}

BOOST_AUTO_TEST_CASE(window_size_set_by_reference_reads_back_by_mutable_reference) {
  auto pty = open_pseudo_terminal();
  BOOST_TEST_REQUIRE(pty.has_value(), vmm::testing::describe(pty));
  // 37 x 101: sizes no terminal starts with, so reading them back proves both calls reached the kernel.
  const ::winsize wanted{.ws_row = 37, .ws_col = 101, .ws_xpixel = 0, .ws_ypixel = 0};
  BOOST_TEST_REQUIRE(sys::ioctl_with_ref(pty->master, TIOCSWINSZ, wanted).has_value());
  ::winsize got{};
  const auto r = sys::ioctl_with_mut_ref(pty->master, TIOCGWINSZ, got);
  BOOST_TEST_REQUIRE(r.has_value(), vmm::testing::describe(r));
  BOOST_TEST(got.ws_row == 37U);
  BOOST_TEST(got.ws_col == 101U);
}

BOOST_AUTO_TEST_CASE(ioctl_without_argument_changes_terminal_state) {
  auto pty = open_pseudo_terminal();
  BOOST_TEST_REQUIRE(pty.has_value(), vmm::testing::describe(pty));
  BOOST_TEST_REQUIRE(sys::ioctl(pty->master, TIOCEXCL).has_value());
  int exclusive = 0;
  BOOST_TEST_REQUIRE(sys::ioctl_with_mut_ref(pty->master, TIOCGEXCL, exclusive).has_value());
  BOOST_TEST(exclusive == 1);
  BOOST_TEST_REQUIRE(sys::ioctl(pty->master, TIOCNXCL).has_value());
  BOOST_TEST_REQUIRE(sys::ioctl_with_mut_ref(pty->master, TIOCGEXCL, exclusive).has_value());
  BOOST_TEST(exclusive == 0);
}

BOOST_AUTO_TEST_CASE(ioctl_with_val_passes_the_value_itself) {
  auto pty = open_pseudo_terminal();
  BOOST_TEST_REQUIRE(pty.has_value(), vmm::testing::describe(pty));
  // TCFLSH takes the queue selector by value: a valid one succeeds, any other is EINVAL.
  const auto flushed = sys::ioctl_with_val(pty->master, TCFLSH, TCIOFLUSH);
  BOOST_TEST(flushed.has_value(), vmm::testing::describe(flushed));
  constexpr unsigned long no_such_queue = 7;
  BOOST_TEST(error_of(sys::ioctl_with_val(pty->master, TCFLSH, no_such_queue)) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(ioctl_with_ptr_lets_the_kernel_write_the_argument) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value(), vmm::testing::describe(pipe));
  BOOST_TEST_REQUIRE(sys::write(pipe->second, bytes("hello")).value() == 5U);
  int unread = -1;
  BOOST_TEST_REQUIRE(sys::ioctl_with_ptr(pipe->first, FIONREAD, &unread).has_value());
  BOOST_TEST(unread == 5);
}

BOOST_AUTO_TEST_CASE(kvm_get_api_version_returns_12) {
  const auto kvm = open_kvm();
  if (!kvm) {
    BOOST_TEST_MESSAGE("skipped: /dev/kvm cannot be opened here: " << vmm::testing::describe(kvm));
    return;
  }
  const auto version = sys::ioctl(*kvm, KVM_GET_API_VERSION);
  BOOST_TEST_REQUIRE(version.has_value(), vmm::testing::describe(version));
  BOOST_TEST(*version == kvm_api_version);
}

BOOST_AUTO_TEST_CASE(kvm_check_extension_receives_the_capability_by_value) {
  const auto kvm = open_kvm();
  if (!kvm) {
    BOOST_TEST_MESSAGE("skipped: /dev/kvm cannot be opened here: " << vmm::testing::describe(kvm));
    return;
  }
  // KVM_CAP_USER_MEMORY is present in every KVM (it answers 1); no capability has number 100000 (it answers 0).
  constexpr unsigned long unknown_capability = 100'000;
  const auto user_memory = sys::ioctl_with_val(*kvm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY);
  const auto unknown = sys::ioctl_with_val(*kvm, KVM_CHECK_EXTENSION, unknown_capability);
  BOOST_TEST_REQUIRE(user_memory.has_value(), vmm::testing::describe(user_memory));
  BOOST_TEST_REQUIRE(unknown.has_value(), vmm::testing::describe(unknown));
  BOOST_TEST(*user_memory == 1);
  BOOST_TEST(*unknown == 0);
}

// --- calls that fail ---

BOOST_AUTO_TEST_CASE(every_call_on_a_closed_descriptor_returns_ebadf) {
  const sys::borrowed_fd closed{-1};
  int argument = 0;
  BOOST_TEST(error_of(sys::ioctl(closed, TIOCEXCL)) == os_error(EBADF));
  BOOST_TEST(error_of(sys::ioctl_with_val(closed, TCFLSH, TCIOFLUSH)) == os_error(EBADF));
  BOOST_TEST(error_of(sys::ioctl_with_ptr(closed, FIONREAD, &argument)) == os_error(EBADF));
  BOOST_TEST(error_of(sys::ioctl_with_mut_ref(closed, FIONREAD, argument)) == os_error(EBADF));
  BOOST_TEST(error_of(sys::ioctl_with_ref(closed, TIOCSPTLCK, argument)) == os_error(EBADF));
}

BOOST_AUTO_TEST_CASE(request_a_pipe_does_not_understand_returns_enotty) {
  auto pipe = sys::make_pipe();
  BOOST_TEST_REQUIRE(pipe.has_value(), vmm::testing::describe(pipe));
  ::winsize size{};
  BOOST_TEST(error_of(sys::ioctl(pipe->first, KVM_GET_API_VERSION)) == os_error(ENOTTY));
  BOOST_TEST(error_of(sys::ioctl_with_mut_ref(pipe->first, TIOCGWINSZ, size)) == os_error(ENOTTY));
}

BOOST_AUTO_TEST_CASE(null_pointer_for_a_read_request_returns_efault) {
  auto pty = open_pseudo_terminal();
  BOOST_TEST_REQUIRE(pty.has_value(), vmm::testing::describe(pty));
  BOOST_TEST(error_of(sys::ioctl_with_ptr(pty->master, TIOCGWINSZ, nullptr)) == os_error(EFAULT));
}

BOOST_AUTO_TEST_SUITE_END()
