// One case per bug or advisory that vmm.kvm is built to rule out, named after it:
// - rust-vmm/kvm#373 and #357: no sound way to set immediate_exit while run() is in progress (a plain, non-atomic
//   write from another thread): vcpu_stopper stores it atomically while the vCPU thread is inside KVM_RUN.
// - the lost stop: a stop requested in the window just before the thread enters KVM_RUN must end that run.
// - the io_in reply: the data the VMM writes into the exit's span must reach the guest on the next run().
// - __DECLARE_FLEX_ARRAY in C++: the kernel headers' kvm_msrs/kvm_cpuid2/kvm_xsave are 8 (or 4) bytes too large in
//   C++, so the header macros (KVM_GET_MSRS, KVM_SET_CPUID2, KVM_GET_XSAVE) are other requests and KVM refused
//   them with EINVAL (found by these tests).
// - a dirty log sized by the caller: KVM writes one bit per page of the slot, so a caller-supplied size smaller
//   than the slot overflowed the buffer; the size now comes from the slot the vm made.
// - exit data trusted as spans: an io data_offset or MMIO length out of range became an out-of-bounds span.
#include <boost/test/unit_test.hpp>

#include <linux/kvm.h>

#include "guest.hpp"

using namespace kvm_test;
using vmm::testing::describe;
using vmm::testing::error_of;

namespace {

constexpr std::array<std::uint8_t, 2> spin_program{0xeb, 0xfe};  // jmp $

// in al, 0x20 ; out 0x21, al ; hlt
constexpr std::array<std::uint8_t, 5> in_echo_program{0xe4, 0x20, 0xe6, 0x21, 0xf4};

constexpr std::array<std::uint8_t, 1> hlt_program{0xf4};

constexpr int race_iterations = 200;

}  // namespace

BOOST_AUTO_TEST_SUITE(regressions)

BOOST_AUTO_TEST_CASE(rust_vmm_kvm_373_immediate_exit_is_set_atomically_while_run_is_in_progress) {
  auto g = make_guest(spin_program);
  if (!g) {
    return;
  }
  const auto stopper = g->vcpu.stopper();
  BOOST_TEST_REQUIRE(stopper.has_value());
  std::atomic<bool> returned{false};
  vmm::result<kvm::vcpu_exit> exit = vmm::failure(std::errc::operation_canceled);
  std::thread runner{[&] {
    exit = g->vcpu.run();
    returned.store(true);
  }};
  std::this_thread::sleep_for(2ms);  // let it enter the guest (any moment works; this aims at "inside KVM_RUN")
  BOOST_TEST_REQUIRE(stopper->stop().has_value());
  const auto give_up = std::chrono::steady_clock::now() + run_limit;
  while (!returned.load() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(100us);
  }
  const bool in_time = returned.load();
  if (!in_time) {
    static_cast<void>(vmm::testing::kick_until_returned(runner, sys::default_kick_signal(), returned));
  }
  runner.join();
  BOOST_TEST_REQUIRE(in_time);
  BOOST_TEST(expect_exit<kvm::interrupted>(exit).stop_requested);
}

BOOST_AUTO_TEST_CASE(stop_requested_just_before_run_is_not_lost) {
  auto g = make_guest(spin_program);
  if (!g) {
    return;
  }
  const auto stopper = g->vcpu.stopper();
  BOOST_TEST_REQUIRE(stopper.has_value());
  for (int i = 0; i < race_iterations; ++i) {
    std::atomic<bool> go{false};
    std::atomic<bool> returned{false};
    vmm::result<kvm::vcpu_exit> exit = vmm::failure(std::errc::operation_canceled);
    std::thread runner{[&] {
      while (!go.load()) {
      }
      exit = g->vcpu.run();
      returned.store(true);
    }};
    go.store(true);
    BOOST_TEST_REQUIRE(stopper->stop().has_value());  // races with the runner's entry into run()
    const auto give_up = std::chrono::steady_clock::now() + run_limit;
    while (!returned.load() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::yield();
    }
    const bool in_time = returned.load();
    if (!in_time) {
      static_cast<void>(vmm::testing::kick_until_returned(runner, sys::default_kick_signal(), returned));
    }
    runner.join();
    BOOST_TEST_REQUIRE(in_time, "iteration " << i);
    BOOST_TEST_REQUIRE(expect_exit<kvm::interrupted>(exit).stop_requested);
  }
}

BOOST_AUTO_TEST_CASE(io_in_reply_written_into_the_exit_span_reaches_the_guest_on_the_next_run) {
  auto g = make_guest(in_echo_program);
  if (!g) {
    return;
  }
  const auto in = expect_exit<kvm::io_in>(run_bounded(g->vcpu));
  fill(in.data, 0x5c);
  const auto out = expect_exit<kvm::io_out>(run_bounded(g->vcpu));
  BOOST_TEST(value_of(out.data) == 0x5cU);
  const auto regs = g->vcpu.get_regs();
  BOOST_TEST_REQUIRE(regs.has_value());
  BOOST_TEST((regs->rax & 0xffU) == 0x5cU);
}

BOOST_AUTO_TEST_CASE(flex_array_requests_reach_kvm_with_the_c_layout) {
  auto g = make_guest(hlt_program);
  if (!g) {
    return;
  }
  std::array<kvm::msr_entry, 1> tsc{{{.index = 0x10, .reserved = 0, .data = 0}}};
  const auto msrs = g->vcpu.get_msrs(tsc);
  BOOST_TEST(msrs.value_or(0) == 1U, describe(msrs));
  const auto cpuid = g->system.supported_cpuid();
  BOOST_TEST_REQUIRE(cpuid.has_value(), describe(cpuid));
  BOOST_TEST(g->vcpu.set_cpuid2(*cpuid).has_value());
  BOOST_TEST(g->vcpu.get_xsave().has_value());
  BOOST_TEST(g->system.msr_index_list().has_value());
}

BOOST_AUTO_TEST_CASE(dirty_log_buffer_is_sized_from_the_slot_not_the_caller) {
  auto g = make_guest(hlt_program, {.slot_flags = kvm::memory_flags::log_dirty_pages});
  if (!g) {
    return;
  }
  // A 2 MiB slot: 512 pages, 8 words. The old API took a size from the caller; a smaller one overflowed.
  auto big = mem::guest_region::anonymous(mem::guest_address{0x20'0000}, 0x20'0000);
  BOOST_TEST_REQUIRE(big.has_value());
  BOOST_TEST_REQUIRE(g->vm.set_memory_region(1, **big, kvm::memory_flags::log_dirty_pages).has_value());
  const auto log = g->vm.get_dirty_log(1);
  BOOST_TEST_REQUIRE(log.has_value(), describe(log));
  BOOST_TEST(log->size() == 8U);
}

BOOST_AUTO_TEST_CASE(io_exit_data_offset_out_of_range_is_an_error_not_a_span) {
  alignas(8) std::array<std::byte, 8192> bytes{};
  auto& run = *reinterpret_cast<::kvm_run*>(bytes.data());  // NOLINT(*-reinterpret-cast)
  run.exit_reason = KVM_EXIT_IO;
  run.io = {.direction = KVM_EXIT_IO_IN, .size = 1, .port = 0x60, .count = 1, .data_offset = 1U << 20U};
  BOOST_TEST(error_of(kvm::decode_exit(bytes)) == make_error_code(kvm::errc::bad_exit_data));
}

BOOST_AUTO_TEST_SUITE_END()
