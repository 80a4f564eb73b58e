// Several vCPU threads write THR while the host enqueues input and another thread drains RBR: nothing is lost or
// duplicated, counters add up, and (under `cmake --preset tsan`) no data race is reported.
#include <boost/test/unit_test.hpp>

import std;
import vmm.device;
import vmm.devices.legacy;
import legacy_fakes;

namespace legacy = vmm::devices::legacy;
namespace reg = legacy::serial_register;
using legacy_fakes::in;
using legacy_fakes::out;
using legacy_fakes::serial_rig;

BOOST_AUTO_TEST_SUITE(serial_concurrency)

BOOST_AUTO_TEST_CASE(writers_readers_and_host_input_race_without_losing_bytes) {
  constexpr int writers = 4;
  constexpr int bytes_per_writer = 2000;
  constexpr std::size_t input_bytes = 3000;
  serial_rig rig;
  out(rig.uart, reg::interrupt_enable, 0x03);  // RX and THRE interrupts, so triggers race too
  std::atomic<std::size_t> received{0};
  std::atomic<bool> input_done{false};
  {
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&rig, w] {
        for (int i = 0; i < bytes_per_writer; ++i) {
          out(rig.uart, reg::data, static_cast<std::uint8_t>('a' + w));
          static_cast<void>(in(rig.uart, reg::interrupt_id));
        }
      });
    }
    threads.emplace_back([&] {
      std::size_t sent = 0;
      const std::array chunk{std::byte{'x'}, std::byte{'y'}, std::byte{'z'}};
      while (sent < input_bytes) {
        const auto accepted =
            rig.uart.enqueue_input(std::span{chunk}.first(std::min<std::size_t>(3, input_bytes - sent)));
        sent += accepted.value_or(0);
        if (!accepted) {
          std::this_thread::yield();
        }
      }
      input_done = true;
    });
    threads.emplace_back([&] {
      while (!input_done || (in(rig.uart, reg::line_status) & 0x01U) != 0) {
        if ((in(rig.uart, reg::line_status) & 0x01U) != 0) {
          static_cast<void>(in(rig.uart, reg::data));
          ++received;
        }
      }
    });
    std::ranges::for_each(threads, &std::thread::join);
  }
  const std::string text = rig.output->text();
  BOOST_TEST(text.size() == static_cast<std::size_t>(writers * bytes_per_writer));
  for (int w = 0; w < writers; ++w) {
    BOOST_TEST(std::ranges::count(text, static_cast<char>('a' + w)) == bytes_per_writer);
  }
  BOOST_TEST(received.load() == input_bytes);
  const auto m = rig.uart.metrics();
  BOOST_TEST(m.bytes_in == input_bytes);
  BOOST_TEST(m.bytes_out == static_cast<std::uint64_t>(writers * bytes_per_writer));
  BOOST_TEST(m.interrupts == rig.irq->calls.load());
}

BOOST_AUTO_TEST_CASE(i8042_and_rtc_accesses_from_many_threads_stay_consistent) {
  constexpr int threads_count = 4;
  constexpr int rounds = 500;
  auto reset = std::make_shared<legacy_fakes::counting_trigger>();
  legacy::i8042 kbc{{.reset = reset}};
  legacy::rtc cmos;
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < threads_count; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < rounds; ++i) {
          out(kbc, 0, legacy::i8042_command::cpu_reset, legacy::i8042_command_port);
          static_cast<void>(in(kbc, 0, legacy::i8042_command_port));
          out(cmos, 0, 0x20);
          out(cmos, 1, 0x11);
          static_cast<void>(in(cmos, 1));
        }
      });
    }
    std::ranges::for_each(threads, &std::thread::join);
  }
  BOOST_TEST(reset->calls == static_cast<std::uint64_t>(threads_count * rounds));
  BOOST_TEST(kbc.metrics().reset_requests == static_cast<std::uint64_t>(threads_count * rounds));
  out(cmos, 0, 0x20);
  BOOST_TEST(in(cmos, 1) == 0x11U);
}

BOOST_AUTO_TEST_SUITE_END()
