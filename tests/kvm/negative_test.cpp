// Bad input to vmm.kvm, each with the exact error: impossible kvm_run contents (decode_exit never makes an
// out-of-bounds span), memory slots the kernel refuses, unknown MSRs, oversized lists, double registrations, calls
// in the wrong order, and contract violations. After each failure the object still works (a later call succeeds).
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <fcntl.h>
#include <linux/kvm.h>

#include "guest.hpp"

using namespace kvm_test;
using vmm::testing::describe;
using vmm::testing::error_of;
using vmm::testing::os_error;

namespace {

// mov al, 0x42 ; out 0x10, al ; hlt
constexpr std::array<std::uint8_t, 5> out_program{0xb0, 0x42, 0xe6, 0x10, 0xf4};

struct fake_run {
  alignas(8) std::array<std::byte, 8192> bytes{};
  auto run() -> ::kvm_run& { return *reinterpret_cast<::kvm_run*>(bytes.data()); }  // NOLINT(*-reinterpret-cast)
  auto span() -> std::span<std::byte> { return bytes; }
};

auto bad_exit_data() -> std::error_code {
  return make_error_code(kvm::errc::bad_exit_data);
}

auto io_exit(std::uint8_t direction, std::uint8_t size, std::uint32_t count, std::uint64_t offset) -> fake_run {
  fake_run f;
  f.run().exit_reason = KVM_EXIT_IO;
  f.run().io = {.direction = direction, .size = size, .port = 0x10, .count = count, .data_offset = offset};
  return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bad_exit_contents)

BOOST_AUTO_TEST_CASE(io_data_past_the_mapping_end_is_bad_exit_data) {
  auto f = io_exit(KVM_EXIT_IO_OUT, 1, 2, 8192 - 1);  // one byte inside, one outside
  BOOST_TEST(error_of(kvm::decode_exit(f.span())) == bad_exit_data());
}

BOOST_AUTO_TEST_CASE(io_data_offset_beyond_the_mapping_is_bad_exit_data) {
  auto f = io_exit(KVM_EXIT_IO_IN, 1, 1, 8193);
  BOOST_TEST(error_of(kvm::decode_exit(f.span())) == bad_exit_data());
}

BOOST_AUTO_TEST_CASE(io_offset_plus_length_wrapping_past_2_64_is_bad_exit_data) {
  auto f = io_exit(KVM_EXIT_IO_IN, 4, 0xffff'ffff, std::numeric_limits<std::uint64_t>::max() - 2);
  BOOST_TEST(error_of(kvm::decode_exit(f.span())) == bad_exit_data());
}

BOOST_AUTO_TEST_CASE(io_huge_count_is_bad_exit_data) {
  auto f = io_exit(KVM_EXIT_IO_OUT, 4, 0xffff'ffff, 4096);
  BOOST_TEST(error_of(kvm::decode_exit(f.span())) == bad_exit_data());
}

BOOST_AUTO_TEST_CASE(io_size_3_is_bad_exit_data) {
  auto f = io_exit(KVM_EXIT_IO_OUT, 3, 1, 4096);
  BOOST_TEST(error_of(kvm::decode_exit(f.span())) == bad_exit_data());
}

BOOST_AUTO_TEST_CASE(io_direction_2_is_bad_exit_data) {
  auto f = io_exit(2, 1, 1, 4096);
  BOOST_TEST(error_of(kvm::decode_exit(f.span())) == bad_exit_data());
}

BOOST_AUTO_TEST_CASE(mmio_length_0_and_9_are_bad_exit_data) {
  fake_run f;
  f.run().exit_reason = KVM_EXIT_MMIO;
  f.run().mmio.len = 0;
  BOOST_TEST(error_of(kvm::decode_exit(f.span())) == bad_exit_data());
  f.run().mmio.len = 9;
  BOOST_TEST(error_of(kvm::decode_exit(f.span())) == bad_exit_data());
}

BOOST_AUTO_TEST_CASE(event_data_of_17_words_is_bad_exit_data) {
  fake_run f;
  f.run().exit_reason = KVM_EXIT_SYSTEM_EVENT;
  f.run().system_event.ndata = 17;
  BOOST_TEST(error_of(kvm::decode_exit(f.span())) == bad_exit_data());
  f.run().exit_reason = KVM_EXIT_INTERNAL_ERROR;
  f.run().internal.ndata = 17;
  BOOST_TEST(error_of(kvm::decode_exit(f.span())) == bad_exit_data());
}

BOOST_AUTO_TEST_CASE(mapping_smaller_than_kvm_run_is_bad_exit_data) {
  fake_run f;
  f.run().exit_reason = KVM_EXIT_HLT;
  BOOST_TEST(error_of(kvm::decode_exit(f.span().first(kvm::kvm_run_size() - 1))) == bad_exit_data());
}

BOOST_AUTO_TEST_CASE(misaligned_mapping_is_a_contract_violation) {
  fake_run f;
  const vmm::testing::contract_violation_guard guard;
  BOOST_CHECK_THROW(static_cast<void>(kvm::decode_exit(f.span().subspan(1))), vmm::testing::contract_violation_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_calls)

BOOST_AUTO_TEST_CASE(overlapping_memory_slot_is_eexist) {
  auto g = make_guest(out_program);
  if (!g) {
    return;
  }
  const auto overlap = g->vm.set_user_memory_region({.slot = 1,
                                                     .flags = 0,
                                                     .guest_address = 0x8000,
                                                     .size = 0x8000,
                                                     .host_address = reinterpret_cast<std::uintptr_t>(g->at(0))});
  BOOST_TEST(error_of(overlap) == os_error(EEXIST));
  expect_exit<kvm::io_out>(run_bounded(g->vcpu));  // slot 0 is intact
}

BOOST_AUTO_TEST_CASE(slot_number_past_the_limit_is_einval) {
  auto g = make_guest(out_program);
  if (!g) {
    return;
  }
  const auto bad = g->vm.set_user_memory_region({.slot = 0x7fff,
                                                 .flags = 0,
                                                 .guest_address = 0x100000,
                                                 .size = 0x1000,
                                                 .host_address = reinterpret_cast<std::uintptr_t>(g->at(0))});
  BOOST_TEST(error_of(bad) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(misaligned_guest_address_is_einval) {
  auto g = make_guest(out_program);
  if (!g) {
    return;
  }
  const auto bad = g->vm.set_user_memory_region({.slot = 1,
                                                 .flags = 0,
                                                 .guest_address = 0x100800,
                                                 .size = 0x1000,
                                                 .host_address = reinterpret_cast<std::uintptr_t>(g->at(0))});
  BOOST_TEST(error_of(bad) == os_error(EINVAL));
  BOOST_TEST(error_of(g->vm.get_dirty_log(1)) == make_error_code(kvm::errc::unknown_slot));  // not remembered
}

BOOST_AUTO_TEST_CASE(run_on_a_vcpu_without_memory_fails_and_never_yields_a_data_exit) {
  auto system = open_system();
  if (!system) {
    return;
  }
  auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  auto vcpu = vm->create_vcpu(0);
  BOOST_TEST_REQUIRE(vcpu.has_value());
  // The reset vector (0xfffffff0) has no memory. Linux 6.18 fails KVM_RUN with ENOSPC; others report an emulation
  // failure. Either way nothing looks like I/O the VMM would act on.
  const auto exit = run_bounded(*vcpu);
  if (!exit) {
    BOOST_TEST(error_of(exit) == os_error(ENOSPC));
  } else {
    BOOST_TEST(expect_exit<kvm::internal_error>(exit).suberror == std::uint32_t{KVM_INTERNAL_ERROR_EMULATION});
  }
}

BOOST_AUTO_TEST_CASE(unknown_msr_index_reads_none_and_leaves_entries_alone) {
  auto g = make_guest(out_program);
  if (!g) {
    return;
  }
  std::array<kvm::msr_entry, 1> entries{{{.index = 0xdead'beef, .reserved = 0, .data = 0x5a5a}}};
  const auto read = g->vcpu.get_msrs(entries);
  BOOST_TEST_REQUIRE(read.has_value(), describe(read));
  BOOST_TEST(*read == 0U);
  BOOST_TEST(entries[0].data == 0x5a5aU);
  const auto written = g->vcpu.set_msrs(entries);
  BOOST_TEST_REQUIRE(written.has_value(), describe(written));
  BOOST_TEST(*written == 0U);
}

BOOST_AUTO_TEST_CASE(oversized_lists_are_too_many_entries) {
  auto g = make_guest(out_program, {.irqchip = true});
  if (!g) {
    return;
  }
  const auto too_many = make_error_code(kvm::errc::too_many_entries);
  std::vector<kvm::msr_entry> msrs(kvm::max_msr_entries + 1);
  BOOST_TEST(error_of(g->vcpu.get_msrs(msrs)) == too_many);
  BOOST_TEST(error_of(g->vcpu.set_msrs(msrs)) == too_many);
  BOOST_TEST(error_of(g->system.get_feature_msrs(msrs)) == too_many);
  const std::vector<kvm::cpuid_entry> leaves(kvm::max_cpuid_entries + 1);
  BOOST_TEST(error_of(g->vcpu.set_cpuid2(leaves)) == too_many);
  const std::vector<kvm::gsi_route> routes(kvm::max_gsi_routes + 1);
  BOOST_TEST(error_of(g->vm.set_gsi_routing(routes)) == too_many);
}

BOOST_AUTO_TEST_CASE(irqchip_pin_out_of_range_is_einval) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  BOOST_TEST_REQUIRE(vm->create_irqchip().has_value());
  const std::array<kvm::gsi_route, 1> routes{kvm::irqchip_route{.gsi = 1, .chip = kvm::irqchip::ioapic, .pin = 99}};
  BOOST_TEST(error_of(vm->set_gsi_routing(routes)) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(second_irqchip_and_second_vcpu_with_the_same_id_are_eexist) {
  auto g = make_guest(out_program, {.irqchip = true});
  if (!g) {
    return;
  }
  BOOST_TEST(error_of(g->vm.create_irqchip()) == os_error(EEXIST));
  BOOST_TEST(error_of(g->vm.create_vcpu(0)) == os_error(EEXIST));
}

BOOST_AUTO_TEST_CASE(lapic_and_mp_state_halted_without_irqchip_are_einval) {
  auto g = make_guest(out_program);
  if (!g) {
    return;
  }
  BOOST_TEST(error_of(g->vcpu.get_lapic()) == os_error(EINVAL));
  BOOST_TEST(error_of(g->vcpu.set_mp_state({.mp_state = kvm::mp::halted})) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(ioevent_twice_is_eexist_and_unregistering_an_absent_one_is_enoent) {
  auto g = make_guest(out_program);
  if (!g) {
    return;
  }
  auto event = sys::event_fd::create();
  BOOST_TEST_REQUIRE(event.has_value());
  const kvm::io_event_address port{.space = kvm::io_event_space::pio, .address = 0x40};
  BOOST_TEST_REQUIRE(g->vm.register_ioevent(event->fd(), port, 1).has_value());
  BOOST_TEST(error_of(g->vm.register_ioevent(event->fd(), port, 1)) == os_error(EEXIST));
  BOOST_TEST(error_of(g->vm.unregister_ioevent(event->fd(), port, 2)) == os_error(ENOENT));
  BOOST_TEST(error_of(g->vm.register_ioevent(event->fd(), {.space = kvm::io_event_space::pio, .address = 0x44}, 3)) ==
             os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(dirty_log_of_a_slot_without_logging_is_enoent) {
  auto g = make_guest(out_program);
  if (!g) {
    return;
  }
  BOOST_TEST(error_of(g->vm.get_dirty_log(0)) == os_error(ENOENT));
  BOOST_TEST(error_of(g->vm.get_dirty_log(5)) == make_error_code(kvm::errc::unknown_slot));
}

BOOST_AUTO_TEST_CASE(clear_dirty_log_with_a_short_bitmap_or_a_misaligned_first_page_fails) {
  auto g = make_guest(out_program, {.slot_flags = kvm::memory_flags::log_dirty_pages});
  if (!g) {
    return;
  }
  const std::array<std::uint64_t, 1> one_word{};
  BOOST_TEST(error_of(g->vm.clear_dirty_log(0, 0, 65, one_word)) == make_error_code(kvm::errc::bitmap_too_small));
  BOOST_TEST(error_of(g->vm.clear_dirty_log(0, 1, 15, one_word)) == os_error(EINVAL));  // not a multiple of 64
}

BOOST_AUTO_TEST_CASE(dirty_ring_after_a_vcpu_or_without_enabling_fails) {
  auto g = make_guest(out_program);
  if (!g) {
    return;
  }
  BOOST_TEST(error_of(g->vm.enable_dirty_ring(65536)) == make_error_code(kvm::errc::dirty_ring_too_late));
  BOOST_TEST(error_of(g->vcpu.harvest_dirty_ring()) == make_error_code(kvm::errc::dirty_ring_not_enabled));
}

BOOST_AUTO_TEST_CASE(dirty_ring_of_a_size_that_is_not_a_power_of_two_is_einval) {
  auto system = open_system();
  if (!system) {
    return;
  }
  auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  const auto enabled = vm->enable_dirty_ring(65536 + 4096);
  if (error_of(enabled) == make_error_code(kvm::errc::capability_missing)) {
    BOOST_TEST_MESSAGE("skipped: no KVM_CAP_DIRTY_LOG_RING");
    return;
  }
  BOOST_TEST(error_of(enabled) == os_error(EINVAL));
  BOOST_TEST(vm->dirty_ring_bytes() == 0U);
}

BOOST_AUTO_TEST_CASE(unknown_capability_cannot_be_enabled) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  BOOST_TEST(error_of(vm->enable_cap(0xffff)) == os_error(EINVAL));
}

BOOST_AUTO_TEST_CASE(enable_cap_with_five_arguments_is_a_contract_violation) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  const std::array<std::uint64_t, 5> args{};
  const vmm::testing::contract_violation_guard guard;
  BOOST_CHECK_THROW(static_cast<void>(vm->enable_cap(kvm::cap::irqchip, args)), vmm::testing::contract_violation_error);
}

BOOST_AUTO_TEST_CASE(system_fd_of_another_file_is_enotty) {
  vmm::sys::unique_fd null{::open("/dev/null", O_RDWR | O_CLOEXEC)};
  BOOST_TEST_REQUIRE(null.valid());
  BOOST_TEST(error_of(kvm::kvm::from_fd(std::move(null))) == os_error(ENOTTY));
}

BOOST_AUTO_TEST_CASE(vcpu_mapping_smaller_than_kvm_run_is_refused) {
  vmm::sys::unique_fd null{::open("/dev/null", O_RDWR | O_CLOEXEC)};
  BOOST_TEST_REQUIRE(null.valid());
  BOOST_TEST(error_of(kvm::vcpu::from_fd(std::move(null), 16)) == make_error_code(kvm::errc::mmap_size_too_small));
}

BOOST_AUTO_TEST_SUITE_END()
