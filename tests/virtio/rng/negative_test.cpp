// Malformed requests and refused activations: each gets the documented answer (length 0 or the bytes written
// before the failure), is counted, and leaves guest memory outside the chain's writable buffers untouched.
// Regression cases at the end, one per bug found.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.device;
import vmm.virtio.rng;
import vmm.testing;

namespace mem = vmm::memory;
namespace q = vmm::virtio::queue;
namespace rng = vmm::virtio::rng;
using mem::guest_address;
using vmm::testing::error_of;

namespace {

constexpr std::uint64_t page = 0x1000;
constexpr std::byte untouched{0xa5};

// Two pages of writable memory at 0 and one read-only page at 0x10000.
struct rig {
  mem::guest_memory memory;

  rig() {
    auto rw = mem::guest_region::anonymous(guest_address{0}, 2 * page);
    auto ro = mem::guest_region::anonymous(guest_address{0x10000}, page, {.read_only = true});
    BOOST_TEST_REQUIRE(rw.has_value());
    BOOST_TEST_REQUIRE(ro.has_value());
    auto m = mem::guest_memory::create({std::move(*rw), std::move(*ro)});
    BOOST_TEST_REQUIRE(m.has_value());
    memory = std::move(*m);
    const std::vector<std::byte> pattern(2 * page, untouched);
    BOOST_TEST_REQUIRE(memory.write_all(guest_address{0}, pattern).has_value());
  }

  [[nodiscard]] auto untouched_bytes(std::uint64_t address, std::size_t length) const -> std::size_t {
    std::vector<std::byte> bytes(length);
    BOOST_TEST_REQUIRE(memory.read_exact(guest_address{address}, bytes).has_value());
    return static_cast<std::size_t>(std::ranges::count(bytes, untouched));
  }
};

auto chain_of(std::initializer_list<q::descriptor> descriptors) -> q::descriptor_chain {
  q::descriptor_chain chain;
  chain.reset({.id = 1});
  for (const auto& d : descriptors) {
    chain.append(d);
  }
  return chain;
}

auto writable(std::uint64_t address, std::uint32_t length) -> q::descriptor {
  return {.address = guest_address{address}, .length = length, .writable = true};
}

auto readable(std::uint64_t address, std::uint32_t length) -> q::descriptor {
  return {.address = guest_address{address}, .length = length, .writable = false};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rng_negative)

BOOST_AUTO_TEST_CASE(a_chain_of_readable_buffers_only_gets_length_zero_and_no_write) {
  const rig r;

  const auto outcome = rng::fill_request(r.memory, chain_of({readable(0x100, 64), readable(0x200, 64)}));

  BOOST_TEST(outcome.used_length == 0U);
  BOOST_TEST((outcome.status == rng::request_status::no_writable_buffer));
  BOOST_TEST(r.untouched_bytes(0, 2 * page) == 2 * page);
}

BOOST_AUTO_TEST_CASE(zero_length_writable_buffers_get_length_zero) {
  const rig r;

  const auto outcome = rng::fill_request(r.memory, chain_of({writable(0x100, 0), writable(0x200, 0)}));

  BOOST_TEST(outcome.used_length == 0U);
  BOOST_TEST((outcome.status == rng::request_status::no_writable_buffer));
}

BOOST_AUTO_TEST_CASE(an_empty_chain_gets_length_zero) {
  const rig r;
  q::descriptor_chain chain;
  chain.reset({.id = 0});

  BOOST_TEST((rng::fill_request(r.memory, chain) ==
              rng::request_outcome{.used_length = 0, .status = rng::request_status::no_writable_buffer}));
}

BOOST_AUTO_TEST_CASE(a_buffer_outside_guest_memory_ends_the_request_with_the_bytes_before_it) {
  const rig r;
  // 16 good bytes, then a buffer in the hole between the regions.
  const auto chain = chain_of({writable(0x100, 16), writable(0x8000, 16), writable(0x200, 16)});

  const auto outcome = rng::fill_request(r.memory, chain);

  BOOST_TEST(outcome.used_length == 16U);
  BOOST_TEST((outcome.status == rng::request_status::memory_error));
  BOOST_TEST(r.untouched_bytes(0x200, 16) == 16U);  // nothing after the failure was written
}

BOOST_AUTO_TEST_CASE(a_buffer_running_past_the_end_of_memory_writes_nothing_of_it) {
  const rig r;

  const auto outcome = rng::fill_request(r.memory, chain_of({writable(2 * page - 8, 16)}));

  BOOST_TEST(outcome.used_length == 0U);
  BOOST_TEST((outcome.status == rng::request_status::memory_error));
  BOOST_TEST(r.untouched_bytes(2 * page - 8, 8) == 8U);
}

BOOST_AUTO_TEST_CASE(a_buffer_in_read_only_memory_gets_length_zero) {
  const rig r;

  const auto outcome = rng::fill_request(r.memory, chain_of({writable(0x10000, 64)}));

  BOOST_TEST(outcome.used_length == 0U);
  BOOST_TEST((outcome.status == rng::request_status::memory_error));
}

BOOST_AUTO_TEST_CASE(an_activation_without_a_queue_is_refused_and_the_device_stays_inactive) {
  auto device = rng::rng_device::create().value();
  vmm::virtio::device::activation a;
  a.queue_events.emplace_back(0);

  const auto activated = device->activate(std::move(a));

  BOOST_TEST(error_of(activated) == make_error_code(rng::errc::wrong_queue_count));
  BOOST_TEST(!device->active());
  BOOST_TEST(device->process_queue().has_value());  // nothing to do while inactive
}

BOOST_AUTO_TEST_CASE(every_error_has_a_message_in_the_rng_category) {
  for (const auto e : {rng::errc::wrong_queue_count, rng::errc::no_memory, rng::errc::no_interrupt,
                       rng::errc::already_active, rng::errc::queue_broken}) {
    const std::error_code code = e;
    BOOST_TEST(code.category().name() == std::string_view{"vmm.virtio.rng"});
    BOOST_TEST(!code.message().starts_with("Unknown"));
  }
  BOOST_TEST(std::error_code(static_cast<rng::errc>(0)).message().starts_with("Unknown"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rng_regression)

// A chain's writable total can pass 2^32 (two descriptors of 4 GiB - 1); the used length is a 32-bit field, so a
// length computed from the total would wrap. The cap keeps it exact.
BOOST_AUTO_TEST_CASE(writable_total_above_4_gib_reports_the_cap_not_a_wrapped_length) {
  const std::array layout{mem::guest_range{.start = guest_address{0}, .size = rng::max_request_bytes}};
  const auto memory = mem::guest_memory::anonymous(layout).value();
  constexpr std::uint32_t huge = std::numeric_limits<std::uint32_t>::max();
  const auto chain = chain_of({writable(0, huge), writable(0, huge)});

  const auto outcome = rng::fill_request(memory, chain);

  BOOST_TEST(outcome.used_length == rng::max_request_bytes);
  BOOST_TEST((outcome.status == rng::request_status::capped));
}

BOOST_AUTO_TEST_SUITE_END()
