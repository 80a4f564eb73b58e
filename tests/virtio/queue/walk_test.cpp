// The two paths of vmm.virtio.queue's chain walk: the fast loop (plain descriptors, room in the chain's storage,
// buffers in the cached region) and the checked path it hands everything else to. Every malformed chain is popped
// twice, once with a fresh descriptor_chain (no storage: its first buffer goes the checked way) and once with a chain
// that an earlier pop grew (the fast loop takes it until the fault), and both must report the same error and return
// the entry the same way. Also: rings that straddle two regions (the per-field fallback of pop and add_used), a
// packed chain that wraps the ring's end inside the fast loop, and the dirty marks add_used leaves.
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

// Two adjacent 256 KiB regions; rings at the start of the first, buffers from 64 KiB.
constexpr std::uint64_t region_size = 0x40000;
constexpr std::uint16_t queue_size = 8;
constexpr std::uint64_t with_indirect = std::uint64_t{1} << q::feature::indirect_desc;
constexpr std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t unmapped = 0x900000;

auto err(q::errc e) -> std::error_code {
  return make_error_code(e);
}

auto buf(std::uint64_t offset) -> std::uint64_t {
  return 0x10000 + offset;
}

auto make_memory(bool track_dirty = false) -> mem::guest_memory {
  const std::array layout{mem::guest_range{.start = guest_address{0}, .size = region_size},
                          mem::guest_range{.start = guest_address{region_size}, .size = region_size}};
  return mem::guest_memory::anonymous(layout, {.track_dirty = track_dirty}).value();
}

/// Eight readable buffers of 8 bytes: a good chain as long as the queue.
auto eight_buffers() -> std::array<vt::driver_buffer, queue_size> {
  std::array<vt::driver_buffer, queue_size> b{};
  for (std::uint16_t i = 0; i < queue_size; ++i) {
    b[i] = {.address = guest_address{buf(std::uint64_t{i} * 8)}, .length = 8};
  }
  return b;
}

struct split_rig {
  explicit split_rig(std::uint64_t features = 0)
      : driver{memory, queue_size, guest_address{0x1000}, guest_address{0x2000}, guest_address{0x3000}},
        queue{q::split_queue::create(driver.config(), features, memory).value()} {}

  /// Pops and returns a good chain of eight buffers, so that the chain's storage has room for the next pops.
  void warm() {
    driver.offer(eight_buffers());
    BOOST_TEST_REQUIRE(queue.pop(memory, chain).value());
    BOOST_TEST_REQUIRE(chain.descriptors().size() == queue_size);
    BOOST_TEST_REQUIRE(queue.add_used(memory, chain.token(), 0).has_value());
    BOOST_TEST_REQUIRE(driver.take_used().has_value());
  }

  mem::guest_memory memory = make_memory();
  vt::split_driver driver;
  q::split_queue queue;
  q::descriptor_chain chain;
};

/// Writes a malformed split chain at head 0 (raw descriptors), for each of the two paths.
using split_case = void (*)(split_rig&);

/// Pops the chain `write` lays out at head 0 with a fresh and with a warmed descriptor_chain: the error is `e`
/// both times, the entry comes back with length 0, the chain is empty, and the next good chain pops.
void expect_both_paths(split_case write, q::errc e, std::uint64_t features = 0) {
  for (const bool warmed : {false, true}) {
    BOOST_TEST_CONTEXT((warmed ? "warmed chain" : "fresh chain")) {
      split_rig rig{features};
      if (warmed) {
        rig.warm();
      }
      write(rig);
      rig.driver.push_head(0);
      rig.driver.publish();

      BOOST_TEST(error_of(rig.queue.pop(rig.memory, rig.chain)) == err(e));

      BOOST_TEST(rig.chain.descriptors().empty());
      BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = 0, .length = 0}));
      BOOST_TEST(rig.queue.stats().last_error == err(e));
      BOOST_TEST(rig.queue.in_flight() == 0U);
      rig.driver.write_descriptor(0, {.addr = buf(0), .len = 8, .flags = q::desc_f_write, .next = 0});
      rig.driver.push_head(0);
      rig.driver.publish();
      BOOST_TEST(rig.queue.pop(rig.memory, rig.chain).value());
      BOOST_TEST(rig.chain.writable_bytes() == 8U);
    }
  }
}

