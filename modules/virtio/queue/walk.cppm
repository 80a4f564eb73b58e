// vmm.virtio.queue:walk — what the split and the packed chain walks share (an internal partition, not exported):
// reading one descriptor with single accesses, and checking and appending one buffer.
//
// The fast path of a chain walk touches no lookup structure: a descriptor table (the split queue's table, the
// packed ring, an indirect table) that lies in one region is read through one host pointer taken once per pop, and
// the region the last buffer was found in is cached, so a buffer inside it is checked with two comparisons.
module vmm.virtio.queue:walk;
import std;
import vmm.sys;
import vmm.memory;
import :error;
import :layout;
import :chain;

namespace vmm::virtio::queue::detail {

/// One descriptor as read from guest memory, layout-neutral: split descriptors have (flags, next) in the last two
/// 16-bit words, packed ones (id, flags).
struct raw_descriptor {
  std::uint64_t addr = 0;
  std::uint32_t len = 0;
  std::uint16_t word6 = 0;
  std::uint16_t word7 = 0;
};

/// A region's bounds, cached: [start, start + span] (span is size - 1, so a region may end at 2^64 - 1).
struct region_bounds {
  std::uint64_t start = 0;
  std::uint64_t span = 0;
  bool valid = false;

  /// Whether [addr, addr + len - 1] lies inside (len ≥ 1). Overflow-safe: addr - start wraps to a huge value when
  /// addr lies below start, and span - offset cannot wrap once offset ≤ span.
  [[nodiscard]] inline auto holds(std::uint64_t addr, std::uint64_t len) const noexcept -> bool {
    const std::uint64_t offset = addr - start;
    return valid && offset <= span && len - 1 <= span - offset;
  }
};

/// `count` consecutive 16-byte descriptors at `base`. When they lie in one region at an 8-byte-aligned address,
/// each is read with two 8-byte single-copy-atomic loads through a host pointer; otherwise through
/// guest_memory::read_obj (the table may straddle two regions).
class descriptor_table {
 public:
  inline descriptor_table(const memory::guest_memory& memory, memory::guest_address base, std::uint32_t count) noexcept
      : memory_{&memory}, base_{base} {
    const memory::guest_region* r = memory.find_region(base);
    if (r == nullptr) {
      return;
    }
    region_ = {.start = r->start().raw(), .span = r->size() - 1, .valid = true};
    const std::uint64_t bytes = std::uint64_t{count} * descriptor_size;
    if (base.raw() % 8 == 0 && region_.holds(base.raw(), bytes)) {
      host_ = r->host_address() + (base.raw() - region_.start);
    }
  }

  /// The region the table starts in (invalid when the start is unmapped): the first guess for its buffers.
  [[nodiscard]] inline auto region() const noexcept -> region_bounds { return region_; }

  /// Reads descriptor `i` (< count) into `out`; false when it is not in guest memory.
  [[nodiscard, gnu::always_inline]] inline auto read(std::uint32_t i, raw_descriptor& out) const noexcept -> bool {
    if (host_ != nullptr) [[likely]] {
      std::byte* p = host_ + (std::size_t{i} * descriptor_size);
      // SAFETY: p and p + 8 are 8-byte aligned (base is, region hosts are page-aligned) and inside the region's
      // live mapping (checked in the constructor; the caller holds the guest_memory snapshot). atomic_ref makes
      // each load one instruction, free of data races with the guest writing the table meanwhile.
      const std::uint64_t lo =
          std::atomic_ref<std::uint64_t>{*reinterpret_cast<std::uint64_t*>(p)}.load(std::memory_order_relaxed);
      const std::uint64_t hi =
          std::atomic_ref<std::uint64_t>{*reinterpret_cast<std::uint64_t*>(p + 8)}.load(std::memory_order_relaxed);
      out = {.addr = lo,
             .len = static_cast<std::uint32_t>(hi),
             .word6 = static_cast<std::uint16_t>(hi >> 32U),
             .word7 = static_cast<std::uint16_t>(hi >> 48U)};
      return true;
    }
    return read_slow(i, out);
  }

 private:
  [[nodiscard]] auto read_slow(std::uint32_t i, raw_descriptor& out) const noexcept -> bool;

  const memory::guest_memory* memory_;
  memory::guest_address base_;
  std::byte* host_ = nullptr;
  region_bounds region_;
};

/// Checks buffers and appends them to a chain: direction order, the chain's length limit, and guest memory bounds.
class chain_builder {
 public:
  /// Builds into `chain` (already reset), at most `limit` buffers; `guess` is the region to try first.
  inline chain_builder(const memory::guest_memory& memory, descriptor_chain& chain, std::uint32_t limit,
                       region_bounds guess) noexcept
      : memory_{&memory}, chain_{&chain}, limit_{limit}, cache_{guess} {}

