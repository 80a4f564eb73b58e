// VM fd operations against real KVM: memory slots (from vmm.memory regions, also guest_memfd through
// KVM_SET_USER_MEMORY_REGION2), the in-kernel irqchip and PIT, irq lines, irqfd, ioeventfd (a guest write signals
// the eventfd without an exit), GSI routing, MSIs, kvmclock, and dirty tracking (dirty log, manual clearing, dirty
// ring) after a guest write.
#include <boost/test/unit_test.hpp>

#include <cerrno>

#include "guest.hpp"

using namespace kvm_test;
using vmm::testing::describe;
using vmm::testing::error_of;
using vmm::testing::os_error;

namespace {

// mov byte [0x3000], 1 ; hlt — dirties page 3 (and nothing else: the code page is only read).
constexpr std::array<std::uint8_t, 6> write_page_3_program{
    0xc6, 0x06, 0x00, 0x30, 0x01,  // mov byte [0x3000], 1
    0xf4,                          // hlt
};

// mov al, 7 ; out 0x40, al (an ioeventfd: no exit) ; out 0x41, al (an exit) ; hlt
constexpr std::array<std::uint8_t, 7> pio_event_program{
    0xb0, 0x07,  // mov al, 7
    0xe6, 0x40,  // out 0x40, al
    0xe6, 0x41,  // out 0x41, al
    0xf4,        // hlt
};

// Writes 0x41 then 0x42 to port 0x50 (an ioeventfd that matches only 0x42), then 0x42 to port 0x51, hlt.
constexpr std::array<std::uint8_t, 11> datamatch_program{
    0xb0, 0x41,  // mov al, 0x41
    0xe6, 0x50,  // out 0x50, al      (no match: exits)
    0xb0, 0x42,  // mov al, 0x42
    0xe6, 0x50,  // out 0x50, al      (match: signals the eventfd, no exit)
    0xe6, 0x51,  // out 0x51, al      (exits)
    0xf4,        // hlt
};

// Byte stores to 0x10000 (an MMIO ioeventfd: no exit) and 0x10004 (an exit), hlt.
constexpr std::array<std::uint8_t, 16> mmio_event_program{
    0xb8, 0x00, 0x10,              // mov ax, 0x1000
    0x8e, 0xd8,                    // mov ds, ax              (DS base 0x10000)
    0xc6, 0x06, 0x00, 0x00, 0x09,  // mov byte [0x0000], 9
    0xc6, 0x06, 0x04, 0x00, 0x0a,  // mov byte [0x0004], 10
    0xf4,                          // hlt
};

// mov al, 0x42 ; out 0x10, al ; hlt
constexpr std::array<std::uint8_t, 5> out_program{0xb0, 0x42, 0xe6, 0x10, 0xf4};

constexpr std::uint64_t tss_address = 0xfffb'd000;
constexpr std::uint64_t identity_map_address = 0xfffb'c000;
constexpr std::uint64_t dirty_page = 3;

auto make_event() -> sys::event_fd {
  auto event = sys::event_fd::create({.initial = 0, .semaphore = false, .nonblocking = true});
  BOOST_TEST_REQUIRE(event.has_value(), describe(event));
  return std::move(*event);
}

auto bit(std::span<const std::uint64_t> bitmap, std::uint64_t page) -> bool {
  return ((bitmap[page / 64] >> (page % 64)) & 1U) != 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_slots)

BOOST_AUTO_TEST_CASE(removed_slot_is_forgotten) {
  auto g = make_guest(out_program, {.slot_flags = kvm::memory_flags::log_dirty_pages});
  if (!g) {
    return;
  }
  BOOST_TEST_REQUIRE(g->vm.remove_memory_region(0).has_value());
  BOOST_TEST(error_of(g->vm.get_dirty_log(0)) == make_error_code(kvm::errc::unknown_slot));
}

BOOST_AUTO_TEST_CASE(guest_memfd_region_becomes_a_slot_the_guest_runs_from) {
  auto system = open_system();
  if (!system) {
    return;
  }
  auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  auto region = mem::guest_region::guest_memfd(mem::guest_address{0}, memory_size, vm->fd());
  if (error_of(region) == make_error_code(mem::errc::guest_memfd_unsupported)) {
    BOOST_TEST_MESSAGE("skipped: this kernel cannot make host-mappable guest_memfd memory");
    return;
  }
  BOOST_TEST_REQUIRE(region.has_value(), describe(region));
  std::ranges::copy(std::as_bytes(std::span{out_program}), (*region)->host_address() + code_address);
  const auto slot = vm->set_memory_region(0, **region);  // KVM_SET_USER_MEMORY_REGION2 with the guest_memfd
  BOOST_TEST_REQUIRE(slot.has_value(), describe(slot));
  auto vcpu = vm->create_vcpu(0);
  BOOST_TEST_REQUIRE(vcpu.has_value());
  enter_real_mode(*vcpu);
  const auto out = expect_exit<kvm::io_out>(run_bounded(*vcpu));
  BOOST_TEST(out.port == 0x10);
  BOOST_TEST(value_of(out.data) == 0x42U);
}

BOOST_AUTO_TEST_CASE(create_guest_memfd_gives_a_close_on_exec_fd) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  const auto fd = vm->create_guest_memfd(memory_size);
  if (error_of(fd) == make_error_code(kvm::errc::capability_missing)) {
    BOOST_TEST_MESSAGE("skipped: no KVM_CAP_GUEST_MEMFD");
    return;
  }
  BOOST_TEST_REQUIRE(fd.has_value(), describe(fd));
  BOOST_TEST(vmm::testing::is_close_on_exec(fd->borrow()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(interrupts)

BOOST_AUTO_TEST_CASE(irqchip_pit_tss_and_identity_map_are_accepted) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  BOOST_TEST(vm->set_tss_address(tss_address).has_value());
  BOOST_TEST(vm->set_identity_map_address(identity_map_address).has_value());
  BOOST_TEST(vm->create_irqchip().has_value());
  BOOST_TEST(vm->create_pit2().has_value());
  BOOST_TEST(error_of(vm->create_pit2()) == os_error(EEXIST));
}

BOOST_AUTO_TEST_CASE(irq_line_raises_and_lowers_with_irqchip) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  BOOST_TEST_REQUIRE(vm->create_irqchip().has_value());
  BOOST_TEST(vm->set_irq_line(4, true).has_value());
  BOOST_TEST(vm->set_irq_line(4, false).has_value());
}

BOOST_AUTO_TEST_CASE(irqfd_registers_once_and_unregisters) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  BOOST_TEST_REQUIRE(vm->create_irqchip().has_value());
  const auto event = make_event();
  BOOST_TEST_REQUIRE(vm->register_irqfd(event.fd(), 4).has_value());
  BOOST_TEST(error_of(vm->register_irqfd(event.fd(), 4)) == os_error(EBUSY));
  BOOST_TEST(event.write(1).has_value());  // injects GSI 4 (nobody listens; KVM consumes the count)
  BOOST_TEST(vm->unregister_irqfd(event.fd(), 4).has_value());
  BOOST_TEST(vm->register_irqfd(event.fd(), 4).has_value());  // free again after unregistering
}