/// Two good descriptors (0 → 1), then descriptor 1 names `next` with NEXT and `flags`, address `addr`, length `len`.
void two_then(split_rig& rig, std::uint64_t addr, std::uint32_t len, std::uint16_t flags, std::uint16_t next) {
  rig.driver.write_descriptor(0, {.addr = buf(0), .len = 8, .flags = q::desc_f_next, .next = 1});
  rig.driver.write_descriptor(1, {.addr = addr, .len = len, .flags = flags, .next = next});
}

struct packed_rig {
  explicit packed_rig(std::uint64_t features = 0, std::uint64_t ring = 0x1000, std::uint64_t events = 0x2000)
      : driver{memory, queue_size, guest_address{ring}, guest_address{events}, guest_address{events + 0x100}},
        queue{q::packed_queue::create(driver.config(), features, memory).value()} {}

  void warm() {
    driver.add_chain(eight_buffers());
    BOOST_TEST_REQUIRE(queue.pop(memory, chain).value());
    BOOST_TEST_REQUIRE(chain.descriptors().size() == queue_size);
    BOOST_TEST_REQUIRE(queue.add_used(memory, chain.token(), 0).has_value());
    BOOST_TEST_REQUIRE(driver.take_used().has_value());
  }

  mem::guest_memory memory = make_memory();
  vt::packed_driver driver;
  q::packed_queue queue;
  q::descriptor_chain chain;
};

/// Makes `ds` available as one chain (buffer id 3) with a fresh and with a warmed chain: the error is `e` both
/// times, the buffer comes back over all its slots with length 0, and a good chain pops after it.
void expect_both_paths(std::vector<q::packed_descriptor> ds, q::errc e, std::uint64_t features = 0) {
  ds.back().id = 3;
  for (const bool warmed : {false, true}) {
    BOOST_TEST_CONTEXT((warmed ? "warmed chain" : "fresh chain")) {
      packed_rig rig{features};
      if (warmed) {
        rig.warm();
      }
      const std::uint16_t before = rig.driver.next_used();
      rig.driver.make_available(ds);

      BOOST_TEST(error_of(rig.queue.pop(rig.memory, rig.chain)) == err(e));

      BOOST_TEST(rig.chain.descriptors().empty());
      BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = 3, .length = 0}));
      BOOST_TEST((rig.driver.next_used() - before + queue_size) % queue_size == ds.size() % queue_size);
      BOOST_TEST(rig.queue.stats().last_error == err(e));
      BOOST_TEST(rig.queue.in_flight() == 0U);
      const std::array good{vt::driver_buffer{.address = guest_address{buf(0)}, .length = 8, .writable = true}};
      rig.driver.add_chain(good);
      BOOST_TEST(rig.queue.pop(rig.memory, rig.chain).value());
      BOOST_TEST(rig.chain.writable_bytes() == 8U);
    }
  }
}

