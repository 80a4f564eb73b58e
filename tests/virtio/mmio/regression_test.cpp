// Regressions and advisories for vmm.virtio.mmio, one case each, named after what they guard against.
//   CVE-2026-5747: Firecracker's virtio-mmio transport let a guest rewrite a queue's registers (size, ring
//   addresses, ready) after DRIVER_OK; the device then used rings the transport had never checked. Here every
//   queue register is frozen from DRIVER_OK until reset: the device keeps popping from the rings it was activated
//   with.
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

namespace mem = vmm::memory;
namespace mmio = vmm::virtio::mmio;
namespace vdev = vmm::virtio::device;
namespace vq = vmm::virtio::queue;
namespace status = vdev::status;
using mmio_fakes::bench;

constexpr std::uint32_t running = status::acknowledge | status::driver | status::features_ok | status::driver_ok;
// Where the attacker points the rewritten queue (inside guest memory, properly aligned: a ring that would pass
// every check had it been configured before DRIVER_OK).
constexpr std::uint64_t rogue_area = 0xc000;
// The buffers of the honest chain (in the rings the device was activated with) and of the rogue one.
constexpr std::uint64_t honest_buffer = 0x9000;
constexpr std::uint64_t rogue_buffer = 0xa000;
constexpr std::uint16_t honest_size = 64;

// Makes descriptor 0 of the table at `table` the one-buffer chain [buffer, +length) and publishes head 0 as the
// first entry of the available ring at `avail` (index 1).
void make_available(const mem::guest_memory& memory, std::uint64_t table, std::uint64_t avail, std::uint64_t buffer,
                    std::uint32_t length) {
  const vq::split_descriptor d{.addr = buffer, .len = length, .flags = 0, .next = 0};
  BOOST_TEST_REQUIRE(memory.write_obj(mem::guest_address{table}, d).has_value());
  BOOST_TEST_REQUIRE(memory.write_obj(mem::guest_address{avail + 4}, std::uint16_t{0}).has_value());  // ring[0]
  BOOST_TEST_REQUIRE(memory.write_obj(mem::guest_address{avail + 2}, std::uint16_t{1}).has_value());  // idx
}

}  // namespace

BOOST_AUTO_TEST_SUITE(regression)

BOOST_AUTO_TEST_CASE(cve_2026_5747_queue_rewrite_after_driver_ok_changes_nothing_the_device_sees) {
  const bench b{{.max_sizes = {256}}};
  b.negotiate();
  b.setup_queue(0, honest_size);
  BOOST_TEST_REQUIRE(b.add_status(status::driver_ok) == running);
  const std::vector<vq::queue_config> activated = b.transport->queue_configs();

  // The attack: select the queue again and rewrite every queue register.
  b.write32(mmio::reg::queue_sel, 0);
  b.write32(mmio::reg::queue_ready, 0);
  b.write32(mmio::reg::queue_num, 8);
  b.write_area(mmio::reg::queue_desc_low, rogue_area);
  b.write_area(mmio::reg::queue_driver_low, rogue_area + 0x1000);
  b.write_area(mmio::reg::queue_device_low, rogue_area + 0x2000);
  b.write32(mmio::reg::queue_ready, 1);
  b.add_status(status::driver_ok);  // and "activate" again

  // The transport kept the configuration, counted every rewrite, and activated the device once.
  BOOST_TEST((b.transport->queue_configs() == activated));
  BOOST_TEST(b.transport->metrics().queue_writes_after_driver_ok == 10U);
  BOOST_TEST(b.device->activate_calls() == 1U);
  BOOST_TEST(b.read32(mmio::reg::status) == running);
  BOOST_TEST_REQUIRE(b.device->queues().size() == 1U);
  vq::virtqueue& q = b.device->queues()[0];
  BOOST_TEST(q.size() == honest_size);

  // The device still pops from the rings it was activated with, not from the rogue ones.
  const std::shared_ptr<const mem::guest_memory> memory = b.memory->memory();
  make_available(*memory, rogue_area, rogue_area + 0x1000, rogue_buffer, 99);
  make_available(*memory, mmio_fakes::descriptor_area(0), mmio_fakes::driver_area(0), honest_buffer, 32);
  vq::descriptor_chain chain;
  const auto popped = q.pop(*memory, chain);
  BOOST_TEST_REQUIRE(popped.has_value(), vmm::testing::describe(popped));
  BOOST_TEST_REQUIRE(*popped);
  BOOST_TEST_REQUIRE(chain.descriptors().size() == 1U);
  BOOST_TEST(chain.descriptors()[0].address.raw() == honest_buffer);
  BOOST_TEST(chain.descriptors()[0].length == 32U);
}

BOOST_AUTO_TEST_CASE(cve_2026_5747_queue_registers_are_writable_again_after_reset) {
  const bench b{{.max_sizes = {256}}};
  BOOST_TEST_REQUIRE(b.bring_up() == running);
  b.write32(mmio::reg::status, 0);

  b.negotiate();
  b.setup_queue(0, 8);
  b.write_area(mmio::reg::queue_desc_low, rogue_area);

  const vq::queue_config q = b.transport->queue_configs()[0];
  BOOST_TEST(q.size == 8U);
  BOOST_TEST(q.descriptor_area.raw() == rogue_area);
  BOOST_TEST(b.transport->metrics().queue_writes_after_driver_ok == 0U);
}

BOOST_AUTO_TEST_CASE(stale_notification_from_before_a_reset_does_not_reach_the_next_activation) {
  const bench b;
  BOOST_TEST_REQUIRE(b.bring_up() == running);
  b.write32(mmio::reg::queue_notify, 0);  // the device never got to it

  b.write32(mmio::reg::status, 0);
  BOOST_TEST_REQUIRE(b.bring_up() == running);

  BOOST_TEST(vmm::testing::error_of(b.transport->queue_event(0).read()) == vmm::testing::os_error(EAGAIN));
}

BOOST_AUTO_TEST_SUITE_END()
