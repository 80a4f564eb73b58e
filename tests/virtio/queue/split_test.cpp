// The split virtqueue as a device uses it, with vmm.testing's mock driver on the guest side: chains (direct,
// indirect, zero-length and region-spanning buffers) popped and used, the readers and writers across descriptors,
// 16-bit index wrap-around, and the notification decisions (flags and EVENT_IDX), plus the virtqueue wrapper.
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
constexpr std::uint64_t with_packed = std::uint64_t{1} << q::feature::ring_packed;
// Two adjacent regions [0, 256 KiB) and [256 KiB, 512 KiB): the rings live at the start of the first, buffers at
// 64 KiB and up.
constexpr std::uint64_t region_size = 0x40000;
constexpr std::uint16_t queue_size = 8;
const guest_address desc_area{0x1000};
const guest_address avail_area{0x2000};
const guest_address used_area{0x3000};
const guest_address indirect_table{0x4000};
const guest_address buffers{0x10000};

auto at(std::uint64_t offset) -> guest_address {
  return guest_address{buffers.raw() + offset};
}

auto make_memory() -> mem::guest_memory {
  const std::array layout{mem::guest_range{.start = guest_address{0}, .size = region_size},
                          mem::guest_range{.start = guest_address{region_size}, .size = region_size}};
  return mem::guest_memory::anonymous(layout).value();
}

struct split_rig {
  explicit split_rig(std::uint64_t features = 0, std::uint16_t size = queue_size)
      : driver{memory, size, desc_area, avail_area, used_area},
        queue{q::split_queue::create(driver.config(), features, memory).value()} {}

  /// Offers a one-buffer chain and moves it through the device (pop, add_used) and back to the driver.
  void cycle_one() {
    const std::array b{vt::driver_buffer{.address = at(0), .length = 16}};
    driver.offer(b);
    // Plain checks (value() throws): this runs 65536 times in the wrap-around cases.
    const bool popped = queue.pop(memory, chain).value();
    queue.add_used(memory, chain.token(), 0).value();
    if (!popped || !driver.take_used()) {
      throw std::logic_error{"split_rig::cycle_one: the chain did not go round"};
    }
  }

  mem::guest_memory memory = make_memory();
  vt::split_driver driver;
  q::split_queue queue;
  q::descriptor_chain chain;
};

