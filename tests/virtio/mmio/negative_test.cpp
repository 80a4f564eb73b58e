// Bad input to vmm.virtio.mmio: what a guest driver can write or read wrongly (widths, offsets, read-only and
// write-only registers, out-of-order status, unacceptable features, queue registers with a bad selector or value,
// queue configurations the queues refuse, notifications naming no queue), and the host's mistakes (a device the
// transport cannot drive, failing interrupt lines and eventfds). Each case: the exact outcome, the counter that
// records it, and nothing else changed.
#include <boost/test/unit_test.hpp>

#include <cerrno>

import std;
import vmm.sys;
import vmm.memory;
import vmm.device;
import vmm.virtio.queue;
import vmm.virtio.device;
import vmm.virtio.mmio;
import vmm.testing;
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

constexpr std::uint32_t negotiated = status::acknowledge | status::driver | status::features_ok;
constexpr std::uint32_t running = negotiated | status::driver_ok;
// What a read buffer holds before the transport fills it.
constexpr std::byte untouched{0xee};

auto create_with(mmio_fakes::fake_options options) -> vmm::result<std::shared_ptr<mmio::mmio_transport>> {
  return mmio::mmio_transport::create(
      {.device = std::make_shared<mmio_fakes::fake_device>(std::move(options)), .memory = mmio_fakes::make_memory()});
}

