// Fuzzes vmm.virtio.queue's split_queue with a guest that writes whatever it likes into its rings. Guest memory is
// two regions with a hole between them: [0, 32 KiB) holding the descriptor table at 0, the available ring at
// 0x1000, the used ring at 0x2000, and [64 KiB, 68 KiB) as more buffer space; an indirect table or a buffer may sit
// anywhere, inside, across the hole, or outside. The input is:
//   byte 0: queue size (1, 2, 4, 8 or 16 by its low bits) and features (bit 4 INDIRECT_DESC, bit 5 EVENT_IDX);
//   then operations, each one byte choosing it followed by its operands:
//     pop; add_used of an in-flight chain (or of a made-up token); needs_notification; enable / disable
//     notification; the guest writing 1-32 input bytes at an input-chosen offset of the first region (rings,
//     tables, buffers, indices alike); the guest moving avail idx by 0-255; pending().
// After every operation these must hold, else __builtin_trap():
//   - a popped chain has 1..size buffers, readable ones first, each inside guest memory (length 0 allowed), its
//     head < size and not already in flight; a chain_reader and chain_writer can consume all of it;
//   - in_flight() equals the model's count of chains popped and not used, and never exceeds the size;
//   - add_used of a model token succeeds (until the queue is broken), of any other token fails with not_in_flight;
//   - once broken() the queue stays broken and pop says queue_broken; every error is a vmm.virtio.queue errc.
// Each operation is bounded (a pop reads at most size + size descriptors), so an input never hangs.
#include <cstddef>
#include <cstdint>

import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;

namespace {

namespace mem = vmm::memory;
namespace q = vmm::virtio::queue;

constexpr std::uint64_t low_size = 0x8000;
constexpr std::uint64_t high_start = 0x10000;
constexpr std::uint64_t high_size = 0x1000;
constexpr int max_operations = 256;

[[noreturn]] void mismatch(std::string_view what) {
  std::println(std::cerr, "virtio_split_queue_fuzz: {}", what);
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
  [[nodiscard]] auto empty() const -> bool { return bytes_.empty(); }
  auto u8() -> std::uint8_t {
    if (bytes_.empty()) {
      return 0;
    }
    const std::uint8_t b = bytes_.front();
    bytes_ = bytes_.subspan(1);
    return b;
  }
  auto u16() -> std::uint16_t { return static_cast<std::uint16_t>(u8() | (u8() << 8U)); }
  auto take(std::size_t n) -> std::span<const std::uint8_t> {
    const auto part = bytes_.first(std::min(n, bytes_.size()));
    bytes_ = bytes_.subspan(part.size());
    return part;
  }

 private:
  std::span<const std::uint8_t> bytes_;
};

auto memory() -> const mem::guest_memory& {
  static const mem::guest_memory m = [] {
    const std::array layout{mem::guest_range{.start = mem::guest_address{0}, .size = low_size},
                            mem::guest_range{.start = mem::guest_address{high_start}, .size = high_size}};
    return mem::guest_memory::anonymous(layout).value();
  }();
  return m;
}

void clear(const mem::guest_memory& m) {
  for (const auto& r : m.regions()) {
    std::memset(r->host_address(), 0, static_cast<std::size_t>(r->size()));
  }
}

void check_chain(const mem::guest_memory& m, const q::descriptor_chain& chain, std::uint16_t size) {
  const auto all = chain.descriptors();
  check(!all.empty() && all.size() <= size, "chain length outside 1..size");
  bool writable = false;
  for (const auto& d : all) {
    check(!writable || d.writable, "readable descriptor after a writable one");
    writable = d.writable;
    check(m.contains_range(d.address, d.length), "descriptor outside guest memory");
  }
  // Consume a bounded part of each direction: readers and writers must succeed on a checked chain.
  std::array<std::byte, 4096> scratch{};
  q::chain_reader reader{m, chain};
  const auto r = static_cast<std::size_t>(std::min<std::uint64_t>(reader.remaining(), scratch.size()));
  check(reader.read_exact(std::span{scratch}.first(r)).has_value(), "reading a checked chain failed");
  q::chain_writer writer{m, chain};
  const auto w = static_cast<std::size_t>(std::min<std::uint64_t>(writer.remaining(), scratch.size()));
  check(writer.write_all(std::span{scratch}.first(w)).has_value(), "writing a checked chain failed");
  check(writer.written() == w, "writer counted the wrong length");
}

void check_error(const std::error_code& e) {
  check(e.category() == q::queue_category(), "an error outside vmm.virtio.queue");
}

}  // namespace

extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) -> int {
  input in{data, size};
  const auto& m = memory();
  clear(m);
  const std::uint8_t setup = in.u8();
  const auto queue_size = static_cast<std::uint16_t>(1U << (setup % 5U));
  std::uint64_t features = 0;
  if ((setup & 0x10U) != 0) {
    features |= std::uint64_t{1} << q::feature::indirect_desc;
  }
  if ((setup & 0x20U) != 0) {
    features |= std::uint64_t{1} << q::feature::event_idx;
  }
  const q::queue_config config{.max_size = 16,
                               .size = queue_size,
                               .ready = true,
                               .descriptor_area = mem::guest_address{0},
                               .driver_area = mem::guest_address{0x1000},
                               .device_area = mem::guest_address{0x2000}};
  auto made = q::split_queue::create(config, features, m);
  check(made.has_value(), "a valid configuration was refused");
  q::split_queue& queue = *made;
  q::descriptor_chain chain;
  std::vector<q::chain_token> in_flight;  // the model
  std::uint16_t driver_avail = 0;
  bool was_broken = false;

  for (int op = 0; op < max_operations && !in.empty(); ++op) {
    switch (in.u8() % 9U) {
      case 0:
      case 1: {
        const auto popped = queue.pop(m, chain);
        if (popped && *popped) {
          const auto token = chain.token();
          check(token.id < queue_size && token.slots == 1, "token out of range");
          check(std::ranges::find(in_flight, token) == in_flight.end(), "a head popped twice while in flight");
          check_chain(m, chain, queue_size);
          in_flight.push_back(token);
        } else if (!popped) {
          check_error(popped.error());
          check(chain.descriptors().empty(), "a failed pop left buffers in the chain");
          check(!was_broken || popped.error() == make_error_code(q::errc::queue_broken), "broken queue popped");
        }
        break;
      }
      case 2: {
        if (in_flight.empty()) {
          break;
        }
        const std::size_t pick = in.u8() % in_flight.size();
        const auto used = queue.add_used(m, in_flight[pick], in.u16());
        check(used.has_value() || queue.broken(), "add_used of an in-flight token failed");
        if (used) {
          in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(pick));
        }
        break;
      }
      case 3: {
        const q::chain_token made_up{.id = in.u16(), .slots = 1};
        if (std::ranges::find(in_flight, made_up) == in_flight.end()) {
          check(queue.add_used(m, made_up, 0).error_or({}) == make_error_code(q::errc::not_in_flight),
                "add_used of a token not handed out did not fail with not_in_flight");
        }
        break;
      }
      case 4: {
        const auto n = queue.needs_notification(m);
        check(n.has_value(), "needs_notification failed on mapped rings");
        break;
      }
      case 5: {
        const auto e =
            (in.u8() & 1U) != 0 ? queue.enable_notification(m).transform([](bool) {}) : queue.disable_notification(m);
        check(e.has_value() || queue.broken(), "notification control failed on mapped rings");
        break;
      }
      case 6: {
        const std::uint16_t offset = in.u16() % 0x3000U;
        const auto bytes = std::as_bytes(in.take(1 + (in.u8() % 32U)));
        static_cast<void>(m.write(mem::guest_address{offset}, bytes));
        break;
      }
      case 7: {
        driver_avail = static_cast<std::uint16_t>(driver_avail + in.u8());
        static_cast<void>(m.store<std::uint16_t>(mem::guest_address{0x1002}, driver_avail, std::memory_order_release));
        break;
      }
      default: {
        const auto p = queue.pending(m);
        check(p.has_value() && *p <= queue_size, "pending out of range");
        break;
      }
    }
    check(queue.in_flight() == in_flight.size(), "in_flight differs from the model");
    check(queue.in_flight() <= queue_size, "more chains in flight than the queue holds");
    check(!was_broken || queue.broken(), "a broken queue recovered by itself");
    was_broken = queue.broken();
  }
  return 0;
}