auto packed(std::uint64_t addr, std::uint32_t len, std::uint16_t flags) -> q::packed_descriptor {
  return {.addr = addr, .len = len, .id = 0, .flags = flags};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(split_walk_paths)

BOOST_AUTO_TEST_CASE(next_out_of_range_after_plain_descriptors) {
  expect_both_paths([](split_rig& rig) { two_then(rig, buf(8), 8, q::desc_f_next, queue_size); },
                    q::errc::next_out_of_range);
}

BOOST_AUTO_TEST_CASE(a_loop_through_plain_descriptors_is_chain_too_long) {
  expect_both_paths([](split_rig& rig) { two_then(rig, buf(8), 8, q::desc_f_next, 0); }, q::errc::chain_too_long);
}

BOOST_AUTO_TEST_CASE(readable_after_writable_in_plain_descriptors) {
  expect_both_paths(
      [](split_rig& rig) {
        rig.driver.write_descriptor(0,
                                    {.addr = buf(0), .len = 8, .flags = q::desc_f_write | q::desc_f_next, .next = 1});
        rig.driver.write_descriptor(1, {.addr = buf(8), .len = 8, .flags = q::desc_f_next, .next = 2});
        rig.driver.write_descriptor(2, {.addr = buf(16), .len = 8, .flags = q::desc_f_write, .next = 0});
      },
      q::errc::readable_after_writable);
}

BOOST_AUTO_TEST_CASE(a_buffer_outside_memory_after_plain_descriptors) {
  expect_both_paths([](split_rig& rig) { two_then(rig, unmapped, 8, 0, 0); }, q::errc::descriptor_out_of_memory);
}

BOOST_AUTO_TEST_CASE(a_buffer_that_wraps_past_2_64_after_plain_descriptors) {
  expect_both_paths([](split_rig& rig) { two_then(rig, top - 3, 8, 0, 0); }, q::errc::descriptor_out_of_memory);
}

BOOST_AUTO_TEST_CASE(indirect_without_the_feature_after_plain_descriptors) {
  expect_both_paths([](split_rig& rig) { two_then(rig, 0x4000, 32, q::desc_f_indirect, 0); },
                    q::errc::indirect_not_negotiated);
}

BOOST_AUTO_TEST_CASE(a_loop_inside_an_indirect_table_is_chain_too_long) {
  expect_both_paths(
      [](split_rig& rig) {
        const guest_address table{0x4000};
        rig.driver.write_table_descriptor(table, 0, {.addr = buf(0), .len = 8, .flags = q::desc_f_next, .next = 1});
        rig.driver.write_table_descriptor(table, 1, {.addr = buf(8), .len = 8, .flags = q::desc_f_next, .next = 0});
        rig.driver.write_descriptor(0, {.addr = table.raw(), .len = 32, .flags = q::desc_f_indirect, .next = 0});
      },
      q::errc::chain_too_long, with_indirect);
}

BOOST_AUTO_TEST_CASE(nested_indirect_after_plain_table_entries) {
  expect_both_paths(
      [](split_rig& rig) {
        const guest_address table{0x4000};
        rig.driver.write_table_descriptor(table, 0, {.addr = buf(0), .len = 8, .flags = q::desc_f_next, .next = 1});
        rig.driver.write_table_descriptor(table, 1,
                                          {.addr = 0x5000, .len = 16, .flags = q::desc_f_indirect, .next = 0});
        rig.driver.write_descriptor(0, {.addr = table.raw(), .len = 32, .flags = q::desc_f_indirect, .next = 0});
      },
      q::errc::nested_indirect, with_indirect);
}

BOOST_AUTO_TEST_CASE(plain_runs_around_checked_descriptors_make_one_chain) {
  // Buffers in the first region, then one in the second (a cache miss: the checked path), a zero-length one, and
  // the first region again: the fast loop resumes after each and the chain is whole and in order.
  for (const bool warmed : {false, true}) {
    split_rig rig;
    if (warmed) {
      rig.warm();
    }
    const std::array b{vt::driver_buffer{.address = guest_address{buf(0)}, .length = 8},
                       vt::driver_buffer{.address = guest_address{region_size + 0x100}, .length = 16},
                       vt::driver_buffer{.address = guest_address{buf(8)}, .length = 0},
                       vt::driver_buffer{.address = guest_address{buf(16)}, .length = 8, .writable = true},
                       vt::driver_buffer{.address = guest_address{buf(24)}, .length = 4, .writable = true}};
    rig.driver.offer(b);

    BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());

    BOOST_TEST(rig.chain.readable().size() == 3U);
    BOOST_TEST(rig.chain.writable().size() == 2U);
    BOOST_TEST(rig.chain.readable_bytes() == 24U);
    BOOST_TEST(rig.chain.writable_bytes() == 12U);
    BOOST_TEST(rig.chain.descriptors()[1].address.raw() == region_size + 0x100);
    BOOST_TEST(rig.chain.descriptors()[4].address.raw() == buf(24));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(packed_walk_paths)

BOOST_AUTO_TEST_CASE(readable_after_writable_in_plain_descriptors) {
  expect_both_paths(
      {packed(buf(0), 8, q::desc_f_next), packed(buf(8), 8, q::desc_f_next | q::desc_f_write), packed(buf(16), 8, 0)},
      q::errc::readable_after_writable);
}

BOOST_AUTO_TEST_CASE(a_buffer_outside_memory_after_plain_descriptors) {
  expect_both_paths({packed(buf(0), 8, q::desc_f_next), packed(buf(8), 8, q::desc_f_next), packed(unmapped, 8, 0)},
                    q::errc::descriptor_out_of_memory);
}

BOOST_AUTO_TEST_CASE(indirect_without_the_feature_after_plain_descriptors) {
  expect_both_paths({packed(buf(0), 8, q::desc_f_next), packed(0x4000, 32, q::desc_f_indirect)},
                    q::errc::indirect_not_negotiated);
}

BOOST_AUTO_TEST_CASE(a_chain_that_wraps_the_ring_end_pops_whole_from_every_start) {
  // Chains of five across the ring's end, from every start position: the fast loop stops at the end of the run,
  // the cursor wraps (the wrap counter flips) and the walk goes on from slot 0.
  packed_rig rig;
  rig.warm();
  for (int round = 0; round < 2 * queue_size; ++round) {
    std::array<vt::driver_buffer, 5> b{};
    for (std::size_t i = 0; i < b.size(); ++i) {
      b[i] = {.address = guest_address{buf(i * 8)}, .length = static_cast<std::uint32_t>(i + 1), .writable = i >= 3};
    }
    const std::uint16_t id = rig.driver.add_chain(b);

    BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());

    BOOST_TEST(rig.chain.token().id == id);
    BOOST_TEST(rig.chain.token().slots == 5U);
    BOOST_TEST(rig.chain.readable_bytes() == 6U);
    BOOST_TEST(rig.chain.writable_bytes() == 9U);
    BOOST_TEST_REQUIRE(rig.queue.add_used(rig.memory, rig.chain.token(), 9).has_value());
    BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = id, .length = 9}));
  }
}

