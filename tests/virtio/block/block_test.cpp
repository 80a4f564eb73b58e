// Each request type on a temporary disk file, with both backends: reads, writes, flushes, discard, write-zeroes
// and GET_ID; the read-only mode; the features, configuration space and metrics the device reports.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <poll.h>

import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.device;
import vmm.virtio.block;
import vmm.testing;
import block_rig;

namespace blk = vmm::virtio::block;
using block_rig::at;
using block_rig::backend_kind;
using block_rig::chain_of;
using block_rig::data_at;
using block_rig::each_backend;
using block_rig::header_at;
using block_rig::ranges_at;
using block_rig::readable;
using block_rig::rig;
using block_rig::status_at;
using block_rig::writable;

namespace {

constexpr std::uint64_t sector = blk::sector_size;

auto make_device(bool read_only, std::uint64_t sectors = block_rig::default_sectors)
    -> std::pair<vmm::sys::temp_file, std::shared_ptr<blk::block_device>> {
  auto file = *vmm::sys::temp_file::create("vmm-blk-");
  BOOST_REQUIRE(vmm::sys::truncate(file.fd(), sectors * sector));
  auto backend = *blk::file_backend::create(*blk::open_image(file.path(), false), false);
  auto device =
      blk::block_device::create(std::move(backend), {.read_only = read_only, .serial = "serial-1", .limits = {}});
  BOOST_REQUIRE(device);
  return {std::move(file), *device};
}

// Polls `fd` for up to 100 ms.
void wait_readable(vmm::sys::borrowed_fd fd) {
  ::pollfd p{.fd = fd.get(), .events = POLLIN, .revents = 0};
  static_cast<void>(::poll(&p, 1, 100));
}

// Reaps `backend` until a completion arrives (at most 5 s).
auto reap_one(blk::block_backend& backend) -> std::vector<blk::io_completion> {
  std::vector<blk::io_completion> out;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  while (out.empty() && std::chrono::steady_clock::now() < give_up) {
    wait_readable(backend.completion_event());
    backend.reap(out);
  }
  return out;
}

constexpr auto has(std::uint64_t features, unsigned bit) -> bool {
  return vmm::virtio::queue::has_feature(features, bit);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(block_requests)

BOOST_AUTO_TEST_CASE(read_fills_the_buffers_from_the_file_and_reports_data_plus_status) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::in, 3);
    const auto done = r.run(chain_of({readable(header_at, 16), writable(data_at, 1024), writable(status_at, 1)}, 7));
    BOOST_TEST(done.token.id == 7U);
    BOOST_TEST(done.status == blk::status::ok);
    BOOST_TEST(r.status() == blk::status::ok);
    BOOST_TEST(done.used_length == 1025U);  // two sectors and the status byte
    BOOST_TEST((r.guest_bytes(data_at, 1024) == rig::pattern_bytes(3 * sector, 1024)));
    BOOST_TEST(r.metrics().reads == 1U);
    BOOST_TEST(r.metrics().bytes_read == 1024U);
  });
}

BOOST_AUTO_TEST_CASE(header_data_and_status_may_share_and_split_descriptors) {
  each_backend([](rig& r, backend_kind) {
    // The header split 4 + 12 bytes; the data in three pieces, the last one also holding the status byte.
    r.header(blk::request_type::in, 1);
    const auto piece_a = at(data_at, 0);
    const auto piece_b = at(data_at, 0x8000);
    const auto piece_c = at(data_at, 0x10000);
    const auto done = r.run(chain_of({readable(header_at, 4), readable(at(header_at, 4), 12), writable(piece_a, 100),
                                      writable(piece_b, 312), writable(piece_c, 101)}));
    BOOST_TEST(done.status == blk::status::ok);
    BOOST_TEST((r.guest_bytes(piece_a, 100) == rig::pattern_bytes(sector, 100)));
    BOOST_TEST((r.guest_bytes(piece_b, 312) == rig::pattern_bytes(sector + 100, 312)));
    BOOST_TEST((r.guest_bytes(piece_c, 100) == rig::pattern_bytes(sector + 412, 100)));
    BOOST_TEST(std::to_integer<int>(r.guest_bytes(at(piece_c, 100), 1)[0]) == blk::status::ok);
    BOOST_TEST(done.used_length == 513U);
  });
}

