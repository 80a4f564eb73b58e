// Every malformed request gets the status the spec implies (or its chain is dropped when it has no status byte),
// is counted by cause, comes back with its token, changes nothing on the disk, and leaves the next request
// unaffected. Both backends where the backend is involved.
#include <boost/test/unit_test.hpp>

import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
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
using vmm::memory::guest_address;

namespace {

constexpr std::uint64_t sector = blk::sector_size;
/// An address past the rig's guest memory.
constexpr guest_address unmapped{block_rig::memory_size + 0x1000};

// Runs `chain` and checks the outcome of a malformed request: `status` written, the token back, the cause counted
// once, the disk unchanged, and a following read unaffected.
void expect_rejected(rig& r, const vmm::virtio::queue::descriptor_chain& chain, std::uint8_t status, blk::errc cause) {
  const auto before = r.metrics().errors_of(cause);
  const auto done = r.run(chain);
  BOOST_TEST(done.token.id == chain.token().id);
  BOOST_TEST(!done.dropped);
  BOOST_TEST(done.status == status);
  BOOST_TEST(r.status() == status);
  BOOST_TEST(r.metrics().errors_of(cause) == before + 1);
  BOOST_TEST((r.disk_bytes(0, block_rig::default_sectors * sector) ==
              rig::pattern_bytes(0, block_rig::default_sectors * sector)));
  BOOST_TEST(r.read_sector(1) == blk::status::ok);
  BOOST_TEST((r.guest_bytes(data_at, 512) == rig::pattern_bytes(sector, 512)));
}

auto io_chain(std::uint32_t data_length, bool data_writable) -> vmm::virtio::queue::descriptor_chain {
  return chain_of({readable(header_at, 16),
                   {.address = data_at, .length = data_length, .writable = data_writable},
                   writable(status_at, 1)},
                  3);
}

auto range_chain(std::uint32_t list_length) -> vmm::virtio::queue::descriptor_chain {
  return chain_of({readable(header_at, 16), readable(ranges_at, list_length), writable(status_at, 1)}, 4);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(block_malformed_requests)

BOOST_AUTO_TEST_CASE(chain_without_a_writable_byte_is_dropped_with_used_length_zero) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::in, 0);
    const auto done = r.run(chain_of({readable(header_at, 16), readable(data_at, 512)}, 9));
    BOOST_TEST(done.dropped);
    BOOST_TEST(done.token.id == 9U);
    BOOST_TEST(done.used_length == 0U);
    BOOST_TEST(r.metrics().dropped == 1U);
    BOOST_TEST(r.metrics().errors_of(blk::errc::no_status_byte) == 1U);
    BOOST_TEST(r.read_sector(1) == blk::status::ok);
  });
}

BOOST_AUTO_TEST_CASE(chain_whose_writable_descriptors_are_all_empty_is_dropped) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::flush, 0);
    const auto done = r.run(chain_of({readable(header_at, 16), writable(status_at, 0)}));
    BOOST_TEST(done.dropped);
    BOOST_TEST(r.status() == block_rig::status_unset);
  });
}

BOOST_AUTO_TEST_CASE(status_byte_outside_guest_memory_drops_the_chain) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::flush, 0);
    const auto done = r.run(chain_of({readable(header_at, 16), writable(unmapped, 1)}));
    BOOST_TEST(done.dropped);
    BOOST_TEST(done.used_length == 0U);
    BOOST_TEST(r.read_sector(1) == blk::status::ok);
  });
}

BOOST_AUTO_TEST_CASE(header_shorter_than_16_bytes_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::in, 0);
    expect_rejected(r, chain_of({readable(header_at, 15), writable(status_at, 1)}), blk::status::ioerr,
                    blk::errc::header_too_short);
  });
}

BOOST_AUTO_TEST_CASE(chain_with_no_readable_part_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    expect_rejected(r, chain_of({writable(data_at, 512), writable(status_at, 1)}), blk::status::ioerr,
                    blk::errc::header_too_short);
  });
}

BOOST_AUTO_TEST_CASE(header_outside_guest_memory_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::in, 0);  // presets the status
    expect_rejected(r, chain_of({readable(unmapped, 16), writable(status_at, 1)}), blk::status::ioerr,
                    blk::errc::buffer_unmapped);
  });
}

BOOST_AUTO_TEST_CASE(unknown_request_type_is_unsupp) {
  each_backend([](rig& r, backend_kind) {
    for (const std::uint32_t type : {2U, 3U, 14U, 0x80000000U, 0xffffffffU}) {  // SCSI, legacy, secure erase, barrier
      r.header(type, 0);
      expect_rejected(r, chain_of({readable(header_at, 16), writable(status_at, 1)}), blk::status::unsupp,
                      blk::errc::unsupported_type);
    }
  });
}

BOOST_AUTO_TEST_CASE(read_whose_data_is_device_readable_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::in, 0);
    expect_rejected(r, io_chain(512, false), blk::status::ioerr, blk::errc::data_wrong_direction);
  });
}

