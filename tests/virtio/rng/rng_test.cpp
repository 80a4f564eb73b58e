// The entropy device's request core and device interface: writable buffers filled with random bytes in chain
// order, readable ones untouched, the per-request cap, the device's features and empty configuration space, the
// metrics' JSON, and the device end to end: a mock driver's split and packed queues, the handler on a real event
// manager, used entries and interrupts.
#include <boost/test/unit_test.hpp>

#include <cerrno>

#include <nlohmann/json.hpp>

import std;
import vmm.sys;
import vmm.memory;
import vmm.event_manager;
import vmm.virtio.queue;
import vmm.virtio.device;
import vmm.virtio.rng;
import vmm.testing;

namespace mem = vmm::memory;
namespace q = vmm::virtio::queue;
namespace rng = vmm::virtio::rng;
using mem::guest_address;

namespace {

// 1 MiB of guest memory from address 0: room for every chain below.
constexpr std::uint64_t memory_size = 0x100000;
constexpr std::byte untouched{0xa5};

auto make_memory() -> mem::guest_memory {
  const std::array layout{mem::guest_range{.start = guest_address{0}, .size = memory_size}};
  auto memory = mem::guest_memory::anonymous(layout);
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  return std::move(*memory);
}

void fill(const mem::guest_memory& memory, std::uint64_t address, std::size_t length, std::byte value) {
  const std::vector<std::byte> bytes(length, value);
  BOOST_TEST_REQUIRE(memory.write_all(guest_address{address}, bytes).has_value());
}

auto read(const mem::guest_memory& memory, std::uint64_t address, std::size_t length) -> std::vector<std::byte> {
  std::vector<std::byte> bytes(length);
  BOOST_TEST_REQUIRE(memory.read_exact(guest_address{address}, bytes).has_value());
  return bytes;
}

// How many bytes of `bytes` still hold `value`.
auto count_of(const std::vector<std::byte>& bytes, std::byte value) -> std::size_t {
  return static_cast<std::size_t>(std::ranges::count(bytes, value));
}

auto chain_of(std::initializer_list<q::descriptor> descriptors) -> q::descriptor_chain {
  q::descriptor_chain chain;
  chain.reset({.id = 3});
  for (const auto& d : descriptors) {
    chain.append(d);
  }
  return chain;
}

auto writable(std::uint64_t address, std::uint32_t length) -> q::descriptor {
  return {.address = guest_address{address}, .length = length, .writable = true};
}

// The transport's side of an interrupt: counts the used-buffer signals.
class counting_interrupt final : public vmm::virtio::device::virtio_interrupt {
 public:
  auto signal(vmm::virtio::device::interrupt_cause cause) -> vmm::result<void> override {
    if (fail) {
      return vmm::os_failure(EIO);
    }
    if (cause == vmm::virtio::device::interrupt_cause::used_buffer) {
      ++count;
    }
    return {};
  }
  int count = 0;
  bool fail = false;  // fail every signal, as an irqfd write could
};

constexpr std::uint64_t version_1 = std::uint64_t{1} << q::feature::version_1;
constexpr std::uint64_t packed_ring = std::uint64_t{1} << q::feature::ring_packed;

// A device activated with one queue that a mock driver (split, or packed with `features`) plays the guest side of,
// and a dynamic event manager running its handler. Rings at 0x0-0x3000, buffers from 0x10000.
struct queue_rig {
  mem::guest_memory memory = make_memory();
  std::shared_ptr<rng::rng_device> device = rng::rng_device::create().value();
  std::shared_ptr<counting_interrupt> interrupt = std::make_shared<counting_interrupt>();
  vmm::sys::event_fd kick = vmm::sys::event_fd::create({.nonblocking = true}).value();
  vmm::event_manager::dynamic_event_manager manager = vmm::event_manager::dynamic_event_manager::create().value();
  std::optional<vmm::testing::split_driver> split;
  std::optional<vmm::testing::packed_driver> packed;
  vmm::event_manager::subscriber_id handler_id;

  explicit queue_rig(std::uint64_t features = version_1) {
    handler_id = manager.add_subscriber(std::make_unique<rng::rng_handler>(device)).value();
    activate(features);
  }