BOOST_AUTO_TEST_CASE(write_stores_the_buffers_in_the_file) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::out, 5);
    r.fill(data_at, 2 * sector, std::byte{0x5a});
    const auto done = r.run(chain_of({readable(header_at, 16), readable(data_at, 1024), writable(status_at, 1)}));
    BOOST_TEST(done.status == blk::status::ok);
    BOOST_TEST(done.used_length == 1U);  // only the status byte is device-writable
    BOOST_TEST((r.disk_bytes(5 * sector, 1024) == std::vector<std::byte>(1024, std::byte{0x5a})));
    BOOST_TEST((r.disk_bytes(4 * sector, 512) == rig::pattern_bytes(4 * sector, 512)));  // neighbours untouched
    BOOST_TEST((r.disk_bytes(7 * sector, 512) == rig::pattern_bytes(7 * sector, 512)));
    BOOST_TEST(r.metrics().bytes_written == 1024U);
  });
}

BOOST_AUTO_TEST_CASE(write_to_the_last_sector_succeeds) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::out, block_rig::default_sectors - 1);
    r.fill(data_at, sector, std::byte{0x11});
    const auto done = r.run(chain_of({readable(header_at, 16), readable(data_at, 512), writable(status_at, 1)}));
    BOOST_TEST(done.status == blk::status::ok);
    BOOST_TEST(
        (r.disk_bytes((block_rig::default_sectors - 1) * sector, 512) == std::vector<std::byte>(512, std::byte{0x11})));
  });
}

BOOST_AUTO_TEST_CASE(flush_succeeds) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::flush, 0);
    const auto done = r.run(chain_of({readable(header_at, 16), writable(status_at, 1)}));
    BOOST_TEST(done.status == blk::status::ok);
    BOOST_TEST(r.metrics().flushes == 1U);
  });
}

BOOST_AUTO_TEST_CASE(discard_zeroes_its_ranges_and_keeps_the_file_size) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::discard, 0);
    r.range(0, 8, 8);   // 4 KiB, hole-punchable on any file system
    r.range(1, 24, 2);  // a second range
    const auto done = r.run(chain_of({readable(header_at, 16), readable(ranges_at, 32), writable(status_at, 1)}));
    BOOST_TEST(done.status == blk::status::ok);
    BOOST_TEST((r.disk_bytes(8 * sector, 8 * sector) == std::vector<std::byte>(8 * sector, std::byte{0})));
    BOOST_TEST((r.disk_bytes(24 * sector, 2 * sector) == std::vector<std::byte>(2 * sector, std::byte{0})));
    BOOST_TEST((r.disk_bytes(16 * sector, sector) == rig::pattern_bytes(16 * sector, sector)));
    BOOST_TEST(vmm::sys::status(r.file().fd())->size == block_rig::default_sectors * sector);
  });
}

BOOST_AUTO_TEST_CASE(write_zeroes_zeroes_its_ranges_with_and_without_unmap) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::write_zeroes, 0);
    r.range(0, 2, 3);                                 // ZERO_RANGE (or written zeroes where unsupported)
    r.range(1, 10, 1, blk::write_zeroes_flag_unmap);  // may deallocate: a punched hole
    const auto done = r.run(chain_of({readable(header_at, 16), readable(ranges_at, 32), writable(status_at, 1)}));
    BOOST_TEST(done.status == blk::status::ok);
    BOOST_TEST((r.disk_bytes(2 * sector, 3 * sector) == std::vector<std::byte>(3 * sector, std::byte{0})));
    BOOST_TEST((r.disk_bytes(10 * sector, sector) == std::vector<std::byte>(sector, std::byte{0})));
    BOOST_TEST((r.disk_bytes(5 * sector, sector) == rig::pattern_bytes(5 * sector, sector)));
    BOOST_TEST(vmm::sys::status(r.file().fd())->size == block_rig::default_sectors * sector);
    BOOST_TEST(r.metrics().write_zeroes == 1U);
  });
}