BOOST_AUTO_TEST_CASE(a_chain_with_next_on_every_slot_is_chain_too_long_from_a_warmed_chain) {
  packed_rig rig;
  rig.warm();
  std::vector<q::packed_descriptor> ds(queue_size, packed(buf(0), 8, q::desc_f_next));
  rig.driver.make_available(ds);

  BOOST_TEST(error_of(rig.queue.pop(rig.memory, rig.chain)) == err(q::errc::chain_too_long));

  BOOST_TEST(rig.chain.descriptors().empty());
  // Every slot was consumed: the next chain, made available after them, is the one popped.
  // (The mock driver still counts the dropped chain's slots as busy, so it is written raw.)
  std::vector<q::packed_descriptor> good{packed(buf(0), 8, q::desc_f_write)};
  good.back().id = 5;
  rig.driver.make_available(good);
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  BOOST_TEST(rig.chain.token().id == 5U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rings_across_regions)

BOOST_AUTO_TEST_CASE(split_available_and_used_rings_across_two_regions_work_field_by_field) {
  // The available ring (22 bytes) starts 8 bytes and the used ring (70 bytes) 4 bytes before the second region.
  mem::guest_memory memory = make_memory();
  vt::split_driver driver{memory, queue_size, guest_address{0x1000}, guest_address{region_size - 8},
                          guest_address{region_size - 4}};
  auto queue = q::split_queue::create(driver.config(), 0, memory).value();
  q::descriptor_chain chain;
  for (std::uint32_t round = 0; round < 3U * queue_size; ++round) {
    const std::array b{vt::driver_buffer{.address = guest_address{buf(0)}, .length = 8, .writable = true}};
    const std::uint16_t head = driver.offer(b);

    BOOST_TEST_REQUIRE(queue.pop(memory, chain).value());
    BOOST_TEST(chain.token().id == head);
    BOOST_TEST_REQUIRE(queue.add_used(memory, chain.token(), round).has_value());

    BOOST_TEST((driver.take_used() == vt::used_buffer{.id = head, .length = round}));
  }
}

BOOST_AUTO_TEST_CASE(a_split_used_ring_in_read_only_memory_breaks_the_queue_at_add_used) {
  // The driver and pop see two writable regions; add_used is handed a snapshot whose second region, where the used
  // ring lies, is read-only (as after a remap): the store fails, the queue breaks, nothing is reported used.
  mem::guest_memory memory = make_memory();
  vt::split_driver driver{memory, queue_size, guest_address{0x1000}, guest_address{0x2000}, guest_address{region_size}};
  auto queue = q::split_queue::create(driver.config(), 0, memory).value();
  q::descriptor_chain chain;
  const std::array b{vt::driver_buffer{.address = guest_address{buf(0)}, .length = 8}};
  driver.offer(b);
  BOOST_TEST_REQUIRE(queue.pop(memory, chain).value());
  auto read_only = mem::guest_region::anonymous(guest_address{region_size}, region_size, {.read_only = true});
  BOOST_TEST_REQUIRE(read_only.has_value());
  auto remapped = mem::guest_memory::create({memory.regions()[0], *read_only});
  BOOST_TEST_REQUIRE(remapped.has_value());

  BOOST_TEST(error_of(queue.add_used(*remapped, chain.token(), 0)) == err(q::errc::ring_unreadable));

  BOOST_TEST(queue.broken());
  BOOST_TEST(!driver.take_used().has_value());
}

BOOST_AUTO_TEST_CASE(a_packed_ring_across_two_regions_is_walked_slot_by_slot) {
  // 8 slots of 16 bytes from 64 bytes before the second region: half of the ring in each, so the walk reads it
  // through guest_memory (no host pointer) and add_used writes it field by field.
  packed_rig rig{0, region_size - 64, 0x2000};
  for (int round = 0; round < 3 * queue_size; ++round) {
    const std::array b{vt::driver_buffer{.address = guest_address{buf(0)}, .length = 8},
                       vt::driver_buffer{.address = guest_address{buf(8)}, .length = 8},
                       vt::driver_buffer{.address = guest_address{buf(16)}, .length = 8, .writable = true}};
    const std::uint16_t id = rig.driver.add_chain(b);

    BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
    BOOST_TEST(rig.chain.token().id == id);
    BOOST_TEST(rig.chain.readable_bytes() == 16U);
    BOOST_TEST_REQUIRE(rig.queue.add_used(rig.memory, rig.chain.token(), 4).has_value());

    BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = id, .length = 4}));
  }
}

