// Fuzzes vmm.allocator's address_allocator and id_allocator against the brute-force models of
// tests/allocator/allocator_model.cppm. The first input byte places a 256-address pool (low, unaligned, or ending
// exactly at 2^64) and a 64-id range (low, or ending at 2^32 - 1); then each group of bytes is one operation with
// input-chosen sizes, alignments (powers of two up to 2^63, and values that are not powers of two), policies,
// addresses (inside, around and outside the pool) and ids: allocate, allocate_at, free (of an allocated range, a
// part of one, one byte more, a random range), and the id operations allocate(), allocate(id), free(id).
//
// After every operation the result (value or exact error) must equal the model's, and the allocator's whole state
// must equal the model's: allocated ranges, coalesced free ranges, counts and lookups, every id's state. A mismatch
// calls __builtin_trap().
#include <cstddef>
#include <cstdint>

import std;
import vmm.sys;
import vmm.allocator;
import allocator_model;

namespace {

namespace alloc = vmm::allocator;
using allocator_model::same;

constexpr std::uint64_t pool_size = 256;
constexpr std::uint32_t id_count = 64;
constexpr int max_operations = 128;

[[noreturn]] void mismatch(std::string_view what) {
  std::println(std::cerr, "allocator_fuzz: mismatch with the model: {}", what);
  __builtin_trap();
}

void check(bool ok, std::string_view what) {
  if (!ok) [[unlikely]] {
    mismatch(what);
  }
}

/// Reads the input a byte at a time; past its end every byte is 0.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : bytes_{data, size} {}
  [[nodiscard]] auto empty() const -> bool { return at_ >= bytes_.size(); }
  auto byte() -> std::uint8_t { return at_ < bytes_.size() ? bytes_[at_++] : 0; }
  auto u16() -> std::uint16_t { return static_cast<std::uint16_t>(byte() | (byte() << 8U)); }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
};

auto alignment_from(std::uint8_t b) -> std::uint64_t {
  if (b >= 0xf0) {
    return b & 0x0fU;  // 0..15: mostly not powers of two
  }
  return std::uint64_t{1} << (b % 64U);
}

auto size_from(std::uint16_t v) -> std::uint64_t {
  return (v & 0x8000U) != 0 ? std::numeric_limits<std::uint64_t>::max() - (v & 0xffU) : v % (pool_size + 8);
}

}  // namespace

extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) -> int {
  input in{data, size};
  const std::uint8_t layout = in.byte();
  std::uint64_t base = 0x1000;
  if ((layout & 3U) == 1) {
    base = 0x1003;
  } else if ((layout & 3U) == 2) {
    base = std::numeric_limits<std::uint64_t>::max() - pool_size + 1;
  }
  const std::uint32_t first_id = (layout & 4U) != 0 ? std::numeric_limits<std::uint32_t>::max() - id_count + 1 : 5;
  auto addresses = alloc::address_allocator::create(base, pool_size);
  auto ids = alloc::id_allocator::create(first_id, first_id + id_count - 1);
  check(addresses.has_value() && ids.has_value(), "create failed");
  allocator_model::address_model address_model{base, pool_size};
  allocator_model::id_model id_model{first_id, id_count};

  for (int op = 0; op < max_operations && !in.empty(); ++op) {
    const std::uint8_t kind = in.byte();
    switch (kind % 6U) {
      case 0: {
        const auto s = size_from(in.u16());
        const auto alignment = alignment_from(in.byte());
        const auto policy =
            (kind & 0x80U) != 0 ? alloc::allocation_policy::last_fit : alloc::allocation_policy::first_fit;
        check(same(addresses->allocate(s, alignment, policy), address_model.allocate(s, alignment, policy)),
              "allocate");
        break;
      }
      case 1: {
        const std::uint64_t at = base + in.u16() - 0x8000U;  // wraps around 2^64 on purpose
        const auto s = size_from(in.u16());
        check(same(addresses->allocate_at(at, s), address_model.allocate_at(at, s)), "allocate_at");
        break;
      }
      case 2: {
        auto range = address_model.some_allocation(in.byte()).value_or(alloc::address_range{.base = base, .size = 1});
        const std::uint8_t change = in.byte();
        if ((change & 1U) != 0) {
          range.size += (change >> 4U);
        }
        if ((change & 2U) != 0) {
          range.base += (change >> 4U);
        }
        if ((change & 4U) != 0 && range.size > 1) {
          range.size -= 1;
        }
        check(same(addresses->free(range), address_model.free(range)), "free");
        break;
      }
      case 3:
        check(same(ids->allocate(), id_model.allocate()), "id allocate");
        break;
      case 4: {
        const auto id = static_cast<std::uint32_t>(first_id + in.byte() - 16U);
        check(same(ids->allocate(id), id_model.allocate(id)), "id allocate(id)");
        break;
      }
      default: {
        const auto id = static_cast<std::uint32_t>(first_id + in.byte() - 16U);
        check(same(ids->free(id), id_model.free(id)), "id free");
        break;
      }
    }
    const std::string address_state = address_model.check(*addresses);
    check(address_state.empty(), address_state);
    const std::string id_state = id_model.check(*ids);
    check(id_state.empty(), id_state);
  }
  return 0;
}