BOOST_AUTO_TEST_CASE(write_zeroes_on_tmpfs_falls_back_to_writing_zeroes) {
  // tmpfs has no FALLOC_FL_ZERO_RANGE: both backends write the zeroes instead.
  if (!std::filesystem::is_directory("/dev/shm")) {
    BOOST_TEST_MESSAGE("skipping: no /dev/shm");
    return;
  }
  each_backend(
      [](rig& r, backend_kind) {
        r.header(blk::request_type::write_zeroes, 0);
        r.range(0, 3, 4);
        const auto done = r.run(chain_of({readable(header_at, 16), readable(ranges_at, 16), writable(status_at, 1)}));
        BOOST_TEST(done.status == blk::status::ok);
        BOOST_TEST((r.disk_bytes(3 * sector, 4 * sector) == std::vector<std::byte>(4 * sector, std::byte{0})));
        BOOST_TEST((r.disk_bytes(7 * sector, sector) == rig::pattern_bytes(7 * sector, sector)));
      },
      block_rig::default_sectors, false, "/dev/shm");
}

BOOST_AUTO_TEST_CASE(range_of_zero_sectors_is_a_successful_no_op) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::discard, 0);
    r.range(0, 4, 0);
    const auto done = r.run(chain_of({readable(header_at, 16), readable(ranges_at, 16), writable(status_at, 1)}));
    BOOST_TEST(done.status == blk::status::ok);
    BOOST_TEST((r.disk_bytes(4 * sector, sector) == rig::pattern_bytes(4 * sector, sector)));
  });
}

BOOST_AUTO_TEST_CASE(get_id_writes_the_serial_padded_with_nul) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::get_id, 0);
    r.fill(data_at, blk::id_bytes, std::byte{0xff});
    const auto done = r.run(chain_of({readable(header_at, 16), writable(data_at, 20), writable(status_at, 1)}));
    BOOST_TEST(done.status == blk::status::ok);
    BOOST_TEST(done.used_length == 21U);
    std::vector<std::byte> expected(blk::id_bytes, std::byte{0});
    std::ranges::transform(block_rig::serial, expected.begin(), [](char c) { return static_cast<std::byte>(c); });
    BOOST_TEST((r.guest_bytes(data_at, blk::id_bytes) == expected));
    BOOST_TEST(r.metrics().get_ids == 1U);
  });
}

BOOST_AUTO_TEST_CASE(get_id_serial_of_twenty_bytes_has_no_nul_and_longer_ones_are_cut) {
  const std::string twenty = "ABCDEFGHIJKLMNOPQRST";
  const auto exact = blk::block_device::serial_bytes(twenty);
  const auto longer = blk::block_device::serial_bytes(twenty + "UVW");
  BOOST_TEST(static_cast<char>(exact[19]) == 'T');
  BOOST_TEST((exact == longer));
}

BOOST_AUTO_TEST_CASE(get_id_with_a_larger_buffer_reports_the_serial_length) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::get_id, 0);
    const auto done = r.run(chain_of({readable(header_at, 16), writable(data_at, 64), writable(status_at, 1)}));
    BOOST_TEST(done.status == blk::status::ok);
    BOOST_TEST(done.used_length == 20U);  // the 44 bytes after the serial were not written
  });
}