auto all_zero(std::span<const std::byte> data) -> bool {
  return std::ranges::all_of(data, [](std::byte b) { return b == std::byte{0}; });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(negative_create)

BOOST_AUTO_TEST_CASE(device_without_version_1_is_refused) {
  BOOST_TEST(error_of(create_with({.features = bit(0)})) == make_error_code(mmio::errc::version_1_not_offered));
}

BOOST_AUTO_TEST_CASE(device_with_more_than_max_queues_is_refused) {
  BOOST_TEST(error_of(create_with({.max_sizes = std::vector<std::uint16_t>(mmio::max_queues + 1, 16)})) ==
             make_error_code(mmio::errc::too_many_queues));
}

BOOST_AUTO_TEST_CASE(queue_maximum_of_zero_or_above_32768_is_refused) {
  BOOST_TEST(error_of(create_with({.max_sizes = {16, 0}})) == make_error_code(mmio::errc::invalid_queue_max_size));
  BOOST_TEST(error_of(create_with({.max_sizes = {32769}})) == make_error_code(mmio::errc::invalid_queue_max_size));
}

BOOST_AUTO_TEST_CASE(missing_device_or_memory_is_a_contract_violation) {
  const vmm::testing::contract_violation_guard guard;

  BOOST_CHECK_THROW(static_cast<void>(mmio::mmio_transport::create({.memory = mmio_fakes::make_memory()})),
                    vmm::testing::contract_violation_error);
  BOOST_CHECK_THROW(
      static_cast<void>(mmio::mmio_transport::create({.device = std::make_shared<mmio_fakes::fake_device>()})),
      vmm::testing::contract_violation_error);
}

BOOST_AUTO_TEST_CASE(error_messages_name_the_module_and_each_value) {
  BOOST_TEST(mmio::mmio_category().name() == std::string_view{"vmm.virtio.mmio"});
  for (const mmio::errc e : {mmio::errc::version_1_not_offered, mmio::errc::too_many_queues,
                             mmio::errc::invalid_queue_max_size, mmio::errc::ready_queue_after_unready}) {
    BOOST_TEST(!make_error_code(e).message().starts_with("Unknown"));
  }
  BOOST_TEST(mmio::mmio_category().message(0) == "Unknown vmm.virtio.mmio error 0");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(negative_access)

BOOST_AUTO_TEST_CASE(register_reads_not_four_bytes_wide_read_zeroes) {
  const bench b;
  std::array<std::byte, 1> one{untouched};
  std::array<std::byte, 2> two{untouched, untouched};
  std::array<std::byte, 8> eight{};
  eight.fill(untouched);

  b.transport->read(mmio_fakes::window_base, mmio::reg::magic_value, one);
  b.transport->read(mmio_fakes::window_base, mmio::reg::magic_value, two);
  b.transport->read(mmio_fakes::window_base, mmio::reg::magic_value, eight);
  b.transport->read(mmio_fakes::window_base, mmio::reg::magic_value, std::span<std::byte>{});

  BOOST_TEST(all_zero(one));
  BOOST_TEST(all_zero(two));
  BOOST_TEST(all_zero(eight));
  BOOST_TEST(b.transport->metrics().invalid_accesses == 4U);
}

BOOST_AUTO_TEST_CASE(unaligned_register_read_reads_zeroes) {
  const bench b;
  std::array<std::byte, 4> data{untouched, untouched, untouched, untouched};

  b.transport->read(mmio_fakes::window_base, mmio::reg::magic_value + 2, data);

  BOOST_TEST(all_zero(data));
  BOOST_TEST(b.transport->metrics().invalid_accesses == 1U);
}

BOOST_AUTO_TEST_CASE(register_writes_not_four_bytes_wide_or_unaligned_are_ignored) {
  const bench b;
  const std::array<std::byte, 1> ack{std::byte{status::acknowledge}};
  const std::array<std::byte, 8> wide{std::byte{status::acknowledge}};
  const std::array<std::byte, 4> four{std::byte{status::acknowledge}};

  b.transport->write(mmio_fakes::window_base, mmio::reg::status, ack);
  b.transport->write(mmio_fakes::window_base, mmio::reg::status, wide);
  b.transport->write(mmio_fakes::window_base, mmio::reg::status + 1, four);

  BOOST_TEST(b.read32(mmio::reg::status) == 0U);
  BOOST_TEST(b.transport->metrics().invalid_accesses == 3U);
}

BOOST_AUTO_TEST_CASE(reserved_legacy_and_write_only_registers_read_zero) {
  const bench b;
  constexpr std::array<std::uint64_t, 6> unreadable{
      0x028,  // GuestPageSize (legacy)
      0x040,  // QueuePFN (legacy)
      mmio::reg::queue_notify,
      mmio::reg::interrupt_ack,
      mmio::reg::queue_desc_low,
      0x0f8,  // reserved
  };

  for (const std::uint64_t offset : unreadable) {
    BOOST_TEST(b.read32(offset) == 0U, "offset " << offset);
  }

  BOOST_TEST(b.transport->metrics().unknown_register_reads == unreadable.size());
}

BOOST_AUTO_TEST_CASE(writes_to_read_only_and_reserved_registers_change_nothing) {
  const bench b;
  constexpr std::array<std::uint64_t, 7> read_only{
      mmio::reg::magic_value,
      mmio::reg::version,
      mmio::reg::device_id,
      mmio::reg::device_features,
      mmio::reg::interrupt_status,
      mmio::reg::config_generation,
      0x03c,  // QueueAlign (legacy)
  };

  for (const std::uint64_t offset : read_only) {
    b.write32(offset, 0x1234'5678U);
  }

  BOOST_TEST(b.read32(mmio::reg::magic_value) == mmio::magic);
  BOOST_TEST(b.read32(mmio::reg::version) == mmio::version);
  BOOST_TEST(b.read32(mmio::reg::device_id) == vdev::device_id::block);
  BOOST_TEST(b.read32(mmio::reg::interrupt_status) == 0U);
  BOOST_TEST(b.read32(mmio::reg::config_generation) == 0U);
  BOOST_TEST(b.transport->metrics().ignored_register_writes == read_only.size());
}

BOOST_AUTO_TEST_CASE(config_reads_past_the_device_space_read_zero) {
  const bench b;  // 16 bytes of configuration space

  BOOST_TEST(b.read32(mmio::reg::config + 16) == 0U);
  BOOST_TEST(b.read32(mmio::window_size - 4) == 0U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(negative_status)

BOOST_AUTO_TEST_CASE(skipping_a_step_is_refused) {
  const bench b;

  b.write32(mmio::reg::status, status::driver);
  BOOST_TEST(b.read32(mmio::reg::status) == 0U);
  b.write32(mmio::reg::status, status::acknowledge | status::driver);  // two steps at once
  BOOST_TEST(b.read32(mmio::reg::status) == 0U);

  BOOST_TEST(b.transport->metrics().invalid_status_writes == 2U);
}

BOOST_AUTO_TEST_CASE(driver_ok_before_features_ok_is_refused_and_activates_nothing) {
  const bench b;
  b.add_status(status::acknowledge);
  b.add_status(status::driver);

  BOOST_TEST(b.add_status(status::driver_ok) == (status::acknowledge | status::driver));

  BOOST_TEST(b.device->activate_calls() == 0U);
  BOOST_TEST(b.transport->metrics().invalid_status_writes == 1U);
}

BOOST_AUTO_TEST_CASE(clearing_a_bit_without_reset_is_refused) {
  const bench b;
  BOOST_TEST_REQUIRE(b.negotiate() == negotiated);

  b.write32(mmio::reg::status, status::acknowledge | status::driver);

  BOOST_TEST(b.read32(mmio::reg::status) == negotiated);
  BOOST_TEST(b.transport->metrics().invalid_status_writes == 1U);
}

BOOST_AUTO_TEST_CASE(driver_cannot_set_needs_reset_or_unknown_bits) {
  const bench b;
  b.add_status(status::acknowledge);

  b.write32(mmio::reg::status, status::acknowledge | status::needs_reset);
  b.write32(mmio::reg::status, status::acknowledge | 0x20U);  // no such status bit

  BOOST_TEST(b.read32(mmio::reg::status) == status::acknowledge);
  BOOST_TEST(b.transport->metrics().invalid_status_writes == 2U);
}

BOOST_AUTO_TEST_CASE(nothing_but_failed_can_be_added_after_driver_ok) {
  const bench b;
  BOOST_TEST_REQUIRE(b.bring_up() == running);

  b.write32(mmio::reg::status, running | 0x20U);

  BOOST_TEST(b.transport->status() == running);
  BOOST_TEST(b.transport->metrics().invalid_status_writes == 1U);
}

BOOST_AUTO_TEST_CASE(features_ok_without_version_1_is_refused) {
  const bench b;

  BOOST_TEST(b.negotiate(bit(0)) == (status::acknowledge | status::driver));  // FEATURES_OK reads back clear

  BOOST_TEST(b.transport->metrics().features_refused == 1U);
}

BOOST_AUTO_TEST_CASE(features_ok_with_an_unoffered_bit_is_refused) {
  const bench b;  // offers VERSION_1, EVENT_IDX and bit 0

  BOOST_TEST(b.negotiate(mmio_fakes::default_features | bit(vq::feature::indirect_desc)) ==
             (status::acknowledge | status::driver));

  BOOST_TEST(b.transport->metrics().features_refused == 1U);
}

BOOST_AUTO_TEST_CASE(after_a_refused_features_ok_corrected_features_are_accepted) {
  const bench b;
  BOOST_TEST_REQUIRE(b.negotiate(bit(0)) == (status::acknowledge | status::driver));

  b.accept_features(bit(vq::feature::version_1));

  BOOST_TEST(b.add_status(status::features_ok) == negotiated);
}

BOOST_AUTO_TEST_CASE(driver_features_with_a_selector_above_one_are_ignored) {
  const bench b;
  b.write32(mmio::reg::driver_features_sel, 2);

  b.write32(mmio::reg::driver_features, 0xffff'ffffU);

  BOOST_TEST(b.transport->driver_features() == 0U);
  BOOST_TEST(b.transport->metrics().ignored_feature_writes == 1U);
}

BOOST_AUTO_TEST_CASE(driver_features_after_features_ok_are_ignored) {
  const bench b;
  BOOST_TEST_REQUIRE(b.negotiate() == negotiated);

  b.accept_features(bit(vq::feature::version_1));

  BOOST_TEST(b.transport->driver_features() == mmio_fakes::default_features);
  BOOST_TEST(b.transport->metrics().ignored_feature_writes == 2U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(negative_queues)

BOOST_AUTO_TEST_CASE(queue_registers_of_a_queue_that_does_not_exist_are_ignored) {
  const bench b;
  const std::vector<vq::queue_config> before = b.transport->queue_configs();

  b.setup_queue(2, 16);  // six writes with QueueSel = 2

  BOOST_TEST((b.transport->queue_configs() == before));
  BOOST_TEST(b.read32(mmio::reg::queue_ready) == 0U);
  BOOST_TEST(b.transport->metrics().invalid_queue_writes == 8U);  // QueueNum, six area halves, QueueReady
}

BOOST_AUTO_TEST_CASE(queue_num_above_16_bits_and_queue_ready_above_one_are_ignored) {
  const bench b;
  b.write32(mmio::reg::queue_sel, 0);

  b.write32(mmio::reg::queue_num, 0x1'0010U);
  b.write32(mmio::reg::queue_ready, 2);

  BOOST_TEST(b.transport->queue_configs()[0].size == 0U);
  BOOST_TEST(!b.transport->queue_configs()[0].ready);
  BOOST_TEST(b.transport->metrics().invalid_queue_writes == 2U);
}

BOOST_AUTO_TEST_CASE(driver_ok_with_a_size_that_is_not_a_power_of_two_sets_needs_reset) {
  const bench b;
  b.negotiate();
  b.setup_queue(0, 100);

  BOOST_TEST(b.add_status(status::driver_ok) == (running | status::needs_reset));

  BOOST_TEST(b.device->activate_calls() == 0U);
  BOOST_TEST(!b.transport->active());
  BOOST_TEST(b.transport->last_activation_error() == make_error_code(vq::errc::invalid_configuration));
  BOOST_TEST(b.read32(mmio::reg::interrupt_status) == mmio::interrupt_config);
  BOOST_TEST(b.trigger->calls == 1U);
  BOOST_TEST(b.transport->metrics().activation_failures == 1U);
}

BOOST_AUTO_TEST_CASE(driver_ok_with_a_size_above_the_maximum_sets_needs_reset) {
  const bench b;
  b.negotiate();
  b.setup_queue(0, 256);
  b.setup_queue(1, 256);  // queue 1's maximum is 128

  BOOST_TEST(b.add_status(status::driver_ok) == (running | status::needs_reset));

  BOOST_TEST(b.transport->last_activation_error() == make_error_code(vq::errc::invalid_configuration));
}

BOOST_AUTO_TEST_CASE(driver_ok_with_a_misaligned_descriptor_table_sets_needs_reset) {
  const bench b;
  b.negotiate();
  b.setup_queue(0, 64);
  b.write32(mmio::reg::queue_desc_low, static_cast<std::uint32_t>(mmio_fakes::descriptor_area(0) + 8));

  BOOST_TEST(b.add_status(status::driver_ok) == (running | status::needs_reset));

  BOOST_TEST(b.transport->last_activation_error() == make_error_code(vq::errc::invalid_configuration));
}

BOOST_AUTO_TEST_CASE(driver_ok_with_a_ring_outside_guest_memory_sets_needs_reset) {
  const bench b;
  b.negotiate();
  b.setup_queue(0, 64);
  b.write_area(mmio::reg::queue_device_low, mmio_fakes::memory_size);  // just past the end

  BOOST_TEST(b.add_status(status::driver_ok) == (running | status::needs_reset));

  BOOST_TEST(b.transport->last_activation_error() == make_error_code(vq::errc::descriptor_out_of_memory));
}

BOOST_AUTO_TEST_CASE(driver_ok_with_a_ready_queue_after_an_unready_one_sets_needs_reset) {
  const bench b;
  b.negotiate();
  b.setup_queue(1, 64);  // queue 0 left unready

  BOOST_TEST(b.add_status(status::driver_ok) == (running | status::needs_reset));

  BOOST_TEST(b.transport->last_activation_error() == make_error_code(mmio::errc::ready_queue_after_unready));
  BOOST_TEST(b.device->activate_calls() == 0U);
}

BOOST_AUTO_TEST_CASE(device_refusing_activation_sets_needs_reset) {
  const bench b{{.refuse_activation = true}};

  BOOST_TEST(b.bring_up() == (running | status::needs_reset));

  BOOST_TEST(b.device->activate_calls() == 1U);
  BOOST_TEST(b.transport->last_activation_error() == std::make_error_code(std::errc::io_error));
  BOOST_TEST(b.read32(mmio::reg::interrupt_status) == mmio::interrupt_config);
}

BOOST_AUTO_TEST_CASE(after_needs_reset_only_failed_and_reset_are_accepted) {
  const bench b{{.refuse_activation = true}};
  BOOST_TEST_REQUIRE(b.bring_up() == (running | status::needs_reset));

  BOOST_TEST(b.add_status(status::failed) == (running | status::needs_reset | status::failed));
  b.write32(mmio::reg::status, 0);

  BOOST_TEST(b.read32(mmio::reg::status) == 0U);
  BOOST_TEST(b.transport->last_activation_error() == std::error_code{});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(negative_signals)

BOOST_AUTO_TEST_CASE(notify_naming_no_queue_is_ignored) {
  const bench b;

  b.write32(mmio::reg::queue_notify, 2);
  b.write32(mmio::reg::queue_notify, 0xffff'ffffU);

  BOOST_TEST(error_of(b.transport->queue_event(0).read()) == os_error(EAGAIN));
  BOOST_TEST(error_of(b.transport->queue_event(1).read()) == os_error(EAGAIN));
  BOOST_TEST(b.transport->metrics().invalid_notifications == 2U);
  BOOST_TEST(b.transport->metrics().notifications == 0U);
}

BOOST_AUTO_TEST_CASE(notify_on_a_full_eventfd_is_counted_not_blocked) {
  const bench b;
  // An eventfd counter holds at most 2^64 - 2; one more would block a blocking eventfd.
  BOOST_TEST_REQUIRE(b.transport->queue_event(0).write(std::numeric_limits<std::uint64_t>::max() - 1).has_value());

  b.write32(mmio::reg::queue_notify, 0);

  BOOST_TEST(b.transport->metrics().notification_errors == 1U);
  BOOST_TEST(b.transport->metrics().notifications == 0U);
}

BOOST_AUTO_TEST_CASE(failing_interrupt_line_is_reported_and_the_bit_stays_set) {
  const bench b;
  b.trigger->fail = true;

  const auto signalled = b.transport->interrupt()->signal(vdev::interrupt_cause::used_buffer);

  BOOST_TEST(error_of(signalled) == std::make_error_code(std::errc::resource_unavailable_try_again));
  BOOST_TEST(b.read32(mmio::reg::interrupt_status) == mmio::interrupt_vring);
  BOOST_TEST(b.transport->metrics().interrupt_errors == 1U);
}

BOOST_AUTO_TEST_CASE(unknown_interrupt_cause_bits_are_dropped_and_unknown_ack_bits_harmless) {
  const bench b;

  BOOST_TEST(b.transport->interrupt()->signal(static_cast<vdev::interrupt_cause>(0xf0U)).has_value());
  b.write32(mmio::reg::interrupt_ack, 0xffff'fffcU);

  BOOST_TEST(b.read32(mmio::reg::interrupt_status) == 0U);
}

BOOST_AUTO_TEST_CASE(transport_without_an_interrupt_line_still_sets_the_bits) {
  auto transport = mmio::mmio_transport::create(
      {.device = std::make_shared<mmio_fakes::fake_device>(), .memory = mmio_fakes::make_memory()});
  BOOST_TEST_REQUIRE(transport.has_value());

  BOOST_TEST((*transport)->interrupt()->signal(vdev::interrupt_cause::config_change).has_value());

  BOOST_TEST((*transport)->interrupt()->status() == mmio::interrupt_config);
  BOOST_TEST((*transport)->metrics().interrupts == 0U);
}

BOOST_AUTO_TEST_CASE(queue_event_past_the_last_queue_is_a_contract_violation) {
  const bench b;
  const vmm::testing::contract_violation_guard guard;

  BOOST_CHECK_THROW(static_cast<void>(b.transport->queue_event(2)), vmm::testing::contract_violation_error);
}

BOOST_AUTO_TEST_SUITE_END()
