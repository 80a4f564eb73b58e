// The packed virtqueue with vmm.testing's mock driver: chains over consecutive slots and across the ring's end, the
// wrap counters, indirect tables, out-of-order use, and event suppression (ENABLE, DISABLE, DESC with EVENT_IDX).
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.testing;

namespace mem = vmm::memory;
namespace q = vmm::virtio::queue;
namespace vt = vmm::testing;
using mem::guest_address;

namespace {

constexpr std::uint64_t with_event_idx = std::uint64_t{1} << q::feature::event_idx;
constexpr std::uint64_t with_indirect = std::uint64_t{1} << q::feature::indirect_desc;
// One 256 KiB region; a ring of 5 descriptors (packed sizes need not be powers of two) at 0x1000, the driver event
// structure at 0x2000, the device's at 0x3000, buffers from 64 KiB.
constexpr std::uint16_t ring_size = 5;
const guest_address ring_area{0x1000};
const guest_address driver_event_area{0x2000};
const guest_address device_event_area{0x3000};
const guest_address indirect_table{0x4000};

auto at(std::uint64_t offset) -> guest_address {
  return guest_address{0x10000 + offset};
}

auto make_memory() -> mem::guest_memory {
  const std::array layout{mem::guest_range{.start = guest_address{0}, .size = 0x40000}};
  return mem::guest_memory::anonymous(layout).value();
}

struct packed_rig {
  explicit packed_rig(std::uint64_t features = 0, std::uint16_t size = ring_size)
      : driver{memory, size, ring_area, driver_event_area, device_event_area},
        queue{q::packed_queue::create(driver.config(), features, memory).value()} {}

  /// Offers a chain of `n` one-byte buffers and moves it through the device and back to the driver.
  void cycle(std::size_t n) {
    const std::vector b(n, vt::driver_buffer{.address = at(0), .length = 1});
    driver.add_chain(b);
    const bool popped = queue.pop(memory, chain).value();
    queue.add_used(memory, chain.token(), 0).value();
    if (!popped || !driver.take_used()) {
      throw std::logic_error{"packed_rig::cycle: the chain did not go round"};
    }
  }

  mem::guest_memory memory = make_memory();
  vt::packed_driver driver;
  q::packed_queue queue;
  q::descriptor_chain chain;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(packed_queue_chains)

BOOST_AUTO_TEST_CASE(create_accepts_a_size_that_is_not_a_power_of_two) {
  const packed_rig rig;
  BOOST_TEST(rig.queue.size() == ring_size);
  BOOST_TEST(rig.queue.in_flight() == 0U);
  BOOST_TEST(!rig.queue.broken());
}

BOOST_AUTO_TEST_CASE(pop_on_a_ring_with_nothing_available_returns_false) {
  packed_rig rig;
  BOOST_TEST(!rig.queue.pop(rig.memory, rig.chain).value());
}

BOOST_AUTO_TEST_CASE(pop_chain_over_consecutive_slots_reports_its_id_and_slots) {
  packed_rig rig;
  const std::array b{vt::driver_buffer{.address = at(0), .length = 16},
                     vt::driver_buffer{.address = at(0x100), .length = 32, .writable = true},
                     vt::driver_buffer{.address = at(0x200), .length = 64, .writable = true}};
  const std::uint16_t id = rig.driver.add_chain(b);

  BOOST_TEST(rig.queue.pop(rig.memory, rig.chain).value());

  BOOST_TEST((rig.chain.token() == q::chain_token{.id = id, .slots = 3}));
  BOOST_TEST(rig.chain.readable().size() == 1U);
  BOOST_TEST(rig.chain.writable().size() == 2U);
  BOOST_TEST(rig.chain.writable_bytes() == 96U);
  BOOST_TEST(!rig.queue.pop(rig.memory, rig.chain).value());
}

BOOST_AUTO_TEST_CASE(add_used_writes_a_used_descriptor_the_driver_reads) {
  packed_rig rig;
  const std::array b{vt::driver_buffer{.address = at(0), .length = 4},
                     vt::driver_buffer{.address = at(0x100), .length = 8, .writable = true}};
  const std::uint16_t id = rig.driver.add_chain(b);
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());

  BOOST_TEST(rig.queue.add_used(rig.memory, rig.chain.token(), 8).has_value());

  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = id, .length = 8}));
  BOOST_TEST(rig.driver.next_used() == 2);
  BOOST_TEST(rig.queue.in_flight() == 0U);
}

BOOST_AUTO_TEST_CASE(pop_indirect_chain_reads_every_table_entry) {
  packed_rig rig{with_indirect};
  const std::array b{vt::driver_buffer{.address = at(0), .length = 4},
                     vt::driver_buffer{.address = at(0x100), .length = 4},
                     vt::driver_buffer{.address = at(0x200), .length = 4, .writable = true}};
  const std::uint16_t id = rig.driver.add_indirect_chain(b, indirect_table);

  BOOST_TEST(rig.queue.pop(rig.memory, rig.chain).value());

  BOOST_TEST((rig.chain.token() == q::chain_token{.id = id, .slots = 1}));
  BOOST_TEST(rig.chain.readable().size() == 2U);
  BOOST_TEST(rig.chain.writable().size() == 1U);
}