BOOST_AUTO_TEST_CASE(many_requests_in_flight_all_finish_with_their_tokens) {
  each_backend([](rig& r, backend_kind) {
    // 32 reads of one sector each, submitted before any is collected: io_uring batches them in one submit.
    constexpr std::uint16_t count = 32;
    std::vector<vmm::virtio::queue::descriptor_chain> chains;
    for (std::uint16_t i = 0; i < count; ++i) {
      const auto header = at(header_at, i * 16ULL);
      r.header(blk::request_type::in, i, header);
      chains.push_back(
          chain_of({readable(header, 16), writable(at(data_at, i * sector), 512), writable(at(status_at, i), 1)}, i));
    }
    for (const auto& c : chains) {
      r.engine().submit(r.memory_ptr(), c);
    }
    BOOST_REQUIRE(r.engine().flush());
    std::vector<blk::finished_chain> done;
    for (int spins = 0; done.size() < count && spins < 5000; ++spins) {
      r.engine().collect(done);
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
    BOOST_REQUIRE(done.size() == count);
    std::set<std::uint16_t> ids;
    for (const auto& d : done) {
      ids.insert(d.token.id);
      BOOST_TEST(d.status == blk::status::ok);
    }
    BOOST_TEST(ids.size() == count);
    BOOST_TEST((r.guest_bytes(at(data_at, 31 * sector), 512) == rig::pattern_bytes(31 * sector, 512)));
    BOOST_TEST(r.engine().in_flight() == 0U);
  });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(block_short_transfers)

BOOST_AUTO_TEST_CASE(advance_buffers_shortens_a_partly_moved_buffer_and_skips_whole_ones) {
  std::array<std::byte, 600> bytes{};
  auto fresh = [&] {
    return std::array{vmm::sys::io_buffer{.base = bytes.data(), .length = 100},
                      vmm::sys::io_buffer{.base = &bytes[100], .length = 0},
                      vmm::sys::io_buffer{.base = &bytes[100], .length = 200},
                      vmm::sys::io_buffer{.base = &bytes[300], .length = 300}};
  };
  auto b = fresh();
  auto left = blk::advance_buffers(b, 40);  // inside the first buffer
  BOOST_REQUIRE(left.size() == 4U);
  BOOST_TEST(left[0].base == static_cast<void*>(&bytes[40]));
  BOOST_TEST(left[0].length == 60U);
  BOOST_TEST(left[2].length == 200U);

  b = fresh();
  left = blk::advance_buffers(b, 100);  // exactly the first buffer: the empty one after it is skipped too
  BOOST_REQUIRE(left.size() == 2U);
  BOOST_TEST(left[0].base == static_cast<void*>(&bytes[100]));
  BOOST_TEST(left[0].length == 200U);

  b = fresh();
  left = blk::advance_buffers(b, 350);  // across a boundary into the last buffer
  BOOST_REQUIRE(left.size() == 1U);
  BOOST_TEST(left[0].base == static_cast<void*>(&bytes[350]));
  BOOST_TEST(left[0].length == 250U);

  b = fresh();
  BOOST_TEST(blk::advance_buffers(b, 600).empty());  // everything
  b = fresh();
  BOOST_TEST(blk::advance_buffers(b, 10'000).empty());  // more than there is: clamped
  b = fresh();
  BOOST_TEST(blk::advance_buffers(b, 0).size() == 4U);                        // nothing moved
  BOOST_TEST(blk::advance_buffers(std::span{b}.subspan(1), 0).size() == 2U);  // a leading empty buffer is skipped
}

BOOST_AUTO_TEST_CASE(uring_short_read_is_resubmitted_for_the_rest_and_completes) {
  // A pipe gives a short read on demand: 3 bytes are there when the 12-byte read starts, the other 9 come once the
  // first completion has been reaped (and the rest resubmitted).
  auto pipe = vmm::sys::make_pipe();
  BOOST_REQUIRE(pipe);
  auto made = blk::uring_backend::create(std::move(pipe->first), true, 4);
  if (!made) {
    std::println(std::cerr, "skipping: io_uring_setup refused ({})", made.error().message());
    return;
  }
  auto& backend = **made;
  std::array<std::byte, 12> data{};
  const std::array buffers{vmm::sys::io_buffer{.base = data.data(), .length = 5},
                           vmm::sys::io_buffer{.base = &data[5], .length = 7}};
  const auto bytes = [](std::string_view s) {
    return std::as_bytes(std::span{s});
  };
  BOOST_REQUIRE(vmm::sys::write(pipe->second, bytes("abc")).value_or(0) == 3U);
  BOOST_REQUIRE(
      backend.submit({.kind = blk::io_kind::read, .offset = 0, .length = 0, .buffers = buffers, .cookie = 7}));
  BOOST_REQUIRE(backend.flush_submissions());
  std::vector<blk::io_completion> out;
  ::pollfd p{.fd = backend.completion_event().get(), .events = POLLIN, .revents = 0};
  BOOST_REQUIRE(::poll(&p, 1, 5000) == 1);  // the first, short completion (3 bytes)
  backend.reap(out);
  BOOST_TEST(out.empty());  // not finished: the 9 bytes left went again
  BOOST_TEST(backend.in_flight() == 1U);
  BOOST_REQUIRE(vmm::sys::write(pipe->second, bytes("defghijkl")).value_or(0) == 9U);
  out = reap_one(backend);
  BOOST_REQUIRE(out.size() == 1U);
  BOOST_TEST(out[0].cookie == 7U);
  BOOST_TEST(!out[0].error);
  BOOST_TEST(backend.in_flight() == 0U);
  BOOST_TEST((std::vector(data.begin(), data.end()) ==
              std::vector(bytes("abcdefghijkl").begin(), bytes("abcdefghijkl").end())));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(block_read_only)

BOOST_AUTO_TEST_CASE(read_only_device_reads_and_refuses_every_modification) {
  each_backend(
      [](rig& r, backend_kind) {
        BOOST_TEST(r.read_sector(2) == blk::status::ok);
        r.header(blk::request_type::out, 2);
        auto done = r.run(chain_of({readable(header_at, 16), readable(data_at, 512), writable(status_at, 1)}));
        BOOST_TEST(done.status == blk::status::ioerr);
        r.header(blk::request_type::discard, 0);
        r.range(0, 2, 1);
        done = r.run(chain_of({readable(header_at, 16), readable(ranges_at, 16), writable(status_at, 1)}));
        BOOST_TEST(done.status == blk::status::ioerr);
        r.header(blk::request_type::write_zeroes, 0);
        done = r.run(chain_of({readable(header_at, 16), readable(ranges_at, 16), writable(status_at, 1)}));
        BOOST_TEST(done.status == blk::status::ioerr);
        BOOST_TEST((r.disk_bytes(2 * sector, 512) == rig::pattern_bytes(2 * sector, 512)));
        BOOST_TEST(r.metrics().errors_of(blk::errc::read_only) == 3U);
        r.header(blk::request_type::flush, 0);
        BOOST_TEST(r.run(chain_of({readable(header_at, 16), writable(status_at, 1)})).status == blk::status::ok);
      },
      block_rig::default_sectors, true);
}

BOOST_AUTO_TEST_CASE(read_only_device_offers_ro_and_neither_discard_nor_write_zeroes) {
  const auto [file, device] = make_device(true);
  const auto f = device->device_features();
  BOOST_TEST(has(f, blk::feature::read_only));
  BOOST_TEST(!has(f, blk::feature::discard));
  BOOST_TEST(!has(f, blk::feature::write_zeroes));
  BOOST_TEST(device->policy().read_only);
}

BOOST_AUTO_TEST_CASE(read_only_backend_makes_the_device_read_only) {
  auto file = *vmm::sys::temp_file::create("vmm-blk-");
  auto backend = *blk::file_backend::create(*blk::open_image(file.path(), true), true);
  const auto device = *blk::block_device::create(std::move(backend), {});
  BOOST_TEST(device->read_only());
  BOOST_TEST(has(device->device_features(), blk::feature::read_only));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(block_device_interface)

BOOST_AUTO_TEST_CASE(writable_device_offers_its_features_and_one_queue_of_256) {
  const auto [file, device] = make_device(false);
  const auto f = device->device_features();
  BOOST_TEST(device->device_type() == vmm::virtio::device::device_id::block);
  for (const unsigned bit :
       {vmm::virtio::queue::feature::version_1, vmm::virtio::queue::feature::ring_packed,
        vmm::virtio::queue::feature::event_idx, vmm::virtio::queue::feature::indirect_desc, blk::feature::flush,
        blk::feature::blk_size, blk::feature::seg_max, blk::feature::discard, blk::feature::write_zeroes}) {
    BOOST_TEST(has(f, bit), "feature bit " << bit);
  }
  BOOST_TEST(!has(f, blk::feature::read_only));
  BOOST_TEST(device->queue_max_sizes().size() == 1U);
  BOOST_TEST(device->queue_max_sizes()[0] == 256U);
}

BOOST_AUTO_TEST_CASE(config_space_holds_capacity_limits_and_block_size_in_little_endian) {
  const auto [file, device] = make_device(false, 100);
  std::array<std::byte, sizeof(blk::block_config)> bytes{};
  device->read_config(0, bytes);
  const auto c = std::bit_cast<blk::block_config>(bytes);
  BOOST_TEST(c.capacity.value() == 100U);
  BOOST_TEST(c.seg_max.value() == 126U);
  BOOST_TEST(c.size_max.value() == (1U << 20U));
  BOOST_TEST(c.blk_size.value() == 512U);
  BOOST_TEST(c.num_queues.value() == 1U);
  BOOST_TEST(c.max_discard_seg.value() == 16U);
  BOOST_TEST(c.max_write_zeroes_seg.value() == 16U);
  BOOST_TEST(c.write_zeroes_may_unmap == 1U);
  // The capacity's low byte read alone, at its offset (the driver may read fields one byte at a time).
  std::array<std::byte, 1> one{};
  device->read_config(0, one);
  BOOST_TEST(std::to_integer<int>(one[0]) == 100);
}

BOOST_AUTO_TEST_CASE(config_reads_past_the_end_are_zero_and_writes_are_ignored_and_counted) {
  const auto [file, device] = make_device(false, 100);
  std::array<std::byte, 8> bytes{};
  bytes.fill(std::byte{0xaa});
  device->read_config(sizeof(blk::block_config) - 4, bytes);
  BOOST_TEST((std::span{bytes}.last(4).size() == 4U));
  for (const std::byte b : std::span{bytes}.last(4)) {
    BOOST_TEST(std::to_integer<int>(b) == 0);
  }
  device->read_config(~0ULL, bytes);
  BOOST_TEST((bytes == std::array<std::byte, 8>{}));
  const std::array<std::byte, 8> junk{std::byte{1}, std::byte{2}};
  device->write_config(0, junk);
  device->read_config(0, bytes);
  BOOST_TEST(std::to_integer<int>(bytes[0]) == 100);
  BOOST_TEST(device->metrics().config_writes_ignored == 1U);
}

BOOST_AUTO_TEST_CASE(multi_queue_device_offers_mq_its_queues_and_num_queues_in_config) {
  auto file = *vmm::sys::temp_file::create("vmm-blk-");
  BOOST_REQUIRE(vmm::sys::truncate(file.fd(), 8 * sector));
  auto make = [&](std::uint16_t queues) {
    return blk::block_device::create(*blk::file_backend::create(*blk::open_image(file.path(), false), false),
                                     {.read_only = false, .serial = {}, .limits = {}, .num_queues = queues});
  };
  const auto four = make(4);
  BOOST_REQUIRE(four);
  BOOST_TEST(has((*four)->device_features(), blk::feature::mq));
  BOOST_TEST(((*four)->queue_max_sizes().size() == 4U &&
              std::ranges::all_of((*four)->queue_max_sizes(), [](std::uint16_t s) { return s == 256; })));
  std::array<std::byte, 2> field{};
  (*four)->read_config(34, field);  // virtio 1.x §5.2.4: le16 num_queues at byte 34
  BOOST_TEST((field == std::array{std::byte{4}, std::byte{0}}));
  const auto one = make(1);
  BOOST_REQUIRE(one);
  BOOST_TEST(!has((*one)->device_features(), blk::feature::mq));
  BOOST_TEST((*one)->queue_max_sizes().size() == 1U);
  (*one)->read_config(34, field);
  BOOST_TEST((field == std::array{std::byte{1}, std::byte{0}}));
  for (const std::uint16_t bad : {std::uint16_t{0}, std::uint16_t{blk::block_device::max_queues + 1}}) {
    BOOST_TEST(vmm::testing::error_of(make(bad)) == vmm::testing::os_error(EINVAL));
  }
}

BOOST_AUTO_TEST_CASE(capacity_rounds_a_partial_last_sector_down) {
  auto file = *vmm::sys::temp_file::create("vmm-blk-");
  BOOST_REQUIRE(vmm::sys::truncate(file.fd(), 1000));  // one full sector and 488 bytes
  auto backend = *blk::file_backend::create(*blk::open_image(file.path(), false), false);
  const auto device = *blk::block_device::create(std::move(backend), {});
  BOOST_TEST(device->config().capacity.value() == 1U);
}

BOOST_AUTO_TEST_CASE(metrics_serialise_every_counter_and_cause_as_json) {
  const auto rig = rig::create(backend_kind::sync);
  {
    auto& r = *rig;
    BOOST_TEST(r.read_sector(0) == blk::status::ok);
    r.header(0x99, 0);
    BOOST_TEST(r.run(chain_of({readable(header_at, 16), writable(status_at, 1)})).status == blk::status::unsupp);
    const std::string json = r.metrics().to_json();
    BOOST_TEST(json.starts_with(R"({"reads":1,"writes":0,)"));
    BOOST_TEST(json.contains(R"("status_ok":1,"status_ioerr":0,"status_unsupp":1,)"));
    BOOST_TEST(json.contains(R"("unsupported_type":1,)"));
    BOOST_TEST(json.ends_with(R"("bad_activation":0}})"));
    BOOST_TEST(std::ranges::count(json, '{') == std::ranges::count(json, '}'));
  }
}

BOOST_AUTO_TEST_CASE(backends_report_why_they_cannot_be_made) {
  BOOST_TEST(vmm::testing::error_of(blk::open_image("/nonexistent/disk.img", true)) == vmm::testing::os_error(ENOENT));
  BOOST_TEST(vmm::testing::error_of(blk::file_backend::create(vmm::sys::unique_fd{}, false)) ==
             vmm::testing::os_error(EBADF));
  BOOST_TEST(vmm::testing::error_of(blk::uring_backend::create(vmm::sys::unique_fd{}, false)) ==
             vmm::testing::os_error(EBADF));
  auto file = *vmm::sys::temp_file::create("vmm-blk-");
  for (const unsigned depth : {0U, 4097U}) {
    BOOST_TEST(vmm::testing::error_of(blk::uring_backend::create(*blk::open_image(file.path(), false), false, depth)) ==
               vmm::testing::os_error(EINVAL));
  }
}

BOOST_AUTO_TEST_CASE(every_error_has_a_message_in_the_block_category) {
  for (std::uint8_t v = 1; v <= blk::error_cause_count; ++v) {
    const std::error_code e = blk::make_error_code(static_cast<blk::errc>(v));
    BOOST_TEST(std::string_view{e.category().name()} == "vmm.virtio.block");
    BOOST_TEST(!e.message().starts_with("Unknown"));
    BOOST_TEST(blk::cause_name(static_cast<blk::errc>(v)) != "unknown");
  }
  BOOST_TEST(blk::make_error_code(static_cast<blk::errc>(200)).message().starts_with("Unknown"));
}

BOOST_AUTO_TEST_SUITE_END()