BOOST_AUTO_TEST_CASE(irqfd_with_resample_registers_for_a_level_gsi) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  BOOST_TEST_REQUIRE(vm->create_irqchip().has_value());
  const auto event = make_event();
  const auto resample = make_event();
  const auto registered = vm->register_irqfd_with_resample(event.fd(), resample.fd(), 5);
  BOOST_TEST_REQUIRE(registered.has_value(), describe(registered));
  BOOST_TEST(vm->unregister_irqfd(event.fd(), 5).has_value());
}

BOOST_AUTO_TEST_CASE(gsi_routing_takes_irqchip_and_msi_routes_and_an_irqfd_on_the_msi_gsi) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  BOOST_TEST_REQUIRE(vm->create_irqchip().has_value());
  const std::array<kvm::gsi_route, 3> routes{
      kvm::irqchip_route{.gsi = 4, .chip = kvm::irqchip::pic_master, .pin = 4},
      kvm::irqchip_route{.gsi = 4, .chip = kvm::irqchip::ioapic, .pin = 4},
      kvm::msi_route{.gsi = 24, .message = {.address_lo = 0xfee0'0000, .address_hi = 0, .data = 0x41}},
  };
  const auto set = vm->set_gsi_routing(routes);
  BOOST_TEST_REQUIRE(set.has_value(), describe(set));
  const auto event = make_event();
  BOOST_TEST(vm->register_irqfd(event.fd(), 24).has_value());
}

BOOST_AUTO_TEST_CASE(signal_msi_to_the_lapic_is_accepted) {
  auto g = make_guest(out_program, {.irqchip = true});
  if (!g) {
    return;
  }
  const auto delivered = g->vm.signal_msi({.address_lo = 0xfee0'0000, .address_hi = 0, .data = 0x41});
  BOOST_TEST_REQUIRE(delivered.has_value(), describe(delivered));
  BOOST_TEST(*delivered >= 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ioeventfd)

BOOST_AUTO_TEST_CASE(pio_write_signals_the_eventfd_without_an_exit) {
  auto g = make_guest(pio_event_program);
  if (!g) {
    return;
  }
  const auto event = make_event();
  BOOST_TEST_REQUIRE(
      g->vm.register_ioevent(event.fd(), {.space = kvm::io_event_space::pio, .address = 0x40}, 1).has_value());
  const auto out = expect_exit<kvm::io_out>(run_bounded(g->vcpu));
  BOOST_TEST(out.port == 0x41);  // the write to 0x40 did not exit
  BOOST_TEST(event.read().value_or(0) == 1U);
}

BOOST_AUTO_TEST_CASE(datamatch_signals_only_for_the_matching_value) {
  auto g = make_guest(datamatch_program);
  if (!g) {
    return;
  }
  const auto event = make_event();
  BOOST_TEST_REQUIRE(
      g->vm.register_ioevent(event.fd(), {.space = kvm::io_event_space::pio, .address = 0x50}, 1, 0x42).has_value());
  const auto mismatch = expect_exit<kvm::io_out>(run_bounded(g->vcpu));
  BOOST_TEST(mismatch.port == 0x50);
  BOOST_TEST(value_of(mismatch.data) == 0x41U);
  BOOST_TEST(error_of(event.read()) == os_error(EAGAIN));  // not signalled by the mismatch
  const auto next = expect_exit<kvm::io_out>(run_bounded(g->vcpu));
  BOOST_TEST(next.port == 0x51);
  BOOST_TEST(event.read().value_or(0) == 1U);
}

BOOST_AUTO_TEST_CASE(mmio_write_signals_the_eventfd_without_an_exit) {
  auto g = make_guest(mmio_event_program);
  if (!g) {
    return;
  }
  const auto event = make_event();
  BOOST_TEST_REQUIRE(
      g->vm.register_ioevent(event.fd(), {.space = kvm::io_event_space::mmio, .address = mmio_base}, 1).has_value());
  const auto write = expect_exit<kvm::mmio_write>(run_bounded(g->vcpu));
  BOOST_TEST(write.address == mmio_base + 4);
  BOOST_TEST(event.read().value_or(0) == 1U);
}

BOOST_AUTO_TEST_CASE(unregistered_ioevent_exits_again) {
  auto g = make_guest(pio_event_program);
  if (!g) {
    return;
  }
  const auto event = make_event();
  const kvm::io_event_address port{.space = kvm::io_event_space::pio, .address = 0x40};
  BOOST_TEST_REQUIRE(g->vm.register_ioevent(event.fd(), port, 1).has_value());
  BOOST_TEST_REQUIRE(g->vm.unregister_ioevent(event.fd(), port, 1).has_value());
  const auto out = expect_exit<kvm::io_out>(run_bounded(g->vcpu));
  BOOST_TEST(out.port == 0x40);
  BOOST_TEST(error_of(event.read()) == os_error(EAGAIN));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(clock_and_caps)

BOOST_AUTO_TEST_CASE(clock_set_forward_reads_back_at_least_that) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  const auto now = vm->get_clock();
  BOOST_TEST_REQUIRE(now.has_value(), describe(now));
  constexpr std::uint64_t hour_ns = 3600ULL * 1'000'000'000ULL;
  kvm::clock_data later{};
  later.clock = now->clock + hour_ns;
  BOOST_TEST_REQUIRE(vm->set_clock(later).has_value());
  const auto got = vm->get_clock();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->clock >= later.clock);
}

BOOST_AUTO_TEST_CASE(enable_cap_enables_manual_dirty_log_protect) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value());
  if (vm->check_extension(kvm::cap::manual_dirty_log_protect2).value_or(0) == 0) {
    BOOST_TEST_MESSAGE("skipped: no KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2");
    return;
  }
  const std::array<std::uint64_t, 1> manual_protect{1};  // KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE
  BOOST_TEST(vm->enable_cap(kvm::cap::manual_dirty_log_protect2, manual_protect).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dirty_tracking)

BOOST_AUTO_TEST_CASE(dirty_log_after_a_guest_write_marks_that_page_and_merges_into_vmm_memory) {
  auto g = make_guest(write_page_3_program, {.slot_flags = kvm::memory_flags::log_dirty_pages});
  if (!g) {
    return;
  }
  expect_exit<kvm::halt>(run_bounded(g->vcpu));
  const auto log = g->vm.get_dirty_log(0);
  BOOST_TEST_REQUIRE(log.has_value(), describe(log));
  BOOST_TEST_REQUIRE(log->size() == 1U);  // 16 pages: one word
  BOOST_TEST(bit(*log, dirty_page));
  BOOST_TEST(!bit(*log, dirty_page + 1));
  mem::dirty_bitmap bitmap{memory_size};
  BOOST_TEST_REQUIRE(bitmap.merge(*log).has_value());
  BOOST_TEST(bitmap.is_dirty(dirty_page));
  const auto again = g->vm.get_dirty_log(0);  // without manual protection, reading cleared the log
  BOOST_TEST_REQUIRE(again.has_value());
  BOOST_TEST(!bit(*again, dirty_page));
}

BOOST_AUTO_TEST_CASE(manual_protect_keeps_the_log_until_clear_dirty_log) {
  auto g =
      make_guest(write_page_3_program, {.slot_flags = kvm::memory_flags::log_dirty_pages, .manual_dirty_log = true});
  if (!g) {
    return;
  }
  expect_exit<kvm::halt>(run_bounded(g->vcpu));
  const auto first = g->vm.get_dirty_log(0);
  BOOST_TEST_REQUIRE(first.has_value(), describe(first));
  BOOST_TEST(bit(*first, dirty_page));
  const auto second = g->vm.get_dirty_log(0);
  BOOST_TEST_REQUIRE(second.has_value());
  BOOST_TEST(bit(*second, dirty_page));  // still there: reading does not clear
  const auto cleared = g->vm.clear_dirty_log(0, 0, memory_size / kvm::dirty_page_size, *second);
  BOOST_TEST_REQUIRE(cleared.has_value(), describe(cleared));
  const auto third = g->vm.get_dirty_log(0);
  BOOST_TEST_REQUIRE(third.has_value());
  BOOST_TEST(!bit(*third, dirty_page));
}

BOOST_AUTO_TEST_CASE(dirty_ring_harvests_the_written_page_and_resets) {
  auto system = open_system();
  if (!system) {
    return;
  }
  if (system->check_extension(kvm::cap::dirty_log_ring).value_or(0) == 0 &&
      system->check_extension(kvm::cap::dirty_log_ring_acq_rel).value_or(0) == 0) {
    BOOST_TEST_MESSAGE("skipped: no KVM_CAP_DIRTY_LOG_RING");
    return;
  }
  constexpr std::uint32_t ring_bytes = 65536;  // 4096 entries: above KVM's reserved entries on every host
  auto g = make_guest(write_page_3_program,
                      {.slot_flags = kvm::memory_flags::log_dirty_pages, .dirty_ring_bytes = ring_bytes});
  if (!g) {
    return;
  }
  BOOST_TEST(g->vm.dirty_ring_bytes() == ring_bytes);
  expect_exit<kvm::halt>(run_bounded(g->vcpu));
  const auto pages = g->vcpu.harvest_dirty_ring();
  BOOST_TEST_REQUIRE(pages.has_value(), describe(pages));
  BOOST_TEST(
      std::ranges::any_of(*pages, [](const kvm::dirty_page& p) { return p.slot == 0 && p.offset == dirty_page; }));
  const auto reset = g->vm.reset_dirty_rings();
  BOOST_TEST_REQUIRE(reset.has_value(), describe(reset));
  BOOST_TEST(*reset >= static_cast<int>(pages->size()));
  const auto none = g->vcpu.harvest_dirty_ring();
  BOOST_TEST_REQUIRE(none.has_value());
  BOOST_TEST(none->empty());
}

BOOST_AUTO_TEST_SUITE_END()