auto bytes_of(std::string_view s) -> std::vector<std::byte> {
  const auto b = std::as_bytes(std::span{s});
  return {b.begin(), b.end()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(split_queue_chains)

BOOST_AUTO_TEST_CASE(create_with_valid_config_starts_empty) {
  const split_rig rig;
  BOOST_TEST(rig.queue.size() == queue_size);
  BOOST_TEST(rig.queue.next_avail() == 0);
  BOOST_TEST(rig.queue.next_used() == 0);
  BOOST_TEST(rig.queue.in_flight() == 0U);
  BOOST_TEST(!rig.queue.broken());
  BOOST_TEST(rig.queue.pending(rig.memory).value() == 0);
}

BOOST_AUTO_TEST_CASE(pop_on_empty_ring_returns_false) {
  split_rig rig;
  BOOST_TEST(!rig.queue.pop(rig.memory, rig.chain).value());
  BOOST_TEST(rig.chain.descriptors().empty());
}

BOOST_AUTO_TEST_CASE(pop_direct_chain_splits_readable_from_writable) {
  split_rig rig;
  const std::array b{vt::driver_buffer{.address = at(0), .length = 16},
                     vt::driver_buffer{.address = at(0x100), .length = 32},
                     vt::driver_buffer{.address = at(0x200), .length = 64, .writable = true}};
  const std::uint16_t head = rig.driver.offer(b);
  BOOST_TEST(rig.queue.pending(rig.memory).value() == 1);

  BOOST_TEST(rig.queue.pop(rig.memory, rig.chain).value());

  BOOST_TEST(rig.chain.token().id == head);
  BOOST_TEST(rig.chain.token().slots == 1);
  BOOST_TEST_REQUIRE(rig.chain.readable().size() == 2U);
  BOOST_TEST_REQUIRE(rig.chain.writable().size() == 1U);
  BOOST_TEST((rig.chain.readable()[1] == q::descriptor{.address = at(0x100), .length = 32, .writable = false}));
  BOOST_TEST((rig.chain.writable()[0] == q::descriptor{.address = at(0x200), .length = 64, .writable = true}));
  BOOST_TEST(rig.chain.readable_bytes() == 48U);
  BOOST_TEST(rig.chain.writable_bytes() == 64U);
  BOOST_TEST(rig.queue.in_flight() == 1U);
  BOOST_TEST(rig.queue.stats().chains_popped == 1U);
  BOOST_TEST(!rig.queue.pop(rig.memory, rig.chain).value());
}

BOOST_AUTO_TEST_CASE(pop_indirect_chain_returns_the_table_buffers) {
  split_rig rig{with_indirect};
  const std::array b{vt::driver_buffer{.address = at(0), .length = 8},
                     vt::driver_buffer{.address = at(0x100), .length = 8, .writable = true},
                     vt::driver_buffer{.address = at(0x200), .length = 8, .writable = true}};
  const std::uint16_t head = rig.driver.add_indirect_chain(b, indirect_table);
  rig.driver.publish();

  BOOST_TEST(rig.queue.pop(rig.memory, rig.chain).value());

  BOOST_TEST(rig.chain.token().id == head);
  BOOST_TEST(rig.chain.readable().size() == 1U);
  BOOST_TEST(rig.chain.writable().size() == 2U);
  BOOST_TEST(rig.chain.writable()[1].address.raw() == at(0x200).raw());
}

BOOST_AUTO_TEST_CASE(direct_descriptors_may_lead_into_an_indirect_table) {
  split_rig rig{with_indirect};
  // Descriptor 0 (readable) links to descriptor 1, which points at a two-entry table.
  rig.driver.write_table_descriptor(indirect_table, 0,
                                    {.addr = at(0x100).raw(), .len = 4, .flags = q::desc_f_next, .next = 1});
  rig.driver.write_table_descriptor(indirect_table, 1,
                                    {.addr = at(0x200).raw(), .len = 4, .flags = q::desc_f_write, .next = 0});
  rig.driver.write_descriptor(0, {.addr = at(0).raw(), .len = 4, .flags = q::desc_f_next, .next = 1});
  rig.driver.write_descriptor(1, {.addr = indirect_table.raw(), .len = 32, .flags = q::desc_f_indirect, .next = 0});
  rig.driver.push_head(0);
  rig.driver.publish();

  BOOST_TEST(rig.queue.pop(rig.memory, rig.chain).value());

  BOOST_TEST(rig.chain.readable().size() == 2U);
  BOOST_TEST(rig.chain.writable().size() == 1U);
}

BOOST_AUTO_TEST_CASE(add_used_publishes_the_element_and_frees_the_head) {
  split_rig rig;
  const std::array b{vt::driver_buffer{.address = at(0), .length = 64, .writable = true}};
  const std::uint16_t head = rig.driver.offer(b);
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());

  BOOST_TEST(rig.queue.add_used(rig.memory, rig.chain.token(), 40).has_value());

  BOOST_TEST(rig.driver.used_idx() == 1);
  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = head, .length = 40}));
  BOOST_TEST(rig.queue.in_flight() == 0U);
  BOOST_TEST(rig.queue.next_used() == 1);
  BOOST_TEST(rig.queue.stats().used_added == 1U);
}

BOOST_AUTO_TEST_CASE(chains_may_be_used_out_of_order) {
  split_rig rig;
  const std::array b{vt::driver_buffer{.address = at(0), .length = 4}};
  const std::uint16_t first = rig.driver.offer(b);
  const std::uint16_t second = rig.driver.offer(b);
  q::descriptor_chain other;
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, other).value());

  BOOST_TEST(rig.queue.add_used(rig.memory, other.token(), 1).has_value());
  BOOST_TEST(rig.queue.add_used(rig.memory, rig.chain.token(), 2).has_value());

  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = second, .length = 1}));
  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = first, .length = 2}));
}