BOOST_AUTO_TEST_CASE(a_packed_ring_across_regions_reports_the_same_errors) {
  packed_rig rig{0, region_size - 64, 0x2000};
  std::vector<q::packed_descriptor> ds{packed(buf(0), 8, q::desc_f_next | q::desc_f_write), packed(buf(8), 8, 0)};
  ds.back().id = 3;
  rig.driver.make_available(ds);

  BOOST_TEST(error_of(rig.queue.pop(rig.memory, rig.chain)) == err(q::errc::readable_after_writable));

  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = 3, .length = 0}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(used_rings_are_marked_dirty)

BOOST_AUTO_TEST_CASE(split_add_used_marks_the_used_ring_page) {
  mem::guest_memory memory = make_memory(true);
  vt::split_driver driver{memory, queue_size, guest_address{0x1000}, guest_address{0x2000}, guest_address{0x3000}};
  auto queue = q::split_queue::create(driver.config(), 0, memory).value();
  q::descriptor_chain chain;
  const std::array b{vt::driver_buffer{.address = guest_address{buf(0)}, .length = 8}};
  driver.offer(b);
  BOOST_TEST_REQUIRE(queue.pop(memory, chain).value());
  mem::dirty_bitmap& bitmap = *memory.regions()[0]->bitmap();
  bitmap.reset_all();

  BOOST_TEST_REQUIRE(queue.add_used(memory, chain.token(), 0).has_value());

  BOOST_TEST(bitmap.is_dirty(3));  // the used ring at 0x3000
  BOOST_TEST(bitmap.dirty_count() == 1U);
}

