// Bad input to vmm.virtio.queue: every errc that create, pop and add_used return, in both layouts, each with the
// exact error and proof of what happened to the entry (returned to the driver with used length 0, or not returned
// at all) and that the next good chain is still processed. The regression suite holds one case per advisory.
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
using vt::error_of;

namespace {

constexpr std::uint64_t with_indirect = std::uint64_t{1} << q::feature::indirect_desc;
// Two adjacent 256 KiB regions: rings at the start of the first (or, for the hot-unplug cases, of the second),
// buffers from 64 KiB, the indirect table at 0x4000.
constexpr std::uint64_t region_size = 0x40000;
constexpr std::uint16_t queue_size = 8;
constexpr std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
const guest_address indirect_table{0x4000};
const guest_address unmapped{0x900000};

auto err(q::errc e) -> std::error_code {
  return make_error_code(e);
}

auto buf(std::uint64_t offset) -> std::uint64_t {
  return 0x10000 + offset;
}

auto make_memory() -> mem::guest_memory {
  const std::array layout{mem::guest_range{.start = guest_address{0}, .size = region_size},
                          mem::guest_range{.start = guest_address{region_size}, .size = region_size}};
  return mem::guest_memory::anonymous(layout).value();
}

auto config(std::uint16_t size, std::uint16_t max_size, std::uint64_t desc, std::uint64_t driver, std::uint64_t device)
    -> q::queue_config {
  return {.max_size = max_size,
          .size = size,
          .ready = true,
          .descriptor_area = guest_address{desc},
          .driver_area = guest_address{driver},
          .device_area = guest_address{device}};
}

struct split_rig {
  explicit split_rig(std::uint64_t features = 0, std::uint64_t base = 0)
      : driver{memory, queue_size, guest_address{base + 0x1000}, guest_address{base + 0x2000},
               guest_address{base + 0x3000}},
        queue{q::split_queue::create(driver.config(), features, memory).value()} {}

  /// Makes descriptor `head` available (the descriptors were written raw).
  void offer_raw(std::uint16_t head) {
    driver.push_head(head);
    driver.publish();
  }
  /// Offers a good one-buffer chain.
  auto offer_good() -> std::uint16_t {
    const std::array b{vt::driver_buffer{.address = guest_address{buf(0)}, .length = 8, .writable = true}};
    return driver.offer(b);
  }
  auto pop() -> vmm::result<bool> { return queue.pop(memory, chain); }

  mem::guest_memory memory = make_memory();
  vt::split_driver driver;
  q::split_queue queue;
  q::descriptor_chain chain;
};

/// Pops a malformed chain made of raw descriptors at head 0, expecting `e`, and checks it came back with length 0
/// and left the queue working (the next good chain pops).
void expect_returned_with_zero_length(split_rig& rig, q::errc e) {
  rig.offer_raw(0);

  const auto popped = rig.pop();

  BOOST_TEST(error_of(popped) == err(e));
  BOOST_TEST(rig.chain.descriptors().empty());
  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = 0, .length = 0}));
  BOOST_TEST(rig.queue.stats().chains_dropped == 1U);
  BOOST_TEST(rig.queue.stats().last_error == err(e));
  BOOST_TEST(rig.queue.in_flight() == 0U);
  rig.driver.write_descriptor(0, {.addr = buf(0), .len = 8, .flags = q::desc_f_write, .next = 0});
  rig.offer_raw(0);
  BOOST_TEST(rig.pop().value());
}

struct packed_rig {
  explicit packed_rig(std::uint64_t features = 0, std::uint64_t base = 0)
      : driver{memory, queue_size, guest_address{base + 0x1000}, guest_address{base + 0x2000},
               guest_address{base + 0x3000}},
        queue{q::packed_queue::create(driver.config(), features, memory).value()} {}

  auto pop() -> vmm::result<bool> { return queue.pop(memory, chain); }
  auto offer_good() -> std::uint16_t {
    const std::array b{vt::driver_buffer{.address = guest_address{buf(0)}, .length = 8, .writable = true}};
    return driver.add_chain(b);
  }