BOOST_AUTO_TEST_CASE(zero_length_buffers_are_accepted_and_passed_over_by_the_reader) {
  split_rig rig;
  rig.memory.write_all(at(0x300), bytes_of("ab")).value();
  // A zero-length buffer at an unmapped address: it names no byte, so it is no access outside memory.
  const std::array b{vt::driver_buffer{.address = guest_address{0x900000}, .length = 0},
                     vt::driver_buffer{.address = at(0x300), .length = 2}};
  rig.driver.offer(b);
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  q::chain_reader reader{rig.memory, rig.chain};

  const auto value = reader.read_obj<std::array<char, 2>>();

  BOOST_TEST(rig.chain.readable().size() == 2U);
  BOOST_TEST(std::string_view(value.value().data(), 2) == "ab");
}

BOOST_AUTO_TEST_CASE(buffer_spanning_two_adjacent_regions_is_accepted_and_read_whole) {
  split_rig rig;
  const guest_address straddle{region_size - 2};
  rig.memory.write_all(straddle, bytes_of("wxyz")).value();
  const std::array b{vt::driver_buffer{.address = straddle, .length = 4}};
  rig.driver.offer(b);
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  q::chain_reader reader{rig.memory, rig.chain};
  std::array<std::byte, 4> out{};

  BOOST_TEST(reader.read_exact(out).has_value());

  BOOST_TEST((out == std::array{std::byte{'w'}, std::byte{'x'}, std::byte{'y'}, std::byte{'z'}}));
}