BOOST_AUTO_TEST_CASE(write_whose_data_is_device_writable_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::out, 0);
    expect_rejected(r, io_chain(512, true), blk::status::ioerr, blk::errc::data_wrong_direction);
  });
}

BOOST_AUTO_TEST_CASE(read_and_write_without_data_are_ioerr) {
  each_backend([](rig& r, backend_kind) {
    for (const std::uint32_t type : {blk::request_type::in, blk::request_type::out}) {
      r.header(type, 0);
      expect_rejected(r, chain_of({readable(header_at, 16), writable(status_at, 1)}), blk::status::ioerr,
                      blk::errc::zero_length);
    }
  });
}

BOOST_AUTO_TEST_CASE(length_not_a_multiple_of_512_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::in, 0);
    expect_rejected(r, io_chain(513, true), blk::status::ioerr, blk::errc::length_not_sector_multiple);
    r.header(blk::request_type::out, 0);
    expect_rejected(r, io_chain(100, false), blk::status::ioerr, blk::errc::length_not_sector_multiple);
  });
}

BOOST_AUTO_TEST_CASE(data_above_the_transfer_limit_is_ioerr_before_any_memory_is_touched) {
  each_backend([](rig& r, backend_kind) {
    // 2^32 − 512 bytes: larger than seg_max × size_max (126 MiB) and than guest memory.
    r.header(blk::request_type::in, 0);
    expect_rejected(r, io_chain(0xffff'fe00U, true), blk::status::ioerr, blk::errc::request_too_large);
  });
}

BOOST_AUTO_TEST_CASE(more_data_descriptors_than_seg_max_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::out, 0);
    vmm::virtio::queue::descriptor_chain c;
    c.reset({.id = 5, .slots = 1});
    c.append(readable(header_at, 16));
    for (std::uint64_t i = 0; i < 127; ++i) {  // seg_max is 126
      c.append(readable(at(data_at, i * sector), 512));
    }
    c.append(writable(status_at, 1));
    expect_rejected(r, c, blk::status::ioerr, blk::errc::too_many_segments);
  });
}

BOOST_AUTO_TEST_CASE(request_past_the_capacity_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::in, block_rig::default_sectors - 1);  // one sector fits, two do not
    expect_rejected(r, io_chain(1024, true), blk::status::ioerr, blk::errc::sector_out_of_range);
    r.header(blk::request_type::out, block_rig::default_sectors);
    expect_rejected(r, io_chain(512, false), blk::status::ioerr, blk::errc::sector_out_of_range);
  });
}

BOOST_AUTO_TEST_CASE(sector_plus_length_that_overflows_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::in, ~0ULL);
    expect_rejected(r, io_chain(512, true), blk::status::ioerr, blk::errc::sector_out_of_range);
    r.header(blk::request_type::out, (~0ULL >> 9U) + 1);  // sector × 512 would wrap to 0
    expect_rejected(r, io_chain(512, false), blk::status::ioerr, blk::errc::sector_out_of_range);
  });
}

BOOST_AUTO_TEST_CASE(data_buffer_outside_guest_memory_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::in, 0);
    expect_rejected(r, chain_of({readable(header_at, 16), writable(unmapped, 512), writable(status_at, 1)}),
                    blk::status::ioerr, blk::errc::buffer_unmapped);
    r.header(blk::request_type::out, 0);
    expect_rejected(
        r, chain_of({readable(header_at, 16), readable(guest_address{~0ULL - 100}, 512), writable(status_at, 1)}),
        blk::status::ioerr, blk::errc::buffer_unmapped);
  });
}

BOOST_AUTO_TEST_CASE(get_id_buffer_shorter_than_20_bytes_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::get_id, 0);
    expect_rejected(r, chain_of({readable(header_at, 16), writable(data_at, 19), writable(status_at, 1)}),
                    blk::status::ioerr, blk::errc::id_buffer_too_short);
  });
}

BOOST_AUTO_TEST_CASE(get_id_buffer_outside_guest_memory_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::get_id, 0);
    expect_rejected(r, chain_of({readable(header_at, 16), writable(unmapped, 20), writable(status_at, 1)}),
                    blk::status::ioerr, blk::errc::buffer_unmapped);
  });
}

BOOST_AUTO_TEST_CASE(range_list_empty_or_not_a_multiple_of_16_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::discard, 0);
    expect_rejected(r, chain_of({readable(header_at, 16), writable(status_at, 1)}), blk::status::ioerr,
                    blk::errc::bad_segment_list);
    r.header(blk::request_type::write_zeroes, 0);
    r.range(0, 0, 1);
    expect_rejected(r, range_chain(24), blk::status::ioerr, blk::errc::bad_segment_list);
  });
}

BOOST_AUTO_TEST_CASE(range_request_with_device_writable_data_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::discard, 0);
    r.range(0, 0, 1);
    expect_rejected(
        r, chain_of({readable(header_at, 16), readable(ranges_at, 16), writable(data_at, 16), writable(status_at, 1)}),
        blk::status::ioerr, blk::errc::data_wrong_direction);
  });
}