BOOST_AUTO_TEST_CASE(packed_add_used_marks_the_ring_page) {
  mem::guest_memory memory = make_memory(true);
  vt::packed_driver driver{memory, queue_size, guest_address{0x1000}, guest_address{0x2000}, guest_address{0x2100}};
  auto queue = q::packed_queue::create(driver.config(), 0, memory).value();
  q::descriptor_chain chain;
  const std::array b{vt::driver_buffer{.address = guest_address{buf(0)}, .length = 8}};
  driver.add_chain(b);
  BOOST_TEST_REQUIRE(queue.pop(memory, chain).value());
  mem::dirty_bitmap& bitmap = *memory.regions()[0]->bitmap();
  bitmap.reset_all();

  BOOST_TEST_REQUIRE(queue.add_used(memory, chain.token(), 0).has_value());

  BOOST_TEST(bitmap.is_dirty(1));  // the ring at 0x1000
  BOOST_TEST(bitmap.dirty_count() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(chain_storage)

BOOST_AUTO_TEST_CASE(a_chain_reserved_for_the_queue_size_never_grows) {
  split_rig rig;
  rig.chain.reserve(queue_size);
  BOOST_TEST(rig.chain.capacity() == queue_size);
  for (int round = 0; round < 4; ++round) {
    rig.driver.offer(eight_buffers());

    BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());

    BOOST_TEST(rig.chain.descriptors().size() == queue_size);
    BOOST_TEST(rig.chain.capacity() == queue_size);  // no reallocation: the storage was big enough
    BOOST_TEST_REQUIRE(rig.queue.add_used(rig.memory, rig.chain.token(), 0).has_value());
    BOOST_TEST_REQUIRE(rig.driver.take_used().has_value());
  }
}

BOOST_AUTO_TEST_CASE(reserve_keeps_what_is_stored_and_never_shrinks) {
  split_rig rig;
  rig.driver.offer(eight_buffers());
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  const std::vector<q::descriptor> before{rig.chain.descriptors().begin(), rig.chain.descriptors().end()};
  const std::size_t capacity = rig.chain.capacity();

  rig.chain.reserve(1);
  BOOST_TEST(rig.chain.capacity() == capacity);
  rig.chain.reserve(capacity + 100);

  BOOST_TEST(rig.chain.capacity() == capacity + 100);
  BOOST_TEST((std::vector<q::descriptor>{rig.chain.descriptors().begin(), rig.chain.descriptors().end()} == before));
}

BOOST_AUTO_TEST_CASE(longest_chain_is_the_largest_queue_size) {
  mem::guest_memory memory = make_memory();
  vt::split_driver small{memory, 4, guest_address{0x1000}, guest_address{0x2000}, guest_address{0x3000}};
  vt::split_driver large{memory, 16, guest_address{0x5000}, guest_address{0x6000}, guest_address{0x7000}};
  std::vector<q::virtqueue> queues;
  queues.push_back(q::virtqueue::create(small.config(), 0, memory).value());
  queues.push_back(q::virtqueue::create(large.config(), 0, memory).value());

  BOOST_TEST(q::longest_chain(queues) == 16U);
  BOOST_TEST(q::longest_chain({}) == 0U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(chain_copies)

BOOST_AUTO_TEST_CASE(a_copy_holds_the_buffers_and_not_the_spare_storage) {
  split_rig rig;
  rig.chain.reserve(1024);
  const std::array b{vt::driver_buffer{.address = guest_address{buf(0)}, .length = 8},
                     vt::driver_buffer{.address = guest_address{buf(8)}, .length = 4, .writable = true}};
  const std::uint16_t head = rig.driver.offer(b);
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());

  const q::descriptor_chain copy{rig.chain};

  BOOST_TEST(copy.capacity() == 2U);
  BOOST_TEST(copy.token().id == head);
  BOOST_TEST(copy.readable().size() == 1U);
  BOOST_TEST(copy.writable_bytes() == 4U);
  BOOST_TEST((std::vector<q::descriptor>{copy.descriptors().begin(), copy.descriptors().end()} ==
              std::vector<q::descriptor>{rig.chain.descriptors().begin(), rig.chain.descriptors().end()}));
}

BOOST_AUTO_TEST_CASE(assigning_a_chain_reuses_the_target_storage_and_grows_it_when_short) {
  split_rig rig;
  rig.driver.offer(eight_buffers());
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  q::descriptor_chain big;
  big.reserve(64);
  q::descriptor_chain small;

  big = rig.chain;
  small = rig.chain;

  BOOST_TEST(big.capacity() == 64U);
  BOOST_TEST(small.capacity() == queue_size);
  BOOST_TEST(big.descriptors().size() == queue_size);
  BOOST_TEST(small.readable_bytes() == 64U);
  BOOST_TEST((big.token() == rig.chain.token()));
  const q::descriptor_chain& self = big;
  big = self;
  BOOST_TEST(big.descriptors().size() == queue_size);
}

BOOST_AUTO_TEST_SUITE_END()