BOOST_AUTO_TEST_CASE(descriptor_table_across_two_regions_is_read_descriptor_by_descriptor) {
  // The table's 8 descriptors start 64 bytes before the second region: half of them lie in each.
  mem::guest_memory memory = make_memory();
  const guest_address table{region_size - 64};
  vt::split_driver driver{memory, queue_size, table, avail_area, used_area};
  auto queue = q::split_queue::create(driver.config(), 0, memory).value();
  q::descriptor_chain chain;
  const std::array b{
      vt::driver_buffer{.address = at(0), .length = 1},  vt::driver_buffer{.address = at(8), .length = 2},
      vt::driver_buffer{.address = at(16), .length = 3}, vt::driver_buffer{.address = at(24), .length = 4},
      vt::driver_buffer{.address = at(32), .length = 5}, vt::driver_buffer{.address = at(40), .length = 6}};
  driver.offer(b);

  BOOST_TEST(queue.pop(memory, chain).value());

  BOOST_TEST(chain.descriptors().size() == 6U);
  BOOST_TEST(chain.readable_bytes() == 21U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(chain_reader_writer)

BOOST_AUTO_TEST_CASE(reader_reads_objects_across_descriptor_boundaries) {
  split_rig rig;
  rig.memory.write_all(at(0), bytes_of("012")).value();
  rig.memory.write_all(at(0x100), bytes_of("3456")).value();
  rig.memory.write_all(at(0x200), bytes_of("789")).value();
  const std::array b{vt::driver_buffer{.address = at(0), .length = 3},
                     vt::driver_buffer{.address = at(0x100), .length = 4},
                     vt::driver_buffer{.address = at(0x200), .length = 3}};
  rig.driver.offer(b);
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  q::chain_reader reader{rig.memory, rig.chain};

  const auto first = reader.read_obj<std::array<char, 5>>();  // 3 bytes of the first buffer, 2 of the second
  const auto skipped = reader.skip(2);
  const auto last = reader.read_obj<std::array<char, 3>>();

  BOOST_TEST(std::string_view(first.value().data(), 5) == "01234");
  BOOST_TEST(skipped.has_value());
  BOOST_TEST(std::string_view(last.value().data(), 3) == "789");
  BOOST_TEST(reader.remaining() == 0U);
}

BOOST_AUTO_TEST_CASE(reader_asked_for_more_than_remains_fails_and_consumes_nothing) {
  split_rig rig;
  const std::array b{vt::driver_buffer{.address = at(0), .length = 3},
                     vt::driver_buffer{.address = at(0x100), .length = 4}};
  rig.driver.offer(b);
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  q::chain_reader reader{rig.memory, rig.chain};
  std::array<std::byte, 8> out{};
  std::vector<vmm::sys::io_buffer> io;

  BOOST_TEST(vt::error_of(reader.read_exact(out)) == make_error_code(q::errc::chain_too_short));
  BOOST_TEST(vt::error_of(reader.skip(8)) == make_error_code(q::errc::chain_too_short));
  BOOST_TEST(vt::error_of(reader.take_io_buffers(8, io)) == make_error_code(q::errc::chain_too_short));

  BOOST_TEST(reader.remaining() == 7U);
  BOOST_TEST(io.empty());
}

BOOST_AUTO_TEST_CASE(reader_takes_one_io_buffer_per_descriptor_piece) {
  split_rig rig;
  const std::array b{vt::driver_buffer{.address = at(0), .length = 3},
                     vt::driver_buffer{.address = at(0x100), .length = 4}};
  rig.driver.offer(b);
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  q::chain_reader reader{rig.memory, rig.chain};
  std::vector<vmm::sys::io_buffer> io;

  BOOST_TEST(reader.skip(1).has_value());
  BOOST_TEST(reader.take_io_buffers(5, io).has_value());

  BOOST_TEST_REQUIRE(io.size() == 2U);
  BOOST_TEST(io[0].length == 2U);
  BOOST_TEST(io[1].length == 3U);
  BOOST_TEST(reader.remaining() == 1U);
}

BOOST_AUTO_TEST_CASE(reader_past_max_buffers_fails_and_leaves_the_list_as_it_was) {
  split_rig rig;
  const std::array b{vt::driver_buffer{.address = at(0), .length = 3},
                     vt::driver_buffer{.address = at(0x100), .length = 4}};
  rig.driver.offer(b);
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  q::chain_reader reader{rig.memory, rig.chain};
  std::vector<vmm::sys::io_buffer> io;

  const auto taken = reader.take_io_buffers(7, io, 1);

  BOOST_TEST(vt::error_of(taken) == make_error_code(mem::errc::too_many_buffers));
  BOOST_TEST(io.empty());
  BOOST_TEST(reader.remaining() == 7U);
}

BOOST_AUTO_TEST_CASE(writer_writes_across_descriptors_and_counts_the_used_length) {
  split_rig rig;
  const std::array b{vt::driver_buffer{.address = at(0), .length = 4},
                     vt::driver_buffer{.address = at(0x100), .length = 2, .writable = true},
                     vt::driver_buffer{.address = at(0x200), .length = 8, .writable = true}};
  rig.driver.offer(b);
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  q::chain_writer writer{rig.memory, rig.chain};
  std::vector<vmm::sys::io_buffer> io;

  BOOST_TEST(writer.write_all(bytes_of("abc")).has_value());  // 2 bytes in the first writable buffer, 1 in the next
  BOOST_TEST(writer.skip(1).has_value());
  BOOST_TEST(writer.write_obj(std::uint16_t{0x4241}).has_value());
  BOOST_TEST(writer.take_io_buffers(2, io).has_value());

  std::array<char, 2> first{};
  std::array<char, 5> second{};
  rig.memory.read_exact(at(0x100), std::as_writable_bytes(std::span{first})).value();
  rig.memory.read_exact(at(0x200), std::as_writable_bytes(std::span{second})).value();
  BOOST_TEST(std::string_view(first.data(), 2) == "ab");
  BOOST_TEST(second[0] == 'c');
  BOOST_TEST(std::string_view(second.data() + 2, 2) == "AB");
  BOOST_TEST(writer.written() == 8U);
  BOOST_TEST(writer.remaining() == 2U);
  BOOST_TEST(io.size() == 1U);
}

BOOST_AUTO_TEST_CASE(writer_asked_for_more_than_remains_fails_and_writes_nothing) {
  split_rig rig;
  const std::array b{vt::driver_buffer{.address = at(0x100), .length = 2, .writable = true}};
  rig.driver.offer(b);
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  q::chain_writer writer{rig.memory, rig.chain};
  std::vector<vmm::sys::io_buffer> io;

  BOOST_TEST(vt::error_of(writer.write_all(bytes_of("abc"))) == make_error_code(q::errc::chain_too_short));
  BOOST_TEST(vt::error_of(writer.skip(3)) == make_error_code(q::errc::chain_too_short));
  BOOST_TEST(vt::error_of(writer.take_io_buffers(3, io)) == make_error_code(q::errc::chain_too_short));
  BOOST_TEST(vt::error_of(writer.take_io_buffers(2, io, 0)) == make_error_code(mem::errc::too_many_buffers));

  BOOST_TEST(writer.written() == 0U);
  BOOST_TEST(writer.remaining() == 2U);
}

BOOST_AUTO_TEST_CASE(reader_of_a_buffer_unmapped_since_pop_fails_and_consumes_nothing) {
  split_rig rig;
  const std::array b{vt::driver_buffer{.address = guest_address{region_size + 0x100}, .length = 4},
                     vt::driver_buffer{.address = guest_address{region_size + 0x200}, .length = 4, .writable = true}};
  rig.driver.offer(b);
  BOOST_TEST_REQUIRE(rig.queue.pop(rig.memory, rig.chain).value());
  // The second region is unplugged while the device holds the chain.
  const auto smaller = rig.memory.remove(guest_address{region_size}, region_size).value().memory;
  q::chain_reader reader{smaller, rig.chain};
  q::chain_writer writer{smaller, rig.chain};
  std::array<std::byte, 4> out{};

  BOOST_TEST(vt::error_of(reader.read_exact(out)) == make_error_code(mem::errc::out_of_range));
  BOOST_TEST(vt::error_of(writer.write_all(out)) == make_error_code(mem::errc::out_of_range));

  BOOST_TEST(reader.remaining() == 4U);
  BOOST_TEST(writer.written() == 0U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(split_queue_indices)

BOOST_AUTO_TEST_CASE(indices_wrap_past_65535_without_losing_a_chain) {
  split_rig rig;
  // Move both indices to 65534, two entries before the 16-bit wrap.
  for (int i = 0; i < 65534; ++i) {
    rig.cycle_one();
  }
  const std::array b{vt::driver_buffer{.address = at(0), .length = 4}};
  rig.driver.offer(b);
  rig.driver.offer(b);
  rig.driver.offer(b);  // avail idx is now 65537 mod 2^16 = 1

  q::descriptor_chain second;
  q::descriptor_chain third;
  BOOST_TEST(rig.queue.pop(rig.memory, rig.chain).value());
  BOOST_TEST(rig.queue.pop(rig.memory, second).value());
  BOOST_TEST(rig.queue.pop(rig.memory, third).value());
  BOOST_TEST(!rig.queue.pop(rig.memory, rig.chain).value());
  BOOST_TEST(rig.queue.next_avail() == 1);
  BOOST_TEST(rig.queue.add_used(rig.memory, second.token(), 0).has_value());
  BOOST_TEST(rig.queue.add_used(rig.memory, third.token(), 0).has_value());

  BOOST_TEST(rig.queue.next_used() == 0);
  BOOST_TEST(rig.driver.used_idx() == 0);
  BOOST_TEST(rig.driver.take_used().has_value());
  BOOST_TEST(rig.driver.take_used().has_value());
  BOOST_TEST(!rig.queue.broken());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(split_queue_notifications)

BOOST_AUTO_TEST_CASE(without_event_idx_an_interrupt_is_needed_unless_no_interrupt_is_set) {
  split_rig rig;
  rig.cycle_one();
  BOOST_TEST(rig.queue.needs_notification(rig.memory).value());
  rig.driver.set_avail_flags(q::avail_f_no_interrupt);
  rig.cycle_one();
  BOOST_TEST(!rig.queue.needs_notification(rig.memory).value());
  BOOST_TEST(rig.queue.stats().notifications_needed == 1U);
  BOOST_TEST(rig.queue.stats().notifications_suppressed == 1U);
}

BOOST_AUTO_TEST_CASE(nothing_used_since_the_last_check_needs_no_interrupt) {
  split_rig rig;
  rig.cycle_one();
  BOOST_TEST_REQUIRE(rig.queue.needs_notification(rig.memory).value());
  BOOST_TEST(!rig.queue.needs_notification(rig.memory).value());
}

BOOST_AUTO_TEST_CASE(event_idx_interrupts_only_when_used_passes_used_event) {
  split_rig rig{with_event_idx};
  rig.driver.set_used_event(1);  // "interrupt me when entry 1 is used", i.e. once used idx goes past 1
  rig.cycle_one();               // used idx 0 → 1: entry 0 used
  BOOST_TEST(!rig.queue.needs_notification(rig.memory).value());
  rig.cycle_one();  // used idx 1 → 2: entry 1 used
  BOOST_TEST(rig.queue.needs_notification(rig.memory).value());
  rig.cycle_one();  // already past
  BOOST_TEST(!rig.queue.needs_notification(rig.memory).value());
}

BOOST_AUTO_TEST_CASE(event_idx_decision_holds_across_the_16_bit_wrap) {
  split_rig rig{with_event_idx};
  for (int i = 0; i < 65535; ++i) {
    rig.cycle_one();
  }
  static_cast<void>(rig.queue.needs_notification(rig.memory).value());  // settle: entry 0 was used long ago
  rig.driver.set_used_event(0);                                         // entry 65536 mod 2^16: one past the next
  rig.cycle_one();                                                      // used idx 65535 → 0: entry 65535 used
  BOOST_TEST(!rig.queue.needs_notification(rig.memory).value());
  rig.cycle_one();  // used idx 0 → 1: entry 0 used
  BOOST_TEST(rig.queue.needs_notification(rig.memory).value());
}

BOOST_AUTO_TEST_CASE(event_idx_interrupts_once_for_a_batch_that_passes_used_event) {
  split_rig rig{with_event_idx};
  rig.driver.set_used_event(2);
  rig.cycle_one();
  rig.cycle_one();
  rig.cycle_one();
  rig.cycle_one();  // entries 0..3 used at once: 2 lies in [0, 4)
  BOOST_TEST(rig.queue.needs_notification(rig.memory).value());
}

BOOST_AUTO_TEST_CASE(enable_notification_with_event_idx_sets_avail_event_and_reports_pending_chains) {
  split_rig rig{with_event_idx};
  rig.cycle_one();
  BOOST_TEST(!rig.queue.enable_notification(rig.memory).value());
  BOOST_TEST(rig.driver.avail_event() == 1);
  const std::array b{vt::driver_buffer{.address = at(0), .length = 4}};
  rig.driver.offer(b);
  BOOST_TEST(rig.queue.enable_notification(rig.memory).value());
  BOOST_TEST(rig.queue.disable_notification(rig.memory).has_value());
  BOOST_TEST(rig.driver.used_flags() == 0);  // EVENT_IDX: the flag is not used
}

BOOST_AUTO_TEST_CASE(enable_and_disable_notification_without_event_idx_toggle_no_notify) {
  split_rig rig;
  BOOST_TEST(rig.queue.disable_notification(rig.memory).has_value());
  BOOST_TEST(rig.driver.used_flags() == q::used_f_no_notify);
  BOOST_TEST(!rig.queue.enable_notification(rig.memory).value());
  BOOST_TEST(rig.driver.used_flags() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(virtqueue_wrapper)

BOOST_AUTO_TEST_CASE(virtqueue_without_ring_packed_is_a_split_queue_and_forwards_every_call) {
  split_rig rig;
  auto vq = q::virtqueue::create(rig.driver.config(), 0, rig.memory).value();
  const std::array b{vt::driver_buffer{.address = at(0), .length = 4, .writable = true}};
  const std::uint16_t head = rig.driver.offer(b);

  BOOST_TEST(!vq.packed());
  BOOST_TEST(vq.size() == queue_size);
  BOOST_TEST(vq.pop(rig.memory, rig.chain).value());
  BOOST_TEST(vq.in_flight() == 1U);
  BOOST_TEST(vq.add_used(rig.memory, rig.chain.token(), 4).has_value());
  BOOST_TEST(vq.needs_notification(rig.memory).value());
  BOOST_TEST(vq.disable_notification(rig.memory).has_value());
  BOOST_TEST(!vq.enable_notification(rig.memory).value());
  BOOST_TEST(vq.stats().chains_popped == 1U);
  BOOST_TEST(!vq.broken());
  BOOST_TEST((rig.driver.take_used() == vt::used_buffer{.id = head, .length = 4}));
}

BOOST_AUTO_TEST_CASE(virtqueue_with_ring_packed_is_a_packed_queue) {
  mem::guest_memory memory = make_memory();
  const vt::packed_driver driver{memory, 5, desc_area, avail_area, used_area};

  const auto vq = q::virtqueue::create(driver.config(), with_packed, memory);

  BOOST_TEST(vq.value().packed());
  BOOST_TEST(vq.value().size() == 5);
}

BOOST_AUTO_TEST_SUITE_END()