BOOST_AUTO_TEST_CASE(more_ranges_than_the_maximum_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    for (std::size_t i = 0; i < 17; ++i) {  // max_discard_seg is 16
      r.range(i, i, 1);
    }
    r.header(blk::request_type::discard, 0);
    expect_rejected(r, range_chain(17 * 16), blk::status::ioerr, blk::errc::too_many_segments);
  });
}

BOOST_AUTO_TEST_CASE(range_past_the_capacity_or_overflowing_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::discard, 0);
    r.range(0, block_rig::default_sectors - 1, 2);
    expect_rejected(r, range_chain(16), blk::status::ioerr, blk::errc::sector_out_of_range);
    r.header(blk::request_type::write_zeroes, 0);
    r.range(0, 0, 1);
    r.range(1, ~0ULL, 1);  // the second range is the bad one: nothing of the first may happen either
    expect_rejected(r, range_chain(32), blk::status::ioerr, blk::errc::sector_out_of_range);
  });
}

BOOST_AUTO_TEST_CASE(range_longer_than_the_maximum_is_ioerr) {
  auto r = rig::create(backend_kind::sync);
  blk::request_policy p = r->engine().policy();
  p.limits.max_discard_sectors = 4;
  r->engine().set_policy(p);
  r->header(blk::request_type::discard, 0);
  r->range(0, 0, 5);
  expect_rejected(*r, range_chain(16), blk::status::ioerr, blk::errc::segment_too_large);
}

BOOST_AUTO_TEST_CASE(discard_with_the_unmap_flag_is_unsupp) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::discard, 0);
    r.range(0, 0, 1, blk::write_zeroes_flag_unmap);
    expect_rejected(r, range_chain(16), blk::status::unsupp, blk::errc::unsupported_segment_flags);
  });
}

BOOST_AUTO_TEST_CASE(range_with_an_unknown_flag_is_unsupp) {
  each_backend([](rig& r, backend_kind) {
    r.header(blk::request_type::write_zeroes, 0);
    r.range(0, 0, 1, 2);
    expect_rejected(r, range_chain(16), blk::status::unsupp, blk::errc::unsupported_segment_flags);
  });
}

BOOST_AUTO_TEST_CASE(discard_and_write_zeroes_not_negotiated_are_unsupp) {
  auto r = rig::create(backend_kind::sync);
  blk::request_policy p = r->engine().policy();
  p.discard = false;
  p.write_zeroes = false;
  r->engine().set_policy(p);
  r->range(0, 0, 1);
  for (const std::uint32_t type : {blk::request_type::discard, blk::request_type::write_zeroes}) {
    r->header(type, 0);
    expect_rejected(*r, range_chain(16), blk::status::unsupp, blk::errc::unsupported_type);
  }
}

BOOST_AUTO_TEST_CASE(read_of_a_file_that_shrank_is_ioerr) {
  each_backend([](rig& r, backend_kind) {
    BOOST_REQUIRE(vmm::sys::truncate(r.file().fd(), 4 * sector));  // the device still believes in 64 sectors
    r.header(blk::request_type::in, 10);
    const auto done = r.run(io_chain(512, true));
    BOOST_TEST(done.status == blk::status::ioerr);
    BOOST_TEST(done.used_length == 0U);  // nothing is claimed written
    BOOST_TEST(r.metrics().errors_of(blk::errc::io_failed) == 1U);
    BOOST_TEST(r.read_sector(1) == blk::status::ok);
  });
}

BOOST_AUTO_TEST_CASE(read_straddling_the_end_of_a_file_that_shrank_is_ioerr_with_the_bytes_before_the_end) {
  // The file now ends 256 bytes into sector 4; a read of sectors 3-4 into two 512-byte buffers gets 768 bytes (the
  // second buffer half filled), then end of file for the rest: IOERR, no endless resubmission.
  each_backend([](rig& r, backend_kind) {
    constexpr std::uint64_t end = (4 * sector) + 256;
    BOOST_REQUIRE(vmm::sys::truncate(r.file().fd(), end));
    const guest_address second = at(data_at, 0x1000);
    r.fill(data_at, 512, std::byte{0});
    r.fill(second, 512, std::byte{0});
    r.header(blk::request_type::in, 3);
    const auto done = r.run(
        chain_of({readable(header_at, 16), writable(data_at, 512), writable(second, 512), writable(status_at, 1)}, 5));
    BOOST_TEST(done.status == blk::status::ioerr);
    BOOST_TEST(r.status() == blk::status::ioerr);
    BOOST_TEST(done.used_length == 0U);
    BOOST_TEST(r.metrics().errors_of(blk::errc::io_failed) == 1U);
    BOOST_TEST((r.guest_bytes(data_at, 512) == rig::pattern_bytes(3 * sector, 512)));
    BOOST_TEST((r.guest_bytes(second, 256) == rig::pattern_bytes(4 * sector, 256)));
    BOOST_TEST((r.guest_bytes(at(second, 256), 256) == std::vector<std::byte>(256)));  // past the end: untouched
    BOOST_TEST(r.read_sector(1) == blk::status::ok);
  });
}

BOOST_AUTO_TEST_SUITE_END()