  // Lays the rings out afresh (a new driver) and returns the activation a transport would pass for them.
  auto activation_for(std::uint64_t features) -> vmm::virtio::device::activation {
    q::queue_config config;
    if (q::has_feature(features, q::feature::ring_packed)) {
      packed.emplace(memory, 16, guest_address{0}, guest_address{0x1000}, guest_address{0x2000});
      config = packed->config();
    } else {
      split.emplace(memory, 16, guest_address{0}, guest_address{0x1000}, guest_address{0x2000});
      config = split->config();
    }
    auto queue = q::virtqueue::create(config, features, memory);
    BOOST_TEST_REQUIRE(queue.has_value(), vmm::testing::describe(queue));
    vmm::virtio::device::activation a;
    a.features = features;
    a.memory = std::make_shared<const mem::atomic_guest_memory>(memory);
    a.queues.push_back(std::move(*queue));
    a.queue_events.push_back(kick.fd());
    a.interrupt = interrupt;
    return a;
  }

  // Activates the device with fresh rings and the current `kick`, and lets the handler see it.
  void activate(std::uint64_t features) {
    BOOST_TEST_REQUIRE(device->activate(activation_for(features)).has_value());
    BOOST_TEST_REQUIRE(manager.run_with_timeout(std::chrono::milliseconds{1000}).value_or(0) == 1U);  // activation
  }

  void offer(std::initializer_list<vmm::testing::driver_buffer> buffers) {
    const std::vector<vmm::testing::driver_buffer> list{buffers};
    if (split) {
      split->offer(list);
    } else {
      packed->add_chain(list);
    }
  }

  // Notifies the device and runs the loop until it has handled the notification.
  void notify() {
    BOOST_TEST_REQUIRE(kick.write().has_value());
    BOOST_TEST_REQUIRE(manager.run_with_timeout(std::chrono::milliseconds{1000}).value_or(0) >= 1U);
  }