BOOST_AUTO_TEST_CASE(chain_across_the_ring_end_flips_the_wrap_counters) {
  packed_rig rig;
  rig.cycle(3);  // slots 0..2
  const std::array b{vt::driver_buffer{.address = at(0), .length = 1}, vt::driver_buffer{.address = at(1), .length = 2},
                     vt::driver_buffer{.address = at(2), .length = 3}};
  const std::uint16_t id = rig.driver.add_chain(b);  // slots 3, 4, 0 (the last one in the next lap)

  BOOST_TEST(rig.queue.pop(rig.memory, rig.chain).value());
  BOOST_TEST(rig.queue.add_used(rig.memory, rig.chain.token(), 6).has_value());

  BOOST_TEST(rig.chain.readable_bytes() == 6U);
  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = id, .length = 6}));
  BOOST_TEST(!rig.driver.avail_wrap());
  BOOST_TEST(!rig.driver.used_wrap());
  BOOST_TEST(rig.driver.next_used() == 1);
}

BOOST_AUTO_TEST_CASE(many_laps_of_mixed_chain_lengths_keep_driver_and_device_in_step) {
  packed_rig rig;
  for (int lap = 0; lap < 1000; ++lap) {
    rig.cycle(1 + (static_cast<std::size_t>(lap) % 3));
  }
  BOOST_TEST(rig.queue.stats().chains_popped == 1000U);
  BOOST_TEST(rig.queue.stats().chains_dropped == 0U);
  BOOST_TEST(rig.driver.free_slots() == ring_size);
}

BOOST_AUTO_TEST_CASE(chains_may_be_used_out_of_order) {
  packed_rig rig;
  const std::array one{vt::driver_buffer{.address = at(0), .length = 1}};
  const std::array two{vt::driver_buffer{.address = at(0), .length = 1},
                       vt::driver_buffer{.address = at(1), .length = 1}};
  const std::uint16_t first = rig.driver.add_chain(two);
  const std::uint16_t second = rig.driver.add_chain(one);
  q::descriptor_chain other;
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, other).value());

  BOOST_TEST(rig.queue.add_used(rig.memory, other.token(), 1).has_value());
  BOOST_TEST(rig.queue.add_used(rig.memory, rig.chain.token(), 2).has_value());

  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = second, .length = 1}));
  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = first, .length = 2}));
  BOOST_TEST(rig.driver.free_slots() == ring_size);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(packed_queue_event_suppression)

BOOST_AUTO_TEST_CASE(driver_enable_asks_for_an_interrupt_and_disable_suppresses_it) {
  packed_rig rig;
  rig.cycle(1);
  BOOST_TEST(rig.queue.needs_notification(rig.memory).value());  // ENABLE (0) after the driver zeroed it
  rig.driver.set_driver_event(q::packed_event_flag_disable);
  rig.cycle(1);
  BOOST_TEST(!rig.queue.needs_notification(rig.memory).value());
  BOOST_TEST(rig.queue.stats().notifications_suppressed == 1U);
}

BOOST_AUTO_TEST_CASE(enable_with_nothing_used_since_the_last_check_needs_no_interrupt) {
  packed_rig rig;
  rig.cycle(1);
  BOOST_TEST_REQUIRE(rig.queue.needs_notification(rig.memory).value());
  BOOST_TEST(!rig.queue.needs_notification(rig.memory).value());
}

BOOST_AUTO_TEST_CASE(desc_with_event_idx_interrupts_when_used_passes_the_offset) {
  packed_rig rig{with_event_idx};
  rig.driver.set_driver_event(q::packed_event_flag_desc, 2, true);  // when the descriptor at slot 2 is used
  rig.cycle(2);                                                     // slots 0, 1 used
  BOOST_TEST(!rig.queue.needs_notification(rig.memory).value());
  rig.cycle(1);  // slot 2 used
  BOOST_TEST(rig.queue.needs_notification(rig.memory).value());
}

BOOST_AUTO_TEST_CASE(desc_with_event_idx_honours_the_wrap_bit) {
  packed_rig rig{with_event_idx};
  rig.driver.set_driver_event(q::packed_event_flag_desc, 1, false);  // slot 1 of the next lap
  rig.cycle(3);
  BOOST_TEST(!rig.queue.needs_notification(rig.memory).value());  // slots 0..2 of this lap
  rig.cycle(3);                                                   // slots 3, 4 of this lap, 0 of the next
  BOOST_TEST(!rig.queue.needs_notification(rig.memory).value());
  rig.cycle(1);  // slot 1 of the next lap
  BOOST_TEST(rig.queue.needs_notification(rig.memory).value());
}

BOOST_AUTO_TEST_CASE(desc_without_event_idx_is_treated_as_enable) {
  packed_rig rig;
  rig.driver.set_driver_event(q::packed_event_flag_desc, 4, true);
  rig.cycle(1);
  BOOST_TEST(rig.queue.needs_notification(rig.memory).value());
}

BOOST_AUTO_TEST_CASE(enable_notification_with_event_idx_writes_desc_at_the_next_position) {
  packed_rig rig{with_event_idx};
  rig.cycle(3);
  rig.cycle(3);  // the device's next position: slot 1, wrap counter 0

  BOOST_TEST(!rig.queue.enable_notification(rig.memory).value());

  BOOST_TEST(rig.driver.device_event_flags() == q::packed_event_flag_desc);
  BOOST_TEST(rig.driver.device_event_off_wrap() == 1);
}

BOOST_AUTO_TEST_CASE(enable_and_disable_notification_without_event_idx_write_enable_and_disable) {
  packed_rig rig;
  BOOST_TEST(rig.queue.disable_notification(rig.memory).has_value());
  BOOST_TEST(rig.driver.device_event_flags() == q::packed_event_flag_disable);
  const std::array b{vt::driver_buffer{.address = at(0), .length = 1}};
  rig.driver.add_chain(b);

  BOOST_TEST(rig.queue.enable_notification(rig.memory).value());  // a chain is already available

  BOOST_TEST(rig.driver.device_event_flags() == q::packed_event_flag_enable);
}

BOOST_AUTO_TEST_SUITE_END()