  mem::guest_memory memory = make_memory();
  vt::packed_driver driver;
  q::packed_queue queue;
  q::descriptor_chain chain;
};

/// Makes `ds` available as one chain with buffer id 3 (the last descriptor's), pops it expecting `e`, checks that
/// it came back with length 0 over all its slots and that a good chain after it pops.
void expect_returned_with_zero_length(packed_rig& rig, std::vector<q::packed_descriptor> ds, q::errc e) {
  ds.back().id = 3;
  rig.driver.make_available(ds);

  const auto popped = rig.pop();

  BOOST_TEST(error_of(popped) == err(e));
  BOOST_TEST(rig.chain.descriptors().empty());
  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = 3, .length = 0}));
  BOOST_TEST(rig.driver.next_used() == ds.size());
  BOOST_TEST(rig.queue.stats().chains_dropped == 1U);
  BOOST_TEST(rig.queue.in_flight() == 0U);
  rig.offer_good();
  BOOST_TEST(rig.pop().value());
}

const q::packed_descriptor good_packed{.addr = buf(0), .len = 8, .id = 0, .flags = q::desc_f_write};

}  // namespace

BOOST_AUTO_TEST_SUITE(split_create_refuses)

BOOST_AUTO_TEST_CASE(size_zero_is_invalid_configuration) {
  const auto memory = make_memory();
  BOOST_TEST(error_of(q::split_queue::create(config(0, 8, 0x1000, 0x2000, 0x3000), 0, memory)) ==
             err(q::errc::invalid_configuration));
}

BOOST_AUTO_TEST_CASE(size_not_a_power_of_two_is_invalid_configuration) {
  const auto memory = make_memory();
  BOOST_TEST(error_of(q::split_queue::create(config(6, 8, 0x1000, 0x2000, 0x3000), 0, memory)) ==
             err(q::errc::invalid_configuration));
}

BOOST_AUTO_TEST_CASE(size_above_max_size_is_invalid_configuration) {
  const auto memory = make_memory();
  BOOST_TEST(error_of(q::split_queue::create(config(16, 8, 0x1000, 0x2000, 0x3000), 0, memory)) ==
             err(q::errc::invalid_configuration));
}

BOOST_AUTO_TEST_CASE(queue_not_ready_is_invalid_configuration) {
  const auto memory = make_memory();
  auto c = config(8, 8, 0x1000, 0x2000, 0x3000);
  c.ready = false;
  BOOST_TEST(error_of(q::split_queue::create(c, 0, memory)) == err(q::errc::invalid_configuration));
}

BOOST_AUTO_TEST_CASE(misaligned_rings_are_invalid_configuration) {
  const auto memory = make_memory();
  BOOST_TEST(error_of(q::split_queue::create(config(8, 8, 0x1008, 0x2000, 0x3000), 0, memory)) ==
             err(q::errc::invalid_configuration));
  BOOST_TEST(error_of(q::split_queue::create(config(8, 8, 0x1000, 0x2001, 0x3000), 0, memory)) ==
             err(q::errc::invalid_configuration));
  BOOST_TEST(error_of(q::split_queue::create(config(8, 8, 0x1000, 0x2000, 0x3002), 0, memory)) ==
             err(q::errc::invalid_configuration));
}

