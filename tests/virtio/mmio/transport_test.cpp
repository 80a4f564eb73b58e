// vmm.virtio.mmio's transport as a driver sees it: the identification registers, both halves of feature
// negotiation, the status walk, reset, queue setup and activation (the device gets the queues and features the
// driver configured), the configuration space and ConfigGeneration, InterruptStatus/InterruptACK, QueueNotify
// and its eventfds, and the notify eventfds registered as KVM ioeventfds with a real guest writing QueueNotify.
#include <boost/test/unit_test.hpp>

#include <cerrno>

#include "../../kvm/guest.hpp"

import vmm.device;
import vmm.virtio.queue;
import vmm.virtio.device;
import vmm.virtio.mmio;
import mmio_fakes;

namespace {

namespace mmio = vmm::virtio::mmio;
namespace vdev = vmm::virtio::device;
namespace vq = vmm::virtio::queue;
namespace status = vdev::status;
using mmio_fakes::bench;
using mmio_fakes::bit;
using vmm::testing::error_of;
using vmm::testing::os_error;

// The bits a complete negotiation leaves in the status.
constexpr std::uint32_t negotiated = status::acknowledge | status::driver | status::features_ok;
constexpr std::uint32_t running = negotiated | status::driver_ok;

auto drain(const vmm::sys::event_fd& event) -> std::uint64_t {
  return event.read().value_or(0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(identification)

BOOST_AUTO_TEST_CASE(magic_version_and_ids_read_as_the_spec_and_device_say) {
  const bench b{{.type = vdev::device_id::rng}};

  BOOST_TEST(b.read32(mmio::reg::magic_value) == 0x7472'6976U);  // "virt"
  BOOST_TEST(b.read32(mmio::reg::version) == 2U);
  BOOST_TEST(b.read32(mmio::reg::device_id) == vdev::device_id::rng);
  BOOST_TEST(b.read32(mmio::reg::vendor_id) == 0x1af4U);
}

BOOST_AUTO_TEST_CASE(queue_num_max_reads_each_queues_maximum_and_zero_past_the_last) {
  const bench b;

  b.write32(mmio::reg::queue_sel, 0);
  BOOST_TEST(b.read32(mmio::reg::queue_num_max) == 256U);
  b.write32(mmio::reg::queue_sel, 1);
  BOOST_TEST(b.read32(mmio::reg::queue_num_max) == 128U);
  b.write32(mmio::reg::queue_sel, 2);
  BOOST_TEST(b.read32(mmio::reg::queue_num_max) == 0U);  // the driver's way to count queues
  BOOST_TEST(b.transport->queue_count() == 2U);
}

BOOST_AUTO_TEST_CASE(shared_memory_regions_read_as_absent) {
  const bench b;

  b.write32(mmio::reg::shm_sel, 0);
  BOOST_TEST(b.read32(mmio::reg::shm_len_low) == 0xffff'ffffU);
  BOOST_TEST(b.read32(mmio::reg::shm_len_high) == 0xffff'ffffU);
  BOOST_TEST(b.read32(mmio::reg::shm_base_low) == 0xffff'ffffU);
  BOOST_TEST(b.read32(mmio::reg::shm_base_high) == 0xffff'ffffU);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(features)

BOOST_AUTO_TEST_CASE(device_features_show_both_halves_of_the_offer) {
  const std::uint64_t offer = bit(vq::feature::version_1) | bit(vq::feature::ring_packed) | bit(5) | bit(63);
  const bench b{{.features = offer}};

  BOOST_TEST(b.device_features() == offer);
  b.write32(mmio::reg::device_features_sel, 2);
  BOOST_TEST(b.read32(mmio::reg::device_features) == 0U);  // no third word
}

BOOST_AUTO_TEST_CASE(notification_data_is_never_offered) {
  const std::uint64_t offer = bit(vq::feature::version_1) | bit(vdev::feature::notification_data);
  const bench b{{.features = offer}};

  BOOST_TEST(b.device_features() == bit(vq::feature::version_1));
  BOOST_TEST(b.transport->offered_features() == bit(vq::feature::version_1));
}

BOOST_AUTO_TEST_CASE(driver_features_of_both_halves_are_negotiated) {
  const bench b;
  const std::uint64_t accepted = bit(vq::feature::version_1) | bit(0);  // a subset: EVENT_IDX left out

  BOOST_TEST(b.negotiate(accepted) == negotiated);
  BOOST_TEST(b.transport->driver_features() == accepted);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(status_walk)

BOOST_AUTO_TEST_CASE(each_step_in_order_is_accepted) {
  const bench b;

  BOOST_TEST(b.add_status(status::acknowledge) == status::acknowledge);
  BOOST_TEST(b.add_status(status::driver) == (status::acknowledge | status::driver));
  b.accept_features(mmio_fakes::default_features);
  BOOST_TEST(b.add_status(status::features_ok) == negotiated);
  BOOST_TEST(b.add_status(status::driver_ok) == running);
  BOOST_TEST(b.transport->metrics().invalid_status_writes == 0U);
}

BOOST_AUTO_TEST_CASE(failed_is_accepted_at_any_step_and_only_reset_follows) {
  const bench b;
  b.add_status(status::acknowledge);

  BOOST_TEST(b.add_status(status::failed) == (status::acknowledge | status::failed));
  BOOST_TEST(b.add_status(status::driver) == (status::acknowledge | status::failed));
  b.write32(mmio::reg::status, 0);
  BOOST_TEST(b.read32(mmio::reg::status) == 0U);
}

BOOST_AUTO_TEST_CASE(rewriting_the_same_status_changes_nothing_and_is_not_counted) {
  const bench b;
  b.add_status(status::acknowledge);

  b.write32(mmio::reg::status, status::acknowledge);

  BOOST_TEST(b.read32(mmio::reg::status) == status::acknowledge);
  BOOST_TEST(b.transport->metrics().invalid_status_writes == 0U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(reset)

BOOST_AUTO_TEST_CASE(writing_zero_resets_device_registers_queues_and_interrupts) {
  const bench b;
  BOOST_TEST_REQUIRE(b.bring_up() == running);
  BOOST_TEST_REQUIRE(b.transport->interrupt()->signal(vdev::interrupt_cause::used_buffer).has_value());
  b.write32(mmio::reg::queue_notify, 1);
  const std::uint32_t generation = b.read32(mmio::reg::config_generation);

  b.write32(mmio::reg::status, 0);

  BOOST_TEST(b.read32(mmio::reg::status) == 0U);
  BOOST_TEST(b.device->resets() == 1U);
  BOOST_TEST(b.device->queues().empty());
  BOOST_TEST(!b.transport->active());
  BOOST_TEST(b.transport->driver_features() == 0U);
  BOOST_TEST(b.read32(mmio::reg::interrupt_status) == 0U);
  BOOST_TEST(error_of(b.transport->queue_event(1).read()) == os_error(EAGAIN));  // the stale notification is gone
  BOOST_TEST(b.read32(mmio::reg::config_generation) == generation);              // never goes back
  for (const vq::queue_config& q : b.transport->queue_configs()) {
    vq::queue_config initial;
    initial.max_size = q.max_size;
    BOOST_TEST((q == initial));
  }
  BOOST_TEST(b.transport->metrics().resets == 1U);
}

BOOST_AUTO_TEST_CASE(after_a_reset_the_driver_can_bring_the_device_up_again) {
  const bench b;
  BOOST_TEST_REQUIRE(b.bring_up() == running);
  b.write32(mmio::reg::status, 0);

  BOOST_TEST(b.bring_up() == running);

  BOOST_TEST(b.device->activations().size() == 2U);
  BOOST_TEST(b.transport->metrics().activations == 2U);
}

BOOST_AUTO_TEST_CASE(destroying_an_active_transport_resets_its_device) {
  bench b;
  BOOST_TEST_REQUIRE(b.bring_up() == running);

  b.transport.reset();  // the last owner

  BOOST_TEST(b.device->resets() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(activation)

BOOST_AUTO_TEST_CASE(driver_ok_hands_the_device_the_configured_queues_and_features) {
  const bench b;
  const std::uint64_t accepted = bit(vq::feature::version_1) | bit(vq::feature::event_idx);
  b.negotiate(accepted);
  b.setup_queue(0, 64);
  b.setup_queue(1, 32);

  BOOST_TEST(b.add_status(status::driver_ok) == running);

  const auto activations = b.device->activations();
  BOOST_TEST_REQUIRE(activations.size() == 1U);
  const mmio_fakes::activation_record& a = activations[0];
  BOOST_TEST(a.features == accepted);
  BOOST_TEST((a.queue_sizes == std::vector<std::uint16_t>{64, 32}));
  BOOST_TEST((a.packed == std::vector<bool>{false, false}));
  BOOST_TEST((a.queue_event_fds ==
              std::vector<int>{b.transport->queue_event(0).fd().get(), b.transport->queue_event(1).fd().get()}));
  BOOST_TEST(a.interrupt == b.transport->interrupt());
  BOOST_TEST(a.memory == b.memory);
  BOOST_TEST(b.transport->active());
}

BOOST_AUTO_TEST_CASE(queue_registers_are_stored_as_written_before_driver_ok) {
  const bench b;
  b.negotiate();

  b.setup_queue(1, 16);

  const vq::queue_config q = b.transport->queue_configs()[1];
  BOOST_TEST(q.size == 16U);
  BOOST_TEST(q.ready);
  BOOST_TEST(q.descriptor_area.raw() == mmio_fakes::descriptor_area(1));
  BOOST_TEST(q.driver_area.raw() == mmio_fakes::driver_area(1));
  BOOST_TEST(q.device_area.raw() == mmio_fakes::device_area(1));
  b.write32(mmio::reg::queue_sel, 1);
  BOOST_TEST(b.read32(mmio::reg::queue_ready) == 1U);
}

BOOST_AUTO_TEST_CASE(high_halves_of_the_areas_reach_the_configuration) {
  const bench b;
  b.write32(mmio::reg::queue_sel, 0);

  b.write_area(mmio::reg::queue_desc_low, 0x1234'5678'9abc'def0ULL);

  BOOST_TEST(b.transport->queue_configs()[0].descriptor_area.raw() == 0x1234'5678'9abc'def0ULL);
}

BOOST_AUTO_TEST_CASE(packed_ring_negotiated_builds_packed_queues) {
  const std::uint64_t offer = bit(vq::feature::version_1) | bit(vq::feature::ring_packed);
  const bench b{{.features = offer, .max_sizes = {256}}};

  BOOST_TEST(b.bring_up(offer) == running);

  const auto activations = b.device->activations();
  BOOST_TEST_REQUIRE(activations.size() == 1U);
  BOOST_TEST((activations[0].packed == std::vector<bool>{true}));
}

BOOST_AUTO_TEST_CASE(unready_trailing_queues_are_left_out_of_the_activation) {
  const bench b;
  b.negotiate();
  b.setup_queue(0, 64);

  BOOST_TEST(b.add_status(status::driver_ok) == running);

  const auto activations = b.device->activations();
  BOOST_TEST_REQUIRE(activations.size() == 1U);
  BOOST_TEST((activations[0].queue_sizes == std::vector<std::uint16_t>{64}));
  BOOST_TEST(activations[0].queue_event_fds.size() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(config_space)

BOOST_AUTO_TEST_CASE(reads_of_every_width_come_from_the_device) {
  const bench b;
  std::array<std::byte, 1> one{};
  std::array<std::byte, 2> two{};
  std::array<std::byte, 8> eight{};

  b.transport->read(mmio_fakes::window_base, mmio::reg::config + 3, one);
  b.transport->read(mmio_fakes::window_base, mmio::reg::config + 5, two);
  b.transport->read(mmio_fakes::window_base, mmio::reg::config + 8, eight);

  BOOST_TEST(std::to_integer<int>(one[0]) == 3);  // the fake's byte i holds i
  BOOST_TEST(std::to_integer<int>(two[1]) == 6);
  BOOST_TEST(std::to_integer<int>(eight[7]) == 15);
  BOOST_TEST(b.read32(mmio::reg::config + 12) == 0x0f0e'0d0cU);
  BOOST_TEST(b.transport->metrics().config_reads == 4U);
}

BOOST_AUTO_TEST_CASE(writes_reach_the_device_at_their_offset) {
  const bench b;
  const std::array data{std::byte{0xaa}, std::byte{0xbb}};

  b.transport->write(mmio_fakes::window_base, mmio::reg::config + 2, data);

  const auto writes = b.device->config_writes();
  BOOST_TEST_REQUIRE(writes.size() == 1U);
  BOOST_TEST(writes[0].offset == 2U);
  BOOST_TEST((writes[0].bytes == std::vector<std::byte>{data.begin(), data.end()}));
  BOOST_TEST(b.transport->metrics().config_writes == 1U);
}

BOOST_AUTO_TEST_CASE(config_changed_bumps_the_generation_and_raises_a_config_interrupt) {
  const bench b;
  const std::uint32_t before = b.read32(mmio::reg::config_generation);

  b.transport->config_changed();

  BOOST_TEST(b.read32(mmio::reg::config_generation) == before + 1);
  BOOST_TEST(b.read32(mmio::reg::interrupt_status) == mmio::interrupt_config);
  BOOST_TEST(b.trigger->calls == 1U);
  BOOST_TEST(b.transport->metrics().config_changes == 1U);
}

BOOST_AUTO_TEST_CASE(update_config_changes_the_space_and_the_generation_in_one_step) {
  const bench b;
  const std::uint32_t before = b.read32(mmio::reg::config_generation);

  b.transport->update_config([&] { b.device->set_config_byte(0, std::byte{0x5a}); });

  BOOST_TEST(b.read32(mmio::reg::config_generation) == before + 1);
  BOOST_TEST((b.read32(mmio::reg::config) & 0xffU) == 0x5aU);
  BOOST_TEST(b.read32(mmio::reg::interrupt_status) == mmio::interrupt_config);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(interrupts)

BOOST_AUTO_TEST_CASE(signals_set_status_bits_and_trigger_the_line_each_time) {
  const bench b;
  const std::shared_ptr<mmio::mmio_interrupt> irq = b.transport->interrupt();

  BOOST_TEST(irq->signal(vdev::interrupt_cause::used_buffer).has_value());
  BOOST_TEST(irq->signal(vdev::interrupt_cause::used_buffer).has_value());
  BOOST_TEST(irq->signal(vdev::interrupt_cause::config_change).has_value());

  BOOST_TEST(b.read32(mmio::reg::interrupt_status) == (mmio::interrupt_vring | mmio::interrupt_config));
  BOOST_TEST(b.trigger->calls == 3U);
  BOOST_TEST(b.transport->metrics().interrupts == 3U);
}

BOOST_AUTO_TEST_CASE(interrupt_ack_clears_only_the_acknowledged_bits) {
  const bench b;
  BOOST_TEST_REQUIRE(b.transport->interrupt()->signal(vdev::interrupt_cause::used_buffer).has_value());
  BOOST_TEST_REQUIRE(b.transport->interrupt()->signal(vdev::interrupt_cause::config_change).has_value());

  b.write32(mmio::reg::interrupt_ack, mmio::interrupt_vring);

  BOOST_TEST(b.read32(mmio::reg::interrupt_status) == mmio::interrupt_config);
  b.write32(mmio::reg::interrupt_ack, mmio::interrupt_config);
  BOOST_TEST(b.read32(mmio::reg::interrupt_status) == 0U);
}

BOOST_AUTO_TEST_CASE(event_fd_trigger_makes_the_irqfd_readable) {
  auto event = vmm::sys::event_fd::create({.initial = 0, .semaphore = false, .nonblocking = true});
  BOOST_TEST_REQUIRE(event.has_value());
  const auto line = std::make_shared<vmm::device::event_fd_trigger>(std::move(*event));
  const auto device = std::make_shared<mmio_fakes::fake_device>();
  auto transport =
      mmio::mmio_transport::create({.device = device, .memory = mmio_fakes::make_memory(), .interrupt = line});
  BOOST_TEST_REQUIRE(transport.has_value());

  BOOST_TEST((*transport)->interrupt()->signal(vdev::interrupt_cause::used_buffer).has_value());

  BOOST_TEST(drain(line->event()) == 1U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(notifications)

BOOST_AUTO_TEST_CASE(queue_notify_makes_that_queues_eventfd_readable) {
  const bench b;
  BOOST_TEST_REQUIRE(b.bring_up() == running);

  b.write32(mmio::reg::queue_notify, 1);
  b.write32(mmio::reg::queue_notify, 1);

  BOOST_TEST(drain(b.transport->queue_event(1)) == 2U);
  BOOST_TEST(error_of(b.transport->queue_event(0).read()) == os_error(EAGAIN));
  BOOST_TEST(b.transport->metrics().notifications == 2U);
}

BOOST_AUTO_TEST_CASE(notify_address_is_the_queue_notify_register_of_the_window) {
  BOOST_TEST(mmio::notify_address(vmm::device::bus_address{0xd000'0000}) == 0xd000'0050U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(kvm_notify)

// A real-mode guest with the transport's window at kvm_test::mmio_base (no memory there): DS = 0x1000 makes
// [0x50] the QueueNotify register. It notifies queue 1 (an ioeventfd with datamatch 1: no exit), then names queue
// 7, which no ioeventfd matches (an MMIO exit the VMM passes to the bus), then halts.
constexpr std::array<std::uint8_t, 24> notify_program{
    0xb8, 0x00, 0x10,                                      // mov ax, 0x1000
    0x8e, 0xd8,                                            // mov ds, ax
    0x66, 0xc7, 0x06, 0x50, 0x00, 0x01, 0x00, 0x00, 0x00,  // mov dword [0x50], 1
    0x66, 0xc7, 0x06, 0x50, 0x00, 0x07, 0x00, 0x00, 0x00,  // mov dword [0x50], 7
    0xf4,                                                  // hlt
};

BOOST_AUTO_TEST_CASE(guest_notify_signals_the_queues_ioeventfd_without_an_exit) {
  auto g = kvm_test::make_guest(notify_program);
  if (!g) {
    return;  // skipped, with the message make_guest printed
  }
  const bench b;
  const vmm::device::bus_address base{kvm_test::mmio_base};
  vmm::device::mmio_bus bus;
  BOOST_TEST_REQUIRE(bus.insert(base, mmio::window_size, b.transport).has_value());
  BOOST_TEST_REQUIRE(b.bring_up() == running);
  auto registered = mmio::register_notify_ioeventfds(g->vm, *b.transport, base);
  BOOST_TEST_REQUIRE(registered.has_value(), vmm::testing::describe(registered));

  const auto exit = kvm_test::expect_exit<vmm::kvm::mmio_write>(kvm_test::run_bounded(g->vcpu));
  BOOST_TEST(exit.address == mmio::notify_address(base));
  BOOST_TEST(bus.write(vmm::device::bus_address{exit.address}, exit.data).has_value());
  kvm_test::expect_exit<vmm::kvm::halt>(kvm_test::run_bounded(g->vcpu));

  BOOST_TEST(drain(b.transport->queue_event(1)) == 1U);  // delivered by KVM
  BOOST_TEST(error_of(b.transport->queue_event(0).read()) == os_error(EAGAIN));
  BOOST_TEST(b.transport->metrics().notifications == 0U);  // the transport never saw it
  BOOST_TEST(b.transport->metrics().invalid_notifications == 1U);
  BOOST_TEST(mmio::unregister_notify_ioeventfds(g->vm, *b.transport, base).has_value());
}

BOOST_AUTO_TEST_CASE(registration_that_fails_midway_leaves_no_queue_registered) {
  auto g = kvm_test::make_guest(notify_program);
  if (!g) {
    return;
  }
  const bench b;
  const vmm::device::bus_address base{kvm_test::mmio_base};
  const vmm::kvm::io_event_address notify{.space = vmm::kvm::io_event_space::mmio,
                                          .address = mmio::notify_address(base)};
  auto other = vmm::sys::event_fd::create({.initial = 0, .semaphore = false, .nonblocking = true});
  BOOST_TEST_REQUIRE(other.has_value());
  // Someone else already listens for queue 1's notification.
  BOOST_TEST_REQUIRE(g->vm.register_ioevent(other->fd(), notify, 4, 1).has_value());

  BOOST_TEST(error_of(mmio::register_notify_ioeventfds(g->vm, *b.transport, base)) == os_error(EEXIST));

  // Queue 0's registration was undone, so unregistering finds nothing for it.
  BOOST_TEST(error_of(g->vm.unregister_ioevent(b.transport->queue_event(0).fd(), notify, 4, 0)) == os_error(ENOENT));
  BOOST_TEST(error_of(mmio::unregister_notify_ioeventfds(g->vm, *b.transport, base)) == os_error(ENOENT));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(concurrency)

// vCPU threads use one transport at once: two notify their queues, one acknowledges interrupts and reads the
// status, while another resets and brings the device up again and again. Every notification is counted, every
// status read is one the state machine allows, and the device ends active.
BOOST_AUTO_TEST_CASE(vcpu_threads_notifying_while_one_resets_see_consistent_state) {
  constexpr int rounds = 200;
  const bench b;
  std::atomic<bool> bad_status{false};
  std::vector<std::thread> vcpus;
  for (std::uint32_t queue = 0; queue < 2; ++queue) {
    vcpus.emplace_back([&b, queue] {
      for (int i = 0; i < rounds; ++i) {
        b.write32(mmio::reg::queue_notify, queue);
      }
    });
  }
  vcpus.emplace_back([&b, &bad_status] {
    constexpr std::array allowed{0U, status::acknowledge, status::acknowledge | status::driver, negotiated, running};
    for (int i = 0; i < rounds; ++i) {
      b.write32(mmio::reg::interrupt_ack, mmio::interrupt_mask);
      if (std::ranges::find(allowed, b.read32(mmio::reg::status)) == allowed.end()) {
        bad_status = true;
      }
    }
  });
  for (int i = 0; i < rounds / 10; ++i) {
    b.write32(mmio::reg::status, 0);
    b.bring_up();
  }
  for (std::thread& t : vcpus) {
    t.join();
  }

  BOOST_TEST(!bad_status);
  BOOST_TEST(b.transport->metrics().notifications == 2U * rounds);
  BOOST_TEST(b.transport->active());
  BOOST_TEST(b.device->resets() == static_cast<std::size_t>(rounds / 10));
}

BOOST_AUTO_TEST_SUITE_END()
