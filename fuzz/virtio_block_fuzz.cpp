// Fuzzes vmm.virtio.block's request parsing and execution. The input lays out one descriptor chain over a small
// guest memory and fills that memory (headers, range lists, data):
//   byte 0: device mode — bit 0 read-only, bit 1 DISCARD negotiated, bit 2 WRITE_ZEROES negotiated, bit 3 small
//           limits (seg_max 4, size_max 4096, 2 ranges of at most 8 sectors);
//   byte 1: descriptor count (1..12); then per descriptor 5 bytes: address (2 bytes, modulo 20 KiB, so some land
//           past the 16 KiB of memory), length (2 bytes; 0xffff means 2^32 − 1), flags (bit 0 writable; writable ones
//           are moved after the readable ones, as a queue guarantees);
//   then a header for the first readable descriptor: type selector (1 byte: the six known types, else a raw
//   value), sector (1 byte: near the 16-sector capacity, or 0xff for a huge one);
//   the rest is copied over guest memory from address 0x100 on (so range lists and data are the input's).
// The request runs on a file_backend over an 8 KiB (16-sector) memfd, and every outcome is checked:
//   - exactly one chain finishes, with the chain's token; when it is not dropped its status byte holds OK, IOERR
//     or UNSUPP (and the status the engine reports);
//   - the used length is at most the chain's writable bytes;
//   - no guest byte outside the chain's device-writable buffers changed;
//   - a read-only device's disk is unchanged, and a request answered with an error left the disk unchanged.
// A mismatch calls __builtin_trap().
#include <cstddef>
#include <cstdint>

import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.block;

namespace {

namespace blk = vmm::virtio::block;
namespace vq = vmm::virtio::queue;
using vmm::memory::guest_address;

constexpr std::uint64_t memory_size = 16 * 1024;
constexpr std::uint64_t disk_sectors = 16;
constexpr std::size_t max_descriptors = 12;

[[noreturn]] void mismatch(std::string_view what) {
  std::println(std::cerr, "virtio_block_fuzz: {}", what);
  __builtin_trap();
}

void check(bool ok, std::string_view what) {
  if (!ok) [[unlikely]] {
    mismatch(what);
  }
}

class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : bytes_{data, size} {}
  auto u8() -> std::uint8_t {
    if (bytes_.empty()) {
      return 0;
    }
    const std::uint8_t b = bytes_.front();
    bytes_ = bytes_.subspan(1);
    return b;
  }
  auto u16() -> std::uint16_t { return static_cast<std::uint16_t>(u8() | (u8() << 8U)); }
  [[nodiscard]] auto rest() const -> std::span<const std::uint8_t> { return bytes_; }

 private:
  std::span<const std::uint8_t> bytes_;
};

auto disk_contents(vmm::sys::borrowed_fd fd) -> std::vector<std::byte> {
  std::vector<std::byte> bytes(disk_sectors * blk::sector_size);
  const std::array buffers{vmm::sys::io_buffer{.base = bytes.data(), .length = bytes.size()}};
  check(vmm::sys::preadv(fd, buffers, 0).value_or(0) == bytes.size(), "disk read");
  return bytes;
}

auto guest_contents(const vmm::memory::guest_memory& m) -> std::vector<std::byte> {
  std::vector<std::byte> bytes(memory_size);
  check(m.read_exact(guest_address{0}, bytes).has_value(), "guest read");
  return bytes;
}

// What every input shares, made once (an mmap and a memfd per input cost more than the request under test): the
// guest memory, the disk memfd with its pattern, and a read-write and a read-only backend on it.
struct fixture {
  std::shared_ptr<const vmm::memory::guest_memory> memory;
  vmm::sys::unique_fd disk;
  std::vector<std::byte> pattern;
  std::vector<std::byte> zeroes;
  std::unique_ptr<blk::file_backend> read_write;
  std::unique_ptr<blk::file_backend> read_only;

  static auto get() -> const fixture& {
    static const fixture f = make();
    return f;
  }

 private:
  static auto make() -> fixture {
    fixture f;
    const std::array layout{vmm::memory::guest_range{.start = guest_address{0}, .size = memory_size}};
    auto created = vmm::memory::guest_memory::anonymous(layout);
    check(created.has_value(), "guest memory");
    f.memory = std::make_shared<const vmm::memory::guest_memory>(std::move(*created));
    auto memfd = vmm::sys::create_memfd("vmm-block-fuzz");
    check(memfd.has_value(), "memfd");
    f.disk = std::move(*memfd);
    check(vmm::sys::truncate(f.disk, disk_sectors * blk::sector_size).has_value(), "memfd size");
    f.pattern.resize(disk_sectors * blk::sector_size);
    for (std::size_t i = 0; i < f.pattern.size(); ++i) {
      f.pattern[i] = static_cast<std::byte>((i * 31) + 7);
    }
    f.zeroes.resize(memory_size);
    auto rw = f.disk.duplicate();
    auto ro = f.disk.duplicate();
    check(rw.has_value() && ro.has_value(), "memfd dup");
    auto a = blk::file_backend::create(std::move(*rw), false);
    auto b = blk::file_backend::create(std::move(*ro), true);
    check(a.has_value() && b.has_value(), "backends");
    f.read_write = std::move(*a);
    f.read_only = std::move(*b);
    return f;
  }
};

constexpr std::array<std::uint32_t, 6> known_types{blk::request_type::in,      blk::request_type::out,
                                                   blk::request_type::flush,   blk::request_type::get_id,
                                                   blk::request_type::discard, blk::request_type::write_zeroes};

}  // namespace

extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) -> int {
  input in{data, size};
  const std::uint8_t mode = in.u8();
  blk::request_policy policy{.capacity_sectors = disk_sectors,
                             .read_only = (mode & 1U) != 0,
                             .discard = (mode & 2U) != 0,
                             .write_zeroes = (mode & 4U) != 0,
                             .limits = {}};
  if ((mode & 8U) != 0) {
    policy.limits.seg_max = 4;
    policy.limits.size_max = 4096;
    policy.limits.max_discard_seg = 2;
    policy.limits.max_write_zeroes_seg = 2;
    policy.limits.max_discard_sectors = 8;
    policy.limits.max_write_zeroes_sectors = 8;
  }

  // The chain: readable descriptors first.
  const std::size_t count = 1 + (in.u8() % max_descriptors);
  std::vector<vq::descriptor> readable;
  std::vector<vq::descriptor> writable;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t address = in.u16() % (memory_size + 4096);
    const std::uint16_t raw_length = in.u16();
    const std::uint32_t length = raw_length == 0xffff ? 0xffff'ffffU : raw_length;
    const bool is_writable = (in.u8() & 1U) != 0;
    (is_writable ? writable : readable)
        .push_back({.address = guest_address{address}, .length = length, .writable = is_writable});
  }
  vq::descriptor_chain chain;
  chain.reset({.id = 42, .slots = 1});
  for (const auto& d : readable) {
    chain.append(d);
  }
  for (const auto& d : writable) {
    chain.append(d);
  }

  // Guest memory (made once, zeroed per input): the input's bytes from 0x100, then the header over the first
  // readable descriptor.
  const fixture& fx = fixture::get();
  const auto& memory = fx.memory;
  check(memory->write_all(guest_address{0}, fx.zeroes).has_value(), "guest reset");
  const std::uint8_t type_selector = in.u8();
  const std::uint8_t sector_selector = in.u8();
  const auto rest = std::as_bytes(in.rest().first(std::min<std::size_t>(in.rest().size(), memory_size - 0x100)));
  if (!rest.empty()) {
    check(memory->write_all(guest_address{0x100}, rest).has_value(), "guest fill");
  }
  if (!readable.empty()) {
    const std::uint32_t type = type_selector < 192 ? known_types[type_selector % known_types.size()]
                                                   : std::uint32_t{type_selector} * 0x0101'0101U;
    const std::uint64_t sector = sector_selector == 0xff ? ~0ULL - 3 : sector_selector % (disk_sectors + 4);
    const blk::request_header h{.type = vmm::memory::le32{type}, .reserved = {}, .sector = vmm::memory::le64{sector}};
    // Where the header does not fit in guest memory the parser must cope with whatever is there.
    static_cast<void>(memory->write_obj(readable.front().address, h));
  }

  // The disk: the memfd rewritten with its pattern, behind the backend of the input's mode.
  const std::array pattern_buffer{vmm::sys::io_buffer{.base = const_cast<std::byte*>(fx.pattern.data()),
                                                      .length = fx.pattern.size()}};  // NOLINT(*-const-cast)
  check(vmm::sys::pwritev(fx.disk, pattern_buffer, 0).value_or(0) == fx.pattern.size(), "disk reset");
  blk::block_backend& backend = policy.read_only ? *fx.read_only : *fx.read_write;
  blk::block_metrics metrics;
  blk::request_engine engine{backend, policy, blk::block_device::serial_bytes("fuzz-serial"), metrics};

  const auto guest_before = guest_contents(*memory);
  engine.submit(memory, chain);
  check(engine.flush().has_value(), "flush");
  std::vector<blk::finished_chain> done;
  engine.collect(done);

  check(done.size() == 1, "exactly one chain finishes");
  const blk::finished_chain& f = done.front();
  check(f.token == chain.token(), "the chain's token comes back");
  check(f.used_length <= chain.writable_bytes(), "used length within the writable bytes");
  check(engine.in_flight() == 0, "nothing left in flight");
  const auto guest_after = guest_contents(*memory);
  // Compared in 64-byte blocks (memcmp), byte by byte only where a block differs.
  constexpr std::uint64_t block = 64;
  for (std::uint64_t a = 0; a < memory_size; ++a) {
    if (a % block == 0 && std::memcmp(&guest_before[a], &guest_after[a], block) == 0) {
      a += block - 1;
      continue;
    }
    if (guest_before[a] == guest_after[a]) {
      continue;
    }
    const bool inside = std::ranges::any_of(
        writable, [a](const vq::descriptor& d) { return a >= d.address.raw() && a - d.address.raw() < d.length; });
    check(inside, "a byte outside the writable buffers changed");
  }
  if (!f.dropped) {
    check(f.status == blk::status::ok || f.status == blk::status::ioerr || f.status == blk::status::unsupp,
          "status is OK, IOERR or UNSUPP");
    // The status byte is the chain's last writable byte: find it and compare.
    const auto last =
        std::ranges::find_if(std::views::reverse(writable), [](const vq::descriptor& d) { return d.length != 0; });
    check(last != std::views::reverse(writable).end(), "a status byte exists");
    const auto status = memory->read_obj<std::uint8_t>(guest_address{last->address.raw() + last->length - 1});
    check(status.has_value() && *status == f.status, "the status byte holds the reported status");
  }
  if (policy.read_only || f.dropped || f.status != blk::status::ok) {
    check(disk_contents(fx.disk) == fx.pattern, "a refused request or a read-only disk left the disk unchanged");
  }
  return 0;
}