  /// Whether [addr, addr + len) lies in guest memory (an empty range always does; one that wraps never does).
  [[nodiscard, gnu::always_inline]] inline auto contains(std::uint64_t addr, std::uint64_t len) noexcept -> bool {
    if (len == 0 || cache_.holds(addr, len)) [[likely]] {
      return true;
    }
    const region_lookup found = lookup(*memory_, addr, len);
    cache_ = found.region.valid ? found.region : cache_;
    return found.inside;
  }

  /// Appends a buffer, or returns why it cannot be: errc::readable_after_writable, errc::chain_too_long,
  /// errc::descriptor_out_of_memory. errc{} on success.
  [[nodiscard, gnu::always_inline]] inline auto add(std::uint64_t addr, std::uint32_t len, bool writable) -> errc {
    if (!writable && seen_writable_) [[unlikely]] {
      return errc::readable_after_writable;
    }
    if (count_ == limit_) [[unlikely]] {
      return errc::chain_too_long;
    }
    if (!contains(addr, len)) [[unlikely]] {
      return errc::descriptor_out_of_memory;
    }
    seen_writable_ = seen_writable_ || writable;
    ++count_;
    // The hot path of a chain walk is forced inline (here, and add, contains and read above): clang otherwise leaves
    // append and add out of line, and the calls, spills and reloads cost more than the checks themselves
    // (benches/virtio/queue/chain_bench.cpp).
    [[clang::always_inline]] chain_->append(
        {.address = memory::guest_address{addr}, .length = len, .writable = writable});
    return errc{};
  }

  [[nodiscard]] inline auto memory() const noexcept -> const memory::guest_memory& { return *memory_; }

 private:
  /// What the slow path found: whether the range is in guest memory, and the region of its first byte (to cache).
  /// Returned by value so that no pointer to the builder escapes and its state stays in registers.
  struct region_lookup {
    bool inside = false;
    region_bounds region;
  };
  [[nodiscard]] static auto lookup(const memory::guest_memory& memory, std::uint64_t addr, std::uint64_t len) noexcept
      -> region_lookup;

  const memory::guest_memory* memory_;
  descriptor_chain* chain_;
  std::uint32_t limit_;
  std::uint32_t count_ = 0;
  bool seen_writable_ = false;
  region_bounds cache_;
};

/// The checks on an indirect descriptor's table length: errc::bad_indirect_table unless it is a nonzero multiple of
/// 16 bytes of at most `queue_size` descriptors (the spec's bound on a chain: no longer than the queue).
[[nodiscard]] inline auto check_indirect_length(std::uint32_t len, std::uint16_t queue_size) noexcept -> errc {
  if (len == 0 || len % descriptor_size != 0 || len / descriptor_size > queue_size) [[unlikely]] {
    return errc::bad_indirect_table;
  }
  return errc{};
}

/// In-flight bitmap helpers: one bit per head (split) or buffer id (packed).
[[nodiscard]] inline auto test_bit(const std::vector<std::uint64_t>& bits, std::uint16_t i) noexcept -> bool {
  return ((bits[i / 64U] >> (i % 64U)) & 1U) != 0;
}
inline void set_bit(std::vector<std::uint64_t>& bits, std::uint16_t i) noexcept {
  bits[i / 64U] |= std::uint64_t{1} << (i % 64U);
}
inline void clear_bit(std::vector<std::uint64_t>& bits, std::uint16_t i) noexcept {
  bits[i / 64U] &= ~(std::uint64_t{1} << (i % 64U));
}

/// guest + offset for an offset the caller knows stays inside an area create checked (no overflow possible).
[[nodiscard]] inline auto at(memory::guest_address base, std::uint64_t offset) noexcept -> memory::guest_address {
  return memory::guest_address{base.raw() + offset};
}

auto descriptor_table::read_slow(std::uint32_t i, raw_descriptor& out) const noexcept -> bool {
  auto address = base_.checked_add(std::uint64_t{i} * descriptor_size);
  if (!address) {
    return false;
  }
  std::array<std::byte, descriptor_size> bytes{};
  if (!memory_->read_exact(*address, bytes)) {
    return false;
  }
  const auto d = std::bit_cast<split_descriptor>(bytes);
  out = {.addr = d.addr, .len = d.len, .word6 = d.flags, .word7 = d.next};
  return true;
}

auto chain_builder::lookup(const memory::guest_memory& memory, std::uint64_t addr, std::uint64_t len) noexcept
    -> region_lookup {
  if (len - 1 > std::numeric_limits<std::uint64_t>::max() - addr) {
    return {};  // addr + len wraps past 2^64
  }
  region_lookup found;
  if (const memory::guest_region* r = memory.find_region(memory::guest_address{addr}); r != nullptr) {
    found.region = {.start = r->start().raw(), .span = r->size() - 1, .valid = true};
    if (found.region.holds(addr, len)) {
      found.inside = true;
      return found;
    }
  }
  // A buffer may span adjacent regions; the readers and writers handle that piece by piece.
  found.inside = memory.contains_range(memory::guest_address{addr}, len);
  return found;
}

}  // namespace vmm::virtio::queue::detail
