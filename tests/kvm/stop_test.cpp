// Stopping a vCPU from another thread with vcpu_stopper: a guest spinning in `jmp $` is stopped within a bound, a
// stop requested before run() is never lost, the flag is consumed so the guest can run again, and a plain kick is
// told apart from a requested stop. Every thread that runs a guest is bounded by a fallback kick, so a broken stop
// fails the case instead of hanging it.
#include <boost/test/unit_test.hpp>

#include <csignal>

#include "guest.hpp"

using namespace kvm_test;

namespace {

// jmp $ — spins forever until stopped.
constexpr std::array<std::uint8_t, 2> spin_program{0xeb, 0xfe};

// mov al, 0x42 ; out 0x10, al ; hlt
constexpr std::array<std::uint8_t, 5> out_program{0xb0, 0x42, 0xe6, 0x10, 0xf4};

// Enough iterations to land stops before, at and after the vCPU thread's entry into KVM_RUN, few enough that the
// case takes well under a second in an emulated guest.
constexpr int race_iterations = 100;

// The outcome of one run() on a separate thread.
struct threaded_run {
  std::atomic<bool> started{false};
  std::atomic<bool> returned{false};
  vmm::result<kvm::vcpu_exit> exit = vmm::failure(std::errc::operation_canceled);
  std::thread thread;

  explicit threaded_run(kvm::vcpu& vcpu)
      : thread{[this, &vcpu] {
          started.store(true);
          exit = vcpu.run();
          returned.store(true);
        }} {}

  // Waits for the run to return; if it has not within run_limit, kicks it out with the raw signal (which ends
  // KVM_RUN with EINTR even if the stop protocol is broken) and reports that. Joins either way.
  auto finish() -> bool {
    const auto give_up = std::chrono::steady_clock::now() + run_limit;
    while (!returned.load() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(100us);
    }
    const bool in_time = returned.load();
    if (!in_time) {
      static_cast<void>(vmm::testing::kick_until_returned(thread, sys::default_kick_signal(), returned));
    }
    thread.join();
    return in_time;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(stop)

BOOST_AUTO_TEST_CASE(stop_requested_before_run_makes_that_run_return_interrupted) {
  auto g = make_guest(spin_program);
  if (!g) {
    return;
  }
  const auto stopper = g->vcpu.stopper();
  BOOST_TEST_REQUIRE(stopper.has_value());
  for (int i = 0; i < race_iterations; ++i) {
    BOOST_TEST_REQUIRE(stopper->stop().has_value());
    const auto stopped = expect_exit<kvm::interrupted>(run_bounded(g->vcpu));
    BOOST_TEST_REQUIRE(stopped.stop_requested);
  }
}

BOOST_AUTO_TEST_CASE(stop_from_another_thread_ends_a_spinning_guest) {
  auto g = make_guest(spin_program);
  if (!g) {
    return;
  }
  const auto stopper = g->vcpu.stopper();
  BOOST_TEST_REQUIRE(stopper.has_value());
  for (int i = 0; i < race_iterations; ++i) {
    threaded_run run{g->vcpu};
    while (!run.started.load()) {
      std::this_thread::yield();
    }
    // Vary where the stop lands: right away (usually before KVM_RUN is entered), or after the guest has spun a bit.
    if (i % 2 == 1) {
      std::this_thread::sleep_for(std::chrono::microseconds{(i % 7) * 50});
    }
    BOOST_TEST_REQUIRE(stopper->stop().has_value());
    BOOST_TEST_REQUIRE(run.finish(), "iteration " << i << ": the stop was lost");
    const auto stopped = expect_exit<kvm::interrupted>(run.exit);
    BOOST_TEST_REQUIRE(stopped.stop_requested);
  }
}

BOOST_AUTO_TEST_CASE(run_after_a_stopped_run_enters_the_guest_again) {
  auto g = make_guest(out_program);
  if (!g) {
    return;
  }
  const auto stopper = g->vcpu.stopper();
  BOOST_TEST_REQUIRE(stopper.has_value());
  BOOST_TEST_REQUIRE(stopper->stop().has_value());
  BOOST_TEST(expect_exit<kvm::interrupted>(run_bounded(g->vcpu)).stop_requested);
  const auto out = expect_exit<kvm::io_out>(run_bounded(g->vcpu));
  BOOST_TEST(out.port == 0x10);
}

BOOST_AUTO_TEST_CASE(plain_kick_without_stop_returns_interrupted_not_requested) {
  auto g = make_guest(spin_program);
  if (!g) {
    return;
  }
  const auto stopper = g->vcpu.stopper();  // installs the kick handler
  BOOST_TEST_REQUIRE(stopper.has_value());
  threaded_run run{g->vcpu};
  while (!run.started.load()) {
    std::this_thread::yield();
  }
  BOOST_TEST_REQUIRE(vmm::testing::kick_until_returned(run.thread, sys::default_kick_signal(), run.returned));
  run.thread.join();
  const auto interrupted = expect_exit<kvm::interrupted>(run.exit);
  BOOST_TEST(!interrupted.stop_requested);
}

BOOST_AUTO_TEST_CASE(stopper_outliving_its_vcpu_stops_nothing_and_succeeds) {
  auto g = make_guest(spin_program);
  if (!g) {
    return;
  }
  auto stopper = g->vcpu.stopper();
  BOOST_TEST_REQUIRE(stopper.has_value());
  g.reset();
  BOOST_TEST(stopper->stop().has_value());
}

BOOST_AUTO_TEST_CASE(stopper_with_a_standard_signal_is_refused) {
  auto g = make_guest(spin_program);
  if (!g) {
    return;
  }
  const auto stopper = g->vcpu.stopper(SIGUSR1);
  BOOST_TEST(vmm::testing::error_of(stopper) == make_error_code(sys::errc::invalid_signal));
}

BOOST_AUTO_TEST_SUITE_END()