  auto take_used() -> std::optional<vmm::testing::used_buffer> {
    return split ? split->take_used() : packed->take_used();
  }
};

auto out(std::uint64_t address, std::uint32_t length) -> vmm::testing::driver_buffer {
  return {.address = guest_address{address}, .length = length, .writable = true};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rng_request)

BOOST_AUTO_TEST_CASE(every_writable_byte_is_filled_and_counted_as_the_used_length) {
  const auto memory = make_memory();
  fill(memory, 0x1000, 100, untouched);
  fill(memory, 0x3000, 300, untouched);
  const auto chain = chain_of({writable(0x1000, 100), writable(0x3000, 300)});

  const auto outcome = rng::fill_request(memory, chain);

  BOOST_TEST(outcome.used_length == 400U);
  BOOST_TEST((outcome.status == rng::request_status::filled));
  // 400 random bytes keep at most a handful of 0xa5 by chance (expected 400/256); the bound leaves a wide margin.
  BOOST_TEST(count_of(read(memory, 0x1000, 100), untouched) < 20U);
  BOOST_TEST(count_of(read(memory, 0x3000, 300), untouched) < 30U);
}

BOOST_AUTO_TEST_CASE(readable_buffers_and_bytes_around_the_writable_ones_are_untouched) {
  const auto memory = make_memory();
  fill(memory, 0x0, 0x4000, untouched);
  const auto chain =
      chain_of({{.address = guest_address{0x100}, .length = 64, .writable = false}, writable(0x2000, 32)});

  const auto outcome = rng::fill_request(memory, chain);

  BOOST_TEST(outcome.used_length == 32U);
  BOOST_TEST(count_of(read(memory, 0x100, 64), untouched) == 64U);
  BOOST_TEST(count_of(read(memory, 0x1fff, 1), untouched) == 1U);
  BOOST_TEST(count_of(read(memory, 0x2020, 1), untouched) == 1U);
}

BOOST_AUTO_TEST_CASE(two_requests_get_different_bytes) {
  const auto memory = make_memory();
  const auto first = chain_of({writable(0x1000, 64)});
  const auto second = chain_of({writable(0x2000, 64)});

  BOOST_TEST(rng::fill_request(memory, first).used_length == 64U);
  BOOST_TEST(rng::fill_request(memory, second).used_length == 64U);

  BOOST_TEST((read(memory, 0x1000, 64) != read(memory, 0x2000, 64)));
}

BOOST_AUTO_TEST_CASE(a_buffer_across_two_regions_is_filled_whole) {
  constexpr std::uint64_t page = 0x1000;
  const std::array layout{mem::guest_range{.start = guest_address{0}, .size = page},
                          mem::guest_range{.start = guest_address{page}, .size = page}};
  auto memory = mem::guest_memory::anonymous(layout);
  BOOST_TEST_REQUIRE(memory.has_value());
  fill(*memory, page - 128, 256, untouched);

  const auto outcome = rng::fill_request(*memory, chain_of({writable(page - 128, 256)}));

  BOOST_TEST(outcome.used_length == 256U);
  BOOST_TEST(count_of(read(*memory, page - 128, 256), untouched) < 25U);
}

BOOST_AUTO_TEST_CASE(a_request_larger_than_the_cap_gets_exactly_the_cap) {
  const auto memory = make_memory();
  fill(memory, 0x10000 + rng::max_request_bytes, 16, untouched);
  const auto chain = chain_of({writable(0x10000, rng::max_request_bytes + 16)});

  const auto outcome = rng::fill_request(memory, chain);

  BOOST_TEST(outcome.used_length == rng::max_request_bytes);
  BOOST_TEST((outcome.status == rng::request_status::capped));
  BOOST_TEST(count_of(read(memory, 0x10000 + rng::max_request_bytes, 16), untouched) == 16U);
}

BOOST_AUTO_TEST_CASE(writes_mark_the_pages_dirty) {
  const std::array layout{mem::guest_range{.start = guest_address{0}, .size = 4 * 0x1000}};
  auto memory = mem::guest_memory::anonymous(layout, {.track_dirty = true});
  BOOST_TEST_REQUIRE(memory.has_value());
  const auto* bitmap = memory->regions()[0]->bitmap();
  BOOST_TEST_REQUIRE(bitmap != nullptr);

  BOOST_TEST(rng::fill_request(*memory, chain_of({writable(0x2010, 16)})).used_length == 16U);

  BOOST_TEST(!bitmap->is_dirty(0));
  BOOST_TEST(bitmap->is_dirty(2));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rng_device_interface)

BOOST_AUTO_TEST_CASE(the_device_is_an_entropy_device_with_one_queue_and_virtio_1) {
  const auto device = rng::rng_device::create();
  BOOST_TEST_REQUIRE(device.has_value(), vmm::testing::describe(device));

  BOOST_TEST((*device)->device_type() == vmm::virtio::device::device_id::rng);
  BOOST_TEST(q::has_feature((*device)->device_features(), q::feature::version_1));
  BOOST_TEST(q::has_feature((*device)->device_features(), q::feature::ring_packed));
  BOOST_TEST(q::has_feature((*device)->device_features(), q::feature::event_idx));
  BOOST_TEST_REQUIRE((*device)->queue_max_sizes().size() == 1U);
  BOOST_TEST((*device)->queue_max_sizes()[0] == rng::queue_size);
  BOOST_TEST(!(*device)->active());
  BOOST_TEST((*device)->acked_features() == 0U);
  BOOST_TEST(!(*device)->queue_event().valid());
}

BOOST_AUTO_TEST_CASE(config_space_reads_zero_and_writes_are_ignored_and_counted) {
  auto device = rng::rng_device::create().value();
  std::array<std::byte, 8> data{};
  data.fill(untouched);

  device->read_config(0, data);
  device->write_config(4, data);

  BOOST_TEST((data == std::array<std::byte, 8>{}));
  BOOST_TEST(device->metrics().ignored_config_writes == 1U);
}

BOOST_AUTO_TEST_CASE(metrics_serialise_every_counter_to_json) {
  const rng::rng_metrics metrics{.requests = 3,
                                 .bytes = 96,
                                 .empty_requests = 1,
                                 .capped_requests = 2,
                                 .entropy_errors = 4,
                                 .memory_errors = 5,
                                 .invalid_chains = 6,
                                 .queue_errors = 7,
                                 .interrupts = 8,
                                 .interrupt_errors = 9,
                                 .ignored_config_writes = 10};

  const auto json = nlohmann::json::parse(metrics.to_json());

  BOOST_TEST(json.size() == 11U);
  BOOST_TEST(json.at("requests").get<int>() == 3);
  BOOST_TEST(json.at("bytes").get<int>() == 96);
  BOOST_TEST(json.at("empty_requests").get<int>() == 1);
  BOOST_TEST(json.at("capped_requests").get<int>() == 2);
  BOOST_TEST(json.at("entropy_errors").get<int>() == 4);
  BOOST_TEST(json.at("memory_errors").get<int>() == 5);
  BOOST_TEST(json.at("invalid_chains").get<int>() == 6);
  BOOST_TEST(json.at("queue_errors").get<int>() == 7);
  BOOST_TEST(json.at("interrupts").get<int>() == 8);
  BOOST_TEST(json.at("interrupt_errors").get<int>() == 9);
  BOOST_TEST(json.at("ignored_config_writes").get<int>() == 10);
}

BOOST_AUTO_TEST_CASE(the_handler_watches_the_state_event_and_a_reset_of_an_idle_device_changes_nothing) {
  auto device = rng::rng_device::create().value();
  auto manager = vmm::event_manager::dynamic_event_manager::create().value();
  BOOST_TEST_REQUIRE(manager.add_subscriber(std::make_unique<rng::rng_handler>(device)).has_value());
  BOOST_TEST(manager.registration_count() == 1U);

  device->reset();
  const auto dispatched = manager.run_with_timeout(std::chrono::milliseconds{1000});

  BOOST_TEST(dispatched.value_or(0) == 1U);
  BOOST_TEST(manager.registration_count() == 1U);
  BOOST_TEST(manager.subscriber_errors() == 0U);
  BOOST_TEST((device->metrics() == rng::rng_metrics{}));
}

BOOST_AUTO_TEST_CASE(a_notification_answers_every_available_request_and_raises_one_interrupt) {
  queue_rig rig;
  rig.offer({out(0x10000, 64)});
  rig.offer({out(0x11000, 16), out(0x12000, 16)});
  rig.offer({{.address = guest_address{0x13000}, .length = 8, .writable = false}});

  rig.notify();

  BOOST_TEST((rig.take_used() == vmm::testing::used_buffer{.id = 0, .length = 64}));
  BOOST_TEST(rig.take_used().value_or(vmm::testing::used_buffer{}).length == 32U);
  BOOST_TEST(rig.take_used().value_or(vmm::testing::used_buffer{.length = 1}).length == 0U);
  BOOST_TEST(!rig.take_used().has_value());
  BOOST_TEST(rig.interrupt->count == 1);
  const auto m = rig.device->metrics();
  BOOST_TEST(m.requests == 3U);
  BOOST_TEST(m.bytes == 96U);
  BOOST_TEST(m.empty_requests == 1U);
  BOOST_TEST(m.interrupts == 1U);
}

BOOST_AUTO_TEST_CASE(a_packed_queue_is_served_the_same_way) {
  queue_rig rig{version_1 | packed_ring};
  rig.offer({out(0x10000, 128)});

  rig.notify();

  BOOST_TEST(rig.take_used().value_or(vmm::testing::used_buffer{}).length == 128U);
  BOOST_TEST(rig.interrupt->count == 1);
}

BOOST_AUTO_TEST_CASE(process_queue_answers_a_request_offered_without_a_notification) {
  queue_rig rig;
  rig.offer({out(0x10000, 8)});
  BOOST_TEST_REQUIRE(rig.device->process_queue().has_value());

  BOOST_TEST(rig.take_used().value_or(vmm::testing::used_buffer{}).length == 8U);
}

BOOST_AUTO_TEST_CASE(a_malformed_chain_is_counted_and_the_next_request_is_answered) {
  queue_rig rig;
  // Descriptor 5: a writable buffer far outside guest memory, made available by hand; then a good request.
  rig.split->write_descriptor(5, {.addr = 0x7fff'0000'0000, .len = 64, .flags = q::desc_f_write, .next = 0});
  rig.split->push_head(5);
  rig.split->publish();
  rig.offer({out(0x10000, 16)});

  rig.notify();

  BOOST_TEST((rig.take_used() == vmm::testing::used_buffer{.id = 5, .length = 0}));
  BOOST_TEST(rig.take_used().value_or(vmm::testing::used_buffer{}).length == 16U);
  BOOST_TEST(rig.device->metrics().invalid_chains == 1U);
  BOOST_TEST(rig.device->metrics().requests == 1U);
}

BOOST_AUTO_TEST_CASE(a_second_activation_after_reset_is_served_on_its_new_eventfd) {
  queue_rig rig;
  rig.device->reset();
  BOOST_TEST_REQUIRE(rig.manager.run_with_timeout(std::chrono::milliseconds{1000}).value_or(0) == 1U);
  rig.kick = vmm::sys::event_fd::create({.nonblocking = true}).value();
  rig.activate(version_1);
  rig.offer({out(0x10000, 24)});

  rig.notify();

  BOOST_TEST(rig.take_used().value_or(vmm::testing::used_buffer{}).length == 24U);
  BOOST_TEST(rig.manager.registration_count() == 2U);  // the state event and the new queue event
}

BOOST_AUTO_TEST_CASE(activations_twice_or_without_memory_or_interrupt_are_refused) {
  queue_rig rig;
  const auto twice = rig.device->activate(rig.activation_for(version_1));
  rig.device->reset();
  auto no_memory = rig.activation_for(version_1);
  no_memory.memory = nullptr;
  auto no_interrupt = rig.activation_for(version_1);
  no_interrupt.interrupt = nullptr;

  BOOST_TEST(vmm::testing::error_of(twice) == make_error_code(rng::errc::already_active));
  BOOST_TEST(vmm::testing::error_of(rig.device->activate(std::move(no_memory))) ==
             make_error_code(rng::errc::no_memory));
  BOOST_TEST(vmm::testing::error_of(rig.device->activate(std::move(no_interrupt))) ==
             make_error_code(rng::errc::no_interrupt));
  BOOST_TEST(!rig.device->active());
}

BOOST_AUTO_TEST_CASE(after_reset_notifications_are_no_longer_watched) {
  queue_rig rig;
  rig.device->reset();
  BOOST_TEST_REQUIRE(rig.manager.run_with_timeout(std::chrono::milliseconds{1000}).value_or(0) == 1U);
  rig.offer({out(0x10000, 8)});

  BOOST_TEST_REQUIRE(rig.kick.write().has_value());
  const auto dispatched = rig.manager.run_with_timeout(std::chrono::milliseconds{0});

  BOOST_TEST(dispatched.value_or(1) == 0U);
  BOOST_TEST(!rig.take_used().has_value());
  BOOST_TEST(rig.manager.registration_count() == 1U);  // the state event only
  BOOST_TEST(!rig.device->active());
}

BOOST_AUTO_TEST_CASE(a_capped_request_through_the_queue_is_counted_and_a_failing_interrupt_too) {
  queue_rig rig;
  rig.interrupt->fail = true;
  rig.offer({out(0x10000, rng::max_request_bytes + 16)});

  rig.notify();

  BOOST_TEST(rig.take_used().value_or(vmm::testing::used_buffer{}).length == rng::max_request_bytes);
  BOOST_TEST(rig.device->metrics().capped_requests == 1U);
  BOOST_TEST(rig.device->metrics().interrupt_errors == 1U);
}

BOOST_AUTO_TEST_CASE(a_corrupted_available_index_breaks_the_queue_once_and_it_stays_broken) {
  queue_rig rig;
  rig.split->set_avail_idx(100);  // 100 ahead of a queue of 16
  rig.split->publish();

  rig.notify();

  BOOST_TEST(rig.device->metrics().queue_errors == 1U);
  BOOST_TEST(vmm::testing::error_of(rig.device->process_queue()) == make_error_code(rng::errc::queue_broken));
  BOOST_TEST(rig.device->metrics().queue_errors == 1U);
}

BOOST_AUTO_TEST_CASE(a_queue_eventfd_epoll_refuses_is_counted_by_the_handler) {
  queue_rig rig;
  rig.device->reset();
  BOOST_TEST_REQUIRE(rig.manager.run_with_timeout(std::chrono::milliseconds{1000}).value_or(0) == 1U);
  auto a = rig.activation_for(version_1);
  a.queue_events[0] = vmm::sys::borrowed_fd{100000};  // no such descriptor: EBADF

  BOOST_TEST_REQUIRE(rig.device->activate(std::move(a)).has_value());
  BOOST_TEST_REQUIRE(rig.manager.run_with_timeout(std::chrono::milliseconds{1000}).value_or(0) == 1U);

  const auto& handler = dynamic_cast<rng::rng_handler&>(*rig.manager.subscriber(rig.handler_id).value().get());
  BOOST_TEST(handler.handler_errors() == 1U);
  BOOST_TEST(handler.device() == rig.device);
}

BOOST_AUTO_TEST_SUITE_END()