BOOST_AUTO_TEST_CASE(rings_outside_guest_memory_are_descriptor_out_of_memory) {
  const auto memory = make_memory();
  constexpr std::uint64_t end = 2 * region_size;
  BOOST_TEST(error_of(q::split_queue::create(config(8, 8, end - 0x40, 0x2000, 0x3000), 0, memory)) ==
             err(q::errc::descriptor_out_of_memory));
  BOOST_TEST(error_of(q::split_queue::create(config(8, 8, 0x1000, end - 0x10, 0x3000), 0, memory)) ==
             err(q::errc::descriptor_out_of_memory));
  BOOST_TEST(error_of(q::split_queue::create(config(8, 8, 0x1000, 0x2000, top - 3), 0, memory)) ==
             err(q::errc::descriptor_out_of_memory));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(split_pop_refuses)

BOOST_AUTO_TEST_CASE(avail_idx_more_than_size_ahead_breaks_the_queue_for_good) {
  split_rig rig;
  rig.driver.set_avail_idx(queue_size + 1);
  rig.driver.publish();

  const auto popped = rig.pop();
  rig.driver.set_avail_idx(1);  // the driver "fixes" it: the queue stays broken until reset
  rig.driver.publish();

  BOOST_TEST(error_of(popped) == err(q::errc::queue_broken));
  BOOST_TEST(rig.queue.broken());
  BOOST_TEST(error_of(rig.pop()) == err(q::errc::queue_broken));
  BOOST_TEST(rig.queue.pending(rig.memory).value() == 0);
  BOOST_TEST(error_of(rig.queue.enable_notification(rig.memory)) == err(q::errc::queue_broken));
}

BOOST_AUTO_TEST_CASE(head_out_of_range_is_dropped_without_a_used_entry) {
  split_rig rig;
  rig.offer_raw(queue_size);
  const std::uint16_t good = rig.offer_good();

  BOOST_TEST(error_of(rig.pop()) == err(q::errc::head_out_of_range));
  BOOST_TEST(rig.pop().value());

  BOOST_TEST(rig.chain.token().id == good);
  BOOST_TEST(rig.driver.used_idx() == 0);
  BOOST_TEST(rig.queue.stats().chains_dropped == 1U);
}

BOOST_AUTO_TEST_CASE(next_out_of_range_is_returned_with_zero_length) {
  split_rig rig;
  rig.driver.write_descriptor(0, {.addr = buf(0), .len = 8, .flags = q::desc_f_next, .next = queue_size});
  expect_returned_with_zero_length(rig, q::errc::next_out_of_range);
}

BOOST_AUTO_TEST_CASE(descriptor_loop_is_chain_too_long) {
  split_rig rig;
  rig.driver.write_descriptor(0, {.addr = buf(0), .len = 8, .flags = q::desc_f_next, .next = 1});
  rig.driver.write_descriptor(1, {.addr = buf(8), .len = 8, .flags = q::desc_f_next, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::chain_too_long);
}

BOOST_AUTO_TEST_CASE(readable_after_writable_is_refused) {
  split_rig rig;
  rig.driver.write_descriptor(0, {.addr = buf(0), .len = 8, .flags = q::desc_f_write | q::desc_f_next, .next = 1});
  rig.driver.write_descriptor(1, {.addr = buf(8), .len = 8, .flags = 0, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::readable_after_writable);
}

BOOST_AUTO_TEST_CASE(buffer_outside_guest_memory_is_descriptor_out_of_memory) {
  split_rig rig;
  rig.driver.write_descriptor(0, {.addr = unmapped.raw(), .len = 8, .flags = 0, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::descriptor_out_of_memory);
}

BOOST_AUTO_TEST_CASE(buffer_running_past_the_end_of_memory_is_descriptor_out_of_memory) {
  split_rig rig;
  rig.driver.write_descriptor(0, {.addr = (2 * region_size) - 4, .len = 8, .flags = 0, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::descriptor_out_of_memory);
}

BOOST_AUTO_TEST_CASE(buffer_whose_end_wraps_past_2_64_is_descriptor_out_of_memory) {
  split_rig rig;
  rig.driver.write_descriptor(0, {.addr = top - 3, .len = 8, .flags = 0, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::descriptor_out_of_memory);
}

BOOST_AUTO_TEST_CASE(indirect_without_the_feature_is_indirect_not_negotiated) {
  split_rig rig;
  rig.driver.write_descriptor(0, {.addr = indirect_table.raw(), .len = 16, .flags = q::desc_f_indirect, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::indirect_not_negotiated);
}

BOOST_AUTO_TEST_CASE(indirect_with_next_is_refused) {
  split_rig rig{with_indirect};
  rig.driver.write_table_descriptor(indirect_table, 0, {.addr = buf(0), .len = 8, .flags = 0, .next = 0});
  rig.driver.write_descriptor(
      0, {.addr = indirect_table.raw(), .len = 16, .flags = q::desc_f_indirect | q::desc_f_next, .next = 1});
  expect_returned_with_zero_length(rig, q::errc::indirect_with_next);
}

BOOST_AUTO_TEST_CASE(nested_indirect_table_is_refused) {
  split_rig rig{with_indirect};
  rig.driver.write_table_descriptor(indirect_table, 0,
                                    {.addr = indirect_table.raw(), .len = 16, .flags = q::desc_f_indirect, .next = 0});
  rig.driver.write_descriptor(0, {.addr = indirect_table.raw(), .len = 16, .flags = q::desc_f_indirect, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::nested_indirect);
}

BOOST_AUTO_TEST_CASE(indirect_table_of_length_zero_is_bad_indirect_table) {
  split_rig rig{with_indirect};
  rig.driver.write_descriptor(0, {.addr = indirect_table.raw(), .len = 0, .flags = q::desc_f_indirect, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::bad_indirect_table);
}

BOOST_AUTO_TEST_CASE(indirect_table_length_not_a_multiple_of_16_is_bad_indirect_table) {
  split_rig rig{with_indirect};
  rig.driver.write_descriptor(0, {.addr = indirect_table.raw(), .len = 24, .flags = q::desc_f_indirect, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::bad_indirect_table);
}

BOOST_AUTO_TEST_CASE(indirect_table_longer_than_the_queue_is_bad_indirect_table) {
  split_rig rig{with_indirect};
  rig.driver.write_descriptor(
      0, {.addr = indirect_table.raw(), .len = (queue_size + 1) * 16, .flags = q::desc_f_indirect, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::bad_indirect_table);
}

BOOST_AUTO_TEST_CASE(indirect_table_outside_guest_memory_is_descriptor_out_of_memory) {
  split_rig rig{with_indirect};
  rig.driver.write_descriptor(0, {.addr = unmapped.raw(), .len = 16, .flags = q::desc_f_indirect, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::descriptor_out_of_memory);
}

BOOST_AUTO_TEST_CASE(loop_inside_an_indirect_table_is_chain_too_long) {
  split_rig rig{with_indirect};
  rig.driver.write_table_descriptor(indirect_table, 0, {.addr = buf(0), .len = 8, .flags = q::desc_f_next, .next = 1});
  rig.driver.write_table_descriptor(indirect_table, 1, {.addr = buf(8), .len = 8, .flags = q::desc_f_next, .next = 0});
  rig.driver.write_descriptor(0, {.addr = indirect_table.raw(), .len = 32, .flags = q::desc_f_indirect, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::chain_too_long);
}

BOOST_AUTO_TEST_CASE(next_beyond_the_indirect_table_is_next_out_of_range) {
  split_rig rig{with_indirect};
  rig.driver.write_table_descriptor(indirect_table, 0, {.addr = buf(0), .len = 8, .flags = q::desc_f_next, .next = 2});
  rig.driver.write_table_descriptor(indirect_table, 1, {.addr = buf(8), .len = 8, .flags = 0, .next = 0});
  rig.driver.write_descriptor(0, {.addr = indirect_table.raw(), .len = 32, .flags = q::desc_f_indirect, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::next_out_of_range);
}

BOOST_AUTO_TEST_CASE(direct_and_indirect_buffers_together_longer_than_the_queue_are_chain_too_long) {
  split_rig rig{with_indirect};
  for (std::uint16_t i = 0; i < queue_size; ++i) {
    const bool last = i + 1 == queue_size;
    rig.driver.write_table_descriptor(indirect_table, i,
                                      {.addr = buf(0),
                                       .len = 1,
                                       .flags = last ? std::uint16_t{0} : q::desc_f_next,
                                       .next = static_cast<std::uint16_t>(i + 1)});
  }
  rig.driver.write_descriptor(0, {.addr = buf(0), .len = 1, .flags = q::desc_f_next, .next = 1});
  rig.driver.write_descriptor(
      1, {.addr = indirect_table.raw(), .len = queue_size * 16, .flags = q::desc_f_indirect, .next = 0});
  expect_returned_with_zero_length(rig, q::errc::chain_too_long);
}

BOOST_AUTO_TEST_CASE(rings_unplugged_after_create_are_ring_unreadable_and_break_the_queue) {
  split_rig rig{0, region_size};  // rings in the second region
  rig.offer_good();
  const auto smaller = rig.memory.remove(guest_address{region_size}, region_size).value().memory;

  BOOST_TEST(error_of(rig.queue.pop(smaller, rig.chain)) == err(q::errc::ring_unreadable));
  BOOST_TEST(rig.queue.broken());
  BOOST_TEST(error_of(rig.pop()) == err(q::errc::queue_broken));
  BOOST_TEST(error_of(rig.queue.needs_notification(smaller)) == err(q::errc::ring_unreadable));
  BOOST_TEST(error_of(rig.queue.pending(smaller)) == err(q::errc::ring_unreadable));
  BOOST_TEST(error_of(rig.queue.disable_notification(smaller)) == err(q::errc::ring_unreadable));
}

BOOST_AUTO_TEST_CASE(used_ring_unplugged_before_add_used_is_ring_unreadable) {
  split_rig rig{0, region_size};
  rig.offer_good();
  BOOST_TEST_REQUIRE(rig.pop().value());
  const auto smaller = rig.memory.remove(guest_address{region_size}, region_size).value().memory;

  BOOST_TEST(error_of(rig.queue.add_used(smaller, rig.chain.token(), 0)) == err(q::errc::ring_unreadable));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(split_add_used_refuses)

BOOST_AUTO_TEST_CASE(token_never_popped_is_not_in_flight_and_writes_nothing) {
  split_rig rig;
  BOOST_TEST(error_of(rig.queue.add_used(rig.memory, {.id = 0, .slots = 1}, 0)) == err(q::errc::not_in_flight));
  BOOST_TEST(error_of(rig.queue.add_used(rig.memory, {.id = queue_size, .slots = 1}, 0)) ==
             err(q::errc::not_in_flight));
  BOOST_TEST(rig.driver.used_idx() == 0);
}

BOOST_AUTO_TEST_CASE(token_used_twice_is_not_in_flight_the_second_time) {
  split_rig rig;
  rig.offer_good();
  BOOST_TEST_REQUIRE(rig.pop().value());
  BOOST_TEST_REQUIRE(rig.queue.add_used(rig.memory, rig.chain.token(), 0).has_value());

  BOOST_TEST(error_of(rig.queue.add_used(rig.memory, rig.chain.token(), 0)) == err(q::errc::not_in_flight));
  BOOST_TEST(rig.driver.used_idx() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(packed_create_refuses)

BOOST_AUTO_TEST_CASE(size_zero_above_max_or_above_32768_is_invalid_configuration) {
  const auto memory = make_memory();
  BOOST_TEST(error_of(q::packed_queue::create(config(0, 8, 0x1000, 0x2000, 0x3000), 0, memory)) ==
             err(q::errc::invalid_configuration));
  BOOST_TEST(error_of(q::packed_queue::create(config(9, 8, 0x1000, 0x2000, 0x3000), 0, memory)) ==
             err(q::errc::invalid_configuration));
  BOOST_TEST(error_of(q::packed_queue::create(config(40000, 65535, 0x1000, 0x2000, 0x3000), 0, memory)) ==
             err(q::errc::invalid_configuration));
}

BOOST_AUTO_TEST_CASE(not_ready_or_misaligned_is_invalid_configuration) {
  const auto memory = make_memory();
  auto c = config(8, 8, 0x1000, 0x2000, 0x3000);
  c.ready = false;
  BOOST_TEST(error_of(q::packed_queue::create(c, 0, memory)) == err(q::errc::invalid_configuration));
  BOOST_TEST(error_of(q::packed_queue::create(config(8, 8, 0x1004, 0x2000, 0x3000), 0, memory)) ==
             err(q::errc::invalid_configuration));
  BOOST_TEST(error_of(q::packed_queue::create(config(8, 8, 0x1000, 0x2002, 0x3000), 0, memory)) ==
             err(q::errc::invalid_configuration));
  BOOST_TEST(error_of(q::packed_queue::create(config(8, 8, 0x1000, 0x2000, 0x3001), 0, memory)) ==
             err(q::errc::invalid_configuration));
}

BOOST_AUTO_TEST_CASE(areas_outside_guest_memory_are_descriptor_out_of_memory) {
  const auto memory = make_memory();
  BOOST_TEST(error_of(q::packed_queue::create(config(8, 8, unmapped.raw(), 0x2000, 0x3000), 0, memory)) ==
             err(q::errc::descriptor_out_of_memory));
  BOOST_TEST(error_of(q::packed_queue::create(config(8, 8, 0x1000, unmapped.raw(), 0x3000), 0, memory)) ==
             err(q::errc::descriptor_out_of_memory));
  BOOST_TEST(error_of(q::packed_queue::create(config(8, 8, 0x1000, 0x2000, top - 3), 0, memory)) ==
             err(q::errc::descriptor_out_of_memory));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(packed_pop_refuses)

BOOST_AUTO_TEST_CASE(buffer_id_out_of_range_consumes_the_slots_without_a_used_entry) {
  packed_rig rig;
  auto bad = good_packed;
  bad.id = queue_size;
  rig.driver.make_available(std::array{bad});
  const std::uint16_t good = rig.offer_good();

  BOOST_TEST(error_of(rig.pop()) == err(q::errc::head_out_of_range));
  BOOST_TEST(rig.pop().value());

  BOOST_TEST(rig.chain.token().id == good);
  BOOST_TEST(rig.queue.stats().chains_dropped == 1U);
}

BOOST_AUTO_TEST_CASE(chain_with_next_on_every_slot_is_chain_too_long) {
  packed_rig rig;
  auto linked = good_packed;
  linked.flags = q::desc_f_next;
  rig.driver.make_available(std::vector(queue_size, linked));

  BOOST_TEST(error_of(rig.pop()) == err(q::errc::chain_too_long));

  BOOST_TEST(!rig.pop().value());  // the whole ring was consumed; nothing is available in the next lap
  BOOST_TEST(!rig.driver.take_used().has_value());
}

BOOST_AUTO_TEST_CASE(readable_after_writable_is_returned_with_zero_length_over_its_slots) {
  packed_rig rig;
  auto writable = good_packed;
  writable.flags = q::desc_f_write | q::desc_f_next;
  auto readable = good_packed;
  readable.flags = 0;
  expect_returned_with_zero_length(rig, {writable, readable}, q::errc::readable_after_writable);
}

BOOST_AUTO_TEST_CASE(error_early_in_a_chain_still_consumes_it_to_its_end) {
  packed_rig rig;
  auto outside = good_packed;
  outside.addr = unmapped.raw();
  outside.flags = q::desc_f_next;
  auto next = good_packed;
  next.flags = q::desc_f_next;
  expect_returned_with_zero_length(rig, {outside, next, good_packed}, q::errc::descriptor_out_of_memory);
}

BOOST_AUTO_TEST_CASE(indirect_without_the_feature_is_indirect_not_negotiated) {
  packed_rig rig;
  expect_returned_with_zero_length(rig,
                                   {{.addr = indirect_table.raw(), .len = 16, .id = 0, .flags = q::desc_f_indirect}},
                                   q::errc::indirect_not_negotiated);
}

BOOST_AUTO_TEST_CASE(indirect_with_next_is_refused) {
  packed_rig rig{with_indirect};
  rig.driver.write_table_descriptor(indirect_table, 0, good_packed);
  expect_returned_with_zero_length(
      rig,
      {{.addr = indirect_table.raw(), .len = 16, .id = 0, .flags = q::desc_f_indirect | q::desc_f_next}, good_packed},
      q::errc::indirect_with_next);
}

BOOST_AUTO_TEST_CASE(nested_indirect_table_is_refused) {
  packed_rig rig{with_indirect};
  rig.driver.write_table_descriptor(indirect_table, 0,
                                    {.addr = indirect_table.raw(), .len = 16, .id = 0, .flags = q::desc_f_indirect});
  expect_returned_with_zero_length(
      rig, {{.addr = indirect_table.raw(), .len = 16, .id = 0, .flags = q::desc_f_indirect}}, q::errc::nested_indirect);
}

BOOST_AUTO_TEST_CASE(indirect_table_of_bad_length_is_bad_indirect_table) {
  packed_rig rig{with_indirect};
  expect_returned_with_zero_length(rig,
                                   {{.addr = indirect_table.raw(), .len = 20, .id = 0, .flags = q::desc_f_indirect}},
                                   q::errc::bad_indirect_table);
}

BOOST_AUTO_TEST_CASE(indirect_table_outside_guest_memory_is_descriptor_out_of_memory) {
  packed_rig rig{with_indirect};
  expect_returned_with_zero_length(rig, {{.addr = unmapped.raw(), .len = 16, .id = 0, .flags = q::desc_f_indirect}},
                                   q::errc::descriptor_out_of_memory);
}

BOOST_AUTO_TEST_CASE(indirect_buffer_outside_guest_memory_is_descriptor_out_of_memory) {
  packed_rig rig{with_indirect};
  rig.driver.write_table_descriptor(indirect_table, 0, {.addr = top, .len = 2, .id = 0, .flags = 0});
  expect_returned_with_zero_length(rig,
                                   {{.addr = indirect_table.raw(), .len = 16, .id = 0, .flags = q::desc_f_indirect}},
                                   q::errc::descriptor_out_of_memory);
}

BOOST_AUTO_TEST_CASE(ring_unplugged_after_create_is_ring_unreadable_and_breaks_the_queue) {
  packed_rig rig{0, region_size};
  rig.offer_good();
  const auto smaller = rig.memory.remove(guest_address{region_size}, region_size).value().memory;

  BOOST_TEST(error_of(rig.queue.pop(smaller, rig.chain)) == err(q::errc::ring_unreadable));
  BOOST_TEST(rig.queue.broken());
  BOOST_TEST(error_of(rig.pop()) == err(q::errc::queue_broken));
  BOOST_TEST(error_of(rig.queue.needs_notification(smaller)) == err(q::errc::ring_unreadable));
  BOOST_TEST(error_of(rig.queue.disable_notification(smaller)) == err(q::errc::ring_unreadable));
  BOOST_TEST(error_of(rig.queue.enable_notification(rig.memory)) == err(q::errc::queue_broken));
}

BOOST_AUTO_TEST_CASE(add_used_with_a_token_not_handed_out_is_not_in_flight) {
  packed_rig rig;
  const std::uint16_t id = rig.offer_good();
  BOOST_TEST_REQUIRE(rig.pop().value());

  BOOST_TEST(error_of(rig.queue.add_used(rig.memory, {.id = 7, .slots = 1}, 0)) == err(q::errc::not_in_flight));
  BOOST_TEST(error_of(rig.queue.add_used(rig.memory, {.id = id, .slots = 0}, 0)) == err(q::errc::not_in_flight));
  BOOST_TEST(error_of(rig.queue.add_used(rig.memory, {.id = queue_size, .slots = 1}, 0)) ==
             err(q::errc::not_in_flight));
  BOOST_TEST(!rig.driver.take_used().has_value());
}

BOOST_AUTO_TEST_CASE(used_ring_unplugged_before_add_used_is_ring_unreadable) {
  packed_rig rig{0, region_size};
  rig.offer_good();
  BOOST_TEST_REQUIRE(rig.pop().value());
  const auto smaller = rig.memory.remove(guest_address{region_size}, region_size).value().memory;

  BOOST_TEST(error_of(rig.queue.add_used(smaller, rig.chain.token(), 0)) == err(q::errc::ring_unreadable));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(regression)

// CVE-2026-45782: a driver that makes a head available again while the device still holds it must not get the
// request processed twice (the device would write the same buffers twice and complete the first request early).
BOOST_AUTO_TEST_CASE(cve_2026_45782_split_duplicate_in_flight_head_is_refused_and_not_returned) {
  split_rig rig;
  const std::uint16_t head = rig.offer_good();
  BOOST_TEST_REQUIRE(rig.pop().value());
  const q::chain_token first = rig.chain.token();
  rig.offer_raw(head);  // the same head, still in flight
  const std::uint16_t good = rig.offer_good();

  BOOST_TEST(error_of(rig.pop()) == err(q::errc::duplicate_head));
  BOOST_TEST(rig.pop().value());  // the request after it is not affected

  BOOST_TEST(rig.chain.token().id == good);
  BOOST_TEST(rig.driver.used_idx() == 0);  // the duplicate was not returned
  BOOST_TEST(rig.queue.stats().duplicate_heads == 1U);
  BOOST_TEST(rig.queue.in_flight() == 2U);
  BOOST_TEST(rig.queue.add_used(rig.memory, first, 8).has_value());  // the original completes normally, once
  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = head, .length = 8}));
}

BOOST_AUTO_TEST_CASE(cve_2026_45782_packed_duplicate_in_flight_buffer_id_is_refused_and_not_returned) {
  packed_rig rig;
  const std::uint16_t id = rig.offer_good();
  BOOST_TEST_REQUIRE(rig.pop().value());
  auto duplicate = good_packed;
  duplicate.id = id;
  rig.driver.make_available(std::array{duplicate});
  const std::uint16_t good = rig.offer_good();

  BOOST_TEST(error_of(rig.pop()) == err(q::errc::duplicate_head));
  BOOST_TEST(rig.pop().value());

  BOOST_TEST(rig.chain.token().id == good);
  BOOST_TEST(!rig.driver.take_used().has_value());
  BOOST_TEST(rig.queue.stats().duplicate_heads == 1U);
  BOOST_TEST(rig.queue.in_flight() == 2U);
}

BOOST_AUTO_TEST_CASE(good_chains_around_a_malformed_one_are_processed_and_used_normally) {
  split_rig rig;
  const std::uint16_t before = rig.offer_good();
  rig.driver.write_descriptor(7, {.addr = buf(0), .len = 8, .flags = q::desc_f_next, .next = 7});  // a self-loop
  rig.offer_raw(7);
  const std::uint16_t after = rig.offer_good();
  q::descriptor_chain first;

  BOOST_TEST(rig.queue.pop(rig.memory, first).value());
  BOOST_TEST(error_of(rig.pop()) == err(q::errc::chain_too_long));
  BOOST_TEST(rig.pop().value());
  BOOST_TEST(rig.queue.add_used(rig.memory, rig.chain.token(), 8).has_value());
  BOOST_TEST(rig.queue.add_used(rig.memory, first.token(), 8).has_value());

  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = 7, .length = 0}));
  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = after, .length = 8}));
  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = before, .length = 8}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(error_category)

BOOST_AUTO_TEST_CASE(every_errc_has_its_own_message_in_the_vmm_virtio_queue_category) {
  std::set<std::string> messages;
  for (auto v = static_cast<int>(q::errc::invalid_configuration); v <= static_cast<int>(q::errc::ring_unreadable);
       ++v) {
    const auto e = make_error_code(static_cast<q::errc>(v));
    BOOST_TEST(std::string_view{e.category().name()} == "vmm.virtio.queue");
    messages.insert(e.message());
  }
  BOOST_TEST(messages.size() == static_cast<std::size_t>(q::errc::ring_unreadable));
  BOOST_TEST(make_error_code(static_cast<q::errc>(200)).message().starts_with("Unknown"));
}

BOOST_AUTO_TEST_SUITE_END()
