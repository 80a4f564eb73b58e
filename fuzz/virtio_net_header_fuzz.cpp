// Fuzzes vmm.virtio.net's transmit path: header decoding and validation, and gathering a tx frame from a descriptor
// chain in a small guest memory (two 8 KiB regions with a hole between them), plus scattering bytes into the
// chain's writable part. The input is:
//   8 bytes of negotiated features; 1 byte: the number of descriptors (up to 32); per descriptor 2 bytes of address
//   (scaled over 0..0x6000, so some lie in the hole or past the end), 3 bytes of length (up to 16 MiB - 1), and
//   1 byte whose low bit makes it writable; the rest fills guest memory from address 0.
// Invariants, a mismatch calls __builtin_trap():
//   - encode_header(decode_header(b)) == b for the first 12 guest bytes;
//   - a header validate_tx_header accepts satisfies every documented rule (flags only NEEDS_CSUM, checksum inside
//     the frame and negotiated, known and negotiated GSO type with NEEDS_CSUM and a segment size, hdr_len inside
//     the frame, num_buffers 0, frame length 14..64 KiB);
//   - gather_tx_frame's accepted frames: the header passes validate_tx_header again, the frame buffers add up to
//     frame_length (≤ 64 KiB), there are at most 1023 of them and each lies inside a region's host memory; a
//     refused chain leaves no buffers;
//   - write_to_chain writes at most the bytes given and at most the writable bytes past the offset.
#include <cstddef>
#include <cstdint>

import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.net;

namespace {

namespace mem = vmm::memory;
namespace q = vmm::virtio::queue;
namespace net = vmm::virtio::net;

constexpr std::uint64_t region_size = 0x2000;
constexpr std::uint64_t second_start = 0x4000;
constexpr std::size_t max_descriptors = 32;

void check(bool ok, std::string_view what) {
  if (!ok) [[unlikely]] {
    std::println(std::cerr, "virtio_net_header_fuzz: {}", what);
    __builtin_trap();
  }
}

class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : data_{data, size} {}
  [[nodiscard]] auto u8() -> std::uint8_t {
    if (pos_ >= data_.size()) {
      return 0;
    }
    return data_[pos_++];
  }
  [[nodiscard]] auto uint(int bytes) -> std::uint64_t {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      v |= std::uint64_t{u8()} << (8U * static_cast<unsigned>(i));
    }
    return v;
  }
  [[nodiscard]] auto rest() const -> std::span<const std::uint8_t> {
    return data_.subspan(std::min(pos_, data_.size()));
  }

 private:
  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
};

auto make_memory() -> mem::guest_memory {
  const std::array layout{mem::guest_range{.start = mem::guest_address{0}, .size = region_size},
                          mem::guest_range{.start = mem::guest_address{second_start}, .size = region_size}};
  auto memory = mem::guest_memory::anonymous(layout);
  check(memory.has_value(), "guest memory");
  return std::move(*memory);
}

[[nodiscard]] auto has(std::uint64_t features, unsigned bit) -> bool {
  return ((features >> bit) & 1U) != 0;
}

// The documented rules, written independently of validate_tx_header.
void check_accepted(const net::net_header& h, std::uint64_t length, std::uint64_t features) {
  check(length >= net::min_frame_bytes && length <= net::max_frame_bytes, "accepted frame length");
  check((h.flags & ~net::header_flag::needs_csum) == 0, "accepted flags");
  const bool csum = (h.flags & net::header_flag::needs_csum) != 0;
  if (csum) {
    check(has(features, net::feature::csum), "NEEDS_CSUM without CSUM accepted");
    check(std::uint64_t{h.csum_start} + h.csum_offset + 2 <= length, "checksum beyond the frame accepted");
  }
  const unsigned type = h.gso_type & ~unsigned{net::gso::ecn};
  check(type == net::gso::none || type == net::gso::tcpv4 || type == net::gso::tcpv6 || type == net::gso::udp,
        "unknown GSO type accepted");
  if (type != net::gso::none) {
    check(csum && h.gso_size != 0, "GSO without checksum or segment size accepted");
    check(type != net::gso::tcpv4 || has(features, net::feature::host_tso4), "TSO4 not negotiated");
    check(type != net::gso::tcpv6 || has(features, net::feature::host_tso6), "TSO6 not negotiated");
    check(type != net::gso::udp || has(features, net::feature::host_ufo), "UFO not negotiated");
  }
  if ((h.gso_type & net::gso::ecn) != 0) {
    check(type != net::gso::none && has(features, net::feature::host_ecn), "ECN accepted");
  }
  check(h.hdr_len <= length, "hdr_len beyond the frame accepted");
  check(h.num_buffers == 0, "num_buffers accepted");
}

}  // namespace

extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) -> int {
  static const mem::guest_memory memory = make_memory();
  input in{data, size};
  const std::uint64_t features = in.uint(8);
  const std::size_t count = in.u8() % (max_descriptors + 1);
  q::descriptor_chain chain;
  chain.reset({.id = 0});
  bool seen_writable = false;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t address = in.uint(2) * 0x6000 / 0x10000;
    const auto length = static_cast<std::uint32_t>(in.uint(3));
    const bool writable = (in.u8() & 1U) != 0 || seen_writable;  // the queue guarantees readable-before-writable
    seen_writable = writable;
    chain.append({.address = mem::guest_address{address}, .length = length, .writable = writable});
  }
  // Guest memory: zeroed, then the rest of the input from address 0.
  const auto rest = in.rest();
  std::vector<std::byte> contents(region_size);
  for (std::size_t i = 0; i < std::min<std::size_t>(rest.size(), contents.size()); ++i) {
    contents[i] = static_cast<std::byte>(rest[i]);
  }
  check(memory.write_all(mem::guest_address{0}, contents).has_value(), "filling memory");
  check(memory.write_all(mem::guest_address{second_start}, contents).has_value(), "filling memory");

  // Header decode/encode and validation on the first 12 bytes.
  std::array<std::byte, net::header_size> raw{};
  std::copy_n(contents.begin(), raw.size(), raw.begin());
  const auto header = net::decode_header(raw);
  check(net::encode_header(header) == raw, "header round trip");
  const std::uint64_t claimed = in.rest().size() > 13 ? (std::uint64_t{rest[12]} | (std::uint64_t{rest[13]} << 8U)) : 0;
  if (net::validate_tx_header(header, claimed, features)) {
    check_accepted(header, claimed, features);
  }

  // Gathering.
  std::vector<vmm::sys::io_buffer> buffers;
  const auto frame = net::gather_tx_frame(memory, chain, features, buffers);
  if (frame) {
    check(net::validate_tx_header(frame->header, frame->frame_length, features).has_value(), "revalidation");
    check_accepted(frame->header, frame->frame_length, features);
    check(net::decode_header(frame->header_bytes) == frame->header, "header copy");
    check(frame->frame_length == chain.readable_bytes() - net::header_size, "frame length");
    check(buffers.size() <= vmm::sys::max_io_buffers - 1, "buffer count");
    std::uint64_t sum = 0;
    for (const auto& b : buffers) {
      sum += b.length;
      bool inside = false;
      for (const auto& region : memory.regions()) {
        const auto* base = region->host_address();
        const auto* p = static_cast<const std::byte*>(b.base);
        inside = inside || (p >= base && p + b.length <= base + region->size());
      }
      check(inside, "buffer outside guest memory");
    }
    check(sum == frame->frame_length && sum <= net::max_frame_bytes, "buffers add up to the frame");
  } else {
    check(buffers.empty(), "buffers left after a refusal");
  }

  // Scattering into the writable part.
  const std::uint64_t offset = count > 0 ? chain.descriptors()[0].length % 64 : 0;
  const std::span<const std::byte> bytes = std::span{contents}.first(std::min<std::size_t>(contents.size(), 3000));
  if (const auto written = net::write_to_chain(memory, chain, offset, bytes); written) {
    check(*written <= bytes.size(), "wrote more than given");
    check(*written + offset <= chain.writable_bytes() || *written == 0, "wrote past the writable part");
  }
  return 0;
}
