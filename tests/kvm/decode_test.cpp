// decode_exit on hand-made kvm_run contents: each exit reason becomes its alternative with the fields KVM wrote,
// spans point into the mapping, and data exactly at the mapping's end is still accepted. (Out-of-range values are
// in negative_test.cpp.)
#include <boost/test/unit_test.hpp>

#include <linux/kvm.h>

#include "guest.hpp"

using namespace kvm_test;

namespace {

// A fake vCPU mapping: kvm_run and one data page, 8-byte aligned as decode_exit requires.
struct fake_run {
  alignas(8) std::array<std::byte, 8192> bytes{};
  auto run() -> ::kvm_run& { return *reinterpret_cast<::kvm_run*>(bytes.data()); }  // NOLINT(*-reinterpret-cast)
  auto span() -> std::span<std::byte> { return bytes; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(decode)

BOOST_AUTO_TEST_CASE(io_out_points_at_the_data_offset) {
  fake_run f;
  f.run().exit_reason = KVM_EXIT_IO;
  f.run().io = {.direction = KVM_EXIT_IO_OUT, .size = 2, .port = 0x3f8, .count = 3, .data_offset = 4096};
  const auto exit = kvm::decode_exit(f.span());
  const auto out = expect_exit<kvm::io_out>(exit);
  BOOST_TEST(out.port == 0x3f8);
  BOOST_TEST(out.size == 2);
  BOOST_TEST(out.count == 3U);
  BOOST_TEST(out.data.data() == f.bytes.data() + 4096);
  BOOST_TEST(out.data.size() == 6U);
}

BOOST_AUTO_TEST_CASE(io_in_ending_exactly_at_the_mapping_end_is_accepted) {
  fake_run f;
  f.run().exit_reason = KVM_EXIT_IO;
  f.run().io = {.direction = KVM_EXIT_IO_IN, .size = 4, .port = 0x60, .count = 1, .data_offset = 8192 - 4};
  const auto in = expect_exit<kvm::io_in>(kvm::decode_exit(f.span()));
  BOOST_TEST(in.data.size() == 4U);
  BOOST_TEST(in.data.data() + in.data.size() == f.bytes.data() + f.bytes.size());
}

BOOST_AUTO_TEST_CASE(mmio_read_and_write_span_the_inline_data) {
  fake_run f;
  f.run().exit_reason = KVM_EXIT_MMIO;
  f.run().mmio.phys_addr = 0xd000'0000;
  f.run().mmio.len = 8;
  f.run().mmio.is_write = 0;
  const auto read = expect_exit<kvm::mmio_read>(kvm::decode_exit(f.span()));
  BOOST_TEST(read.address == 0xd000'0000U);
  BOOST_TEST(read.data.size() == 8U);
  BOOST_TEST(static_cast<const void*>(read.data.data()) == static_cast<const void*>(f.run().mmio.data));
  f.run().mmio.is_write = 1;
  f.run().mmio.len = 1;
  const auto write = expect_exit<kvm::mmio_write>(kvm::decode_exit(f.span()));
  BOOST_TEST(write.data.size() == 1U);
}

BOOST_AUTO_TEST_CASE(system_event_copies_its_words) {
  fake_run f;
  f.run().exit_reason = KVM_EXIT_SYSTEM_EVENT;
  f.run().system_event.type = KVM_SYSTEM_EVENT_RESET;
  f.run().system_event.ndata = 2;
  f.run().system_event.data[0] = 7;
  f.run().system_event.data[1] = 9;
  const auto event = expect_exit<kvm::system_event>(kvm::decode_exit(f.span()));
  BOOST_TEST(event.type == kvm::system_event_type::reset);
  BOOST_TEST_REQUIRE(event.words().size() == 2U);
  BOOST_TEST(event.words()[1] == 9U);
}

BOOST_AUTO_TEST_CASE(internal_error_copies_its_words) {
  fake_run f;
  f.run().exit_reason = KVM_EXIT_INTERNAL_ERROR;
  f.run().internal.suberror = 1;
  f.run().internal.ndata = 16;
  f.run().internal.data[15] = 0xabc;
  const auto error = expect_exit<kvm::internal_error>(kvm::decode_exit(f.span()));
  BOOST_TEST(error.suberror == 1U);
  BOOST_TEST_REQUIRE(error.words().size() == 16U);
  BOOST_TEST(error.words()[15] == 0xabcU);
}

BOOST_AUTO_TEST_CASE(simple_reasons_map_to_their_alternatives) {
  fake_run f;
  f.run().exit_reason = KVM_EXIT_HLT;
  expect_exit<kvm::halt>(kvm::decode_exit(f.span()));
  f.run().exit_reason = KVM_EXIT_SHUTDOWN;
  expect_exit<kvm::shutdown>(kvm::decode_exit(f.span()));
  f.run().exit_reason = KVM_EXIT_INTR;
  BOOST_TEST(!expect_exit<kvm::interrupted>(kvm::decode_exit(f.span())).stop_requested);
  f.run().exit_reason = KVM_EXIT_FAIL_ENTRY;
  f.run().fail_entry.hardware_entry_failure_reason = 0x21;
  f.run().fail_entry.cpu = 3;
  const auto failed = expect_exit<kvm::fail_entry>(kvm::decode_exit(f.span()));
  BOOST_TEST(failed.hardware_reason == 0x21U);
  BOOST_TEST(failed.cpu == 3U);
  f.run().exit_reason = KVM_EXIT_DEBUG;
  BOOST_TEST(expect_exit<kvm::unknown>(kvm::decode_exit(f.span())).reason == std::uint32_t{KVM_EXIT_DEBUG});
}

BOOST_AUTO_TEST_SUITE_END()
