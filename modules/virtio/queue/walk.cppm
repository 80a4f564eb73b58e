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

/// A region's bounds, cached: [start, start + span] (span is size - 1, so a region may end at 2^64 - 1). Always a
/// region of the guest memory being walked, except when that memory has no region at all (then no descriptor can
/// be read, so no buffer is ever checked against it): the walk's hot loop has no "is it set" test to make.
struct region_bounds {
  std::uint64_t start = 0;
  std::uint64_t span = 0;

  /// Whether [addr, addr + len - 1] lies inside (len ≥ 1). Overflow-safe: addr - start wraps to a huge value when
  /// addr lies below start, and span - offset cannot wrap once offset ≤ span.
  [[nodiscard]] inline auto holds(std::uint64_t addr, std::uint64_t len) const noexcept -> bool {
    const std::uint64_t offset = addr - start;
    return offset <= span && len - 1 <= span - offset;
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
      // The start is unmapped (a later entry may not be): any region will do as the first guess for buffers.
      if (!memory.regions().empty()) {
        r = memory.regions().front().get();
        region_ = {.start = r->start().raw(), .span = r->size() - 1};
      }
      return;
    }
    region_ = {.start = r->start().raw(), .span = r->size() - 1};
    const std::uint64_t bytes = std::uint64_t{count} * descriptor_size;
    if (base.raw() % 8 == 0 && region_.holds(base.raw(), bytes)) {
      host_ = r->host_address() + (base.raw() - region_.start);
    }
  }

  /// Whether every entry is read through the host pointer (the table lies in one region, 8-byte aligned).
  [[nodiscard]] inline auto direct() const noexcept -> bool { return host_ != nullptr; }

  /// The region the table starts in (another region when the start is unmapped): the first guess for its buffers.
  [[nodiscard]] inline auto region() const noexcept -> region_bounds { return region_; }

  /// The host address of entry 0 when direct(), else null.
  [[nodiscard]] inline auto host() const noexcept -> std::byte* { return host_; }

  /// The entry at `p`, the host address of an entry of a direct() table.
  [[nodiscard, gnu::always_inline]] static inline auto load(std::byte* p) noexcept -> raw_descriptor {
    // SAFETY: p and p + 8 are 8-byte aligned (base is, region hosts are page-aligned) and inside the region's live
    // mapping (checked in the constructor; the caller holds the guest_memory snapshot). atomic_ref makes each load
    // one instruction, free of data races with the guest writing the table meanwhile.
    const std::uint64_t lo =
        std::atomic_ref<std::uint64_t>{*reinterpret_cast<std::uint64_t*>(p)}.load(std::memory_order_relaxed);
    const std::uint64_t hi =
        std::atomic_ref<std::uint64_t>{*reinterpret_cast<std::uint64_t*>(p + 8)}.load(std::memory_order_relaxed);
    return {.addr = lo,
            .len = static_cast<std::uint32_t>(hi),
            .word6 = static_cast<std::uint16_t>(hi >> 32U),
            .word7 = static_cast<std::uint16_t>(hi >> 48U)};
  }

  /// Reads descriptor `i` (< count) into `out`; false when it is not in guest memory. With Direct (for a caller that
  /// checked direct() once, outside its loop) only the host-pointer path is compiled.
  template <bool Direct = false>
  [[nodiscard, gnu::always_inline]] inline auto read(std::uint32_t i, raw_descriptor& out) const noexcept -> bool {
    if (Direct || host_ != nullptr) [[likely]] {
      out = load(host_ + (std::size_t{i} * descriptor_size));
      return true;
    }
    const std::optional<raw_descriptor> d = read_slow(*memory_, base_, i);
    if (!d) {
      return false;
    }
    out = *d;
    return true;
  }

 private:
  // Static and by value, like everything the walk calls out of line: a table or builder whose address reached a call
  // could no longer live in registers.
  [[nodiscard]] static auto read_slow(const memory::guest_memory& memory, memory::guest_address base,
                                      std::uint32_t i) noexcept -> std::optional<raw_descriptor>;

  const memory::guest_memory* memory_;
  memory::guest_address base_;
  std::byte* host_ = nullptr;
  region_bounds region_;
};

/// The part of a chain builder's state that a fast walk (fast_walk in split.cpp and packed.cpp) works on: where the
/// next buffer goes, the end of the usable storage, the cached region, where the readable part ends (null until the
/// first writable buffer) and the byte sums.
struct build_state {
  descriptor* next = nullptr;
  descriptor* end = nullptr;  // min(limit, the storage's capacity) entries from the storage's start
  region_bounds cache;
  descriptor* readable_end = nullptr;
  std::uint64_t readable_bytes = 0;
  std::uint64_t writable_bytes = 0;

  /// Appends a buffer when that is the plain case — room without growing, inside the cached region — and returns
  /// true; otherwise changes nothing and returns false (the caller then takes the buffer through chain_builder::add).
  /// The direction rule, readable_end and the sums are the caller's: a fast walk keeps them by the phase it is in.
  [[nodiscard, gnu::always_inline]] inline auto try_add(std::uint64_t addr, std::uint32_t len, bool writable) noexcept
      -> bool {
    if (next == end || !cache.holds(addr, len)) [[unlikely]] {
      return false;
    }
    // SAFETY: next < end ≤ the end of the chain's storage, which nothing else touches during the walk.
    *next = {.address = memory::guest_address{addr}, .length = len, .writable = writable};
    ++next;
    return true;
  }
};

/// Checks buffers and writes them into a chain's storage: direction order, the chain's length limit and guest memory
/// bounds as each is added. The counts and sums are published to the chain once, by finish(); until then the chain
/// stays as reset made it (so a walk that fails leaves it empty).
///
/// A walk's hot loop is a function of its own (fast_walk), without calls, that takes the plain descriptors through
/// build_state::try_add with all its state in registers; whatever is not plain (an indirect table, a buffer outside
/// the cached region, growing the storage, an error to report) it hands back to a walk through add(), one
/// descriptor at a time. Measured before: one loop with the slow paths inlined or called from it kept most of its
/// state on the stack (clang's register allocator), 50–55 instructions a descriptor.
class chain_builder {
 public:
  /// Builds into `chain` (already reset), at most `limit` buffers; `guess` is the region to try first.
  inline chain_builder(const memory::guest_memory& memory, descriptor_chain& chain, std::uint32_t limit,
                       region_bounds guess) noexcept
      : memory_{&memory},
        chain_{&chain},
        limit_{limit},
        state_{.next = chain.storage_.data(),
               .end = chain.storage_.data() + std::min<std::size_t>(chain.storage_.size(), limit),
               .cache = guess} {}

  /// Whether [addr, addr + len) lies in guest memory (an empty range always does; one that wraps never does).
  [[nodiscard]] inline auto contains(std::uint64_t addr, std::uint64_t len) noexcept -> bool {
    // An empty range fails holds() (len - 1 wraps) unless the region spans all of 2^64, and is told apart here.
    if (state_.cache.holds(addr, len) || len == 0) {
      return true;
    }
    const region_lookup found = lookup(*memory_, addr, len);
    if (found.found) {
      state_.cache = found.region;
    }
    return found.inside;
  }

  /// Appends a buffer, or returns why it cannot be: errc::readable_after_writable, errc::chain_too_long,
  /// errc::descriptor_out_of_memory. errc{} on success.
  [[nodiscard]] inline auto add(std::uint64_t addr, std::uint32_t len, bool writable) -> errc {
    if (!writable && state_.readable_end != nullptr) {
      return errc::readable_after_writable;
    }
    if (state_.next == state_.end) {
      // One comparison for two limits: the chain's length limit and the storage's capacity.
      const auto count = static_cast<std::size_t>(state_.next - chain_->storage_.data());
      if (count == limit_) {
        return errc::chain_too_long;
      }
      const storage s = grow(*chain_, count + 1);
      state_.next = s.data + count;
      state_.end = s.data + std::min<std::size_t>(s.capacity, limit_);
    }
    if (!contains(addr, len)) {
      return errc::descriptor_out_of_memory;
    }
    // SAFETY: next < end ≤ the end of the chain's storage, which nothing else touches during the walk.
    if (writable && state_.readable_end == nullptr) {
      state_.readable_end = state_.next;
    }
    (writable ? state_.writable_bytes : state_.readable_bytes) += len;
    *state_.next = {.address = memory::guest_address{addr}, .length = len, .writable = writable};
    ++state_.next;
    return errc{};
  }

  /// The state a fast walk works on.
  [[nodiscard]] inline auto state() noexcept -> build_state& { return state_; }

  /// Publishes the buffers added as the chain's: the end of a walk that succeeded.
  [[gnu::always_inline]] inline void finish() noexcept {
    const descriptor* const base = chain_->storage_.data();
    const descriptor* const readable_end = state_.readable_end != nullptr ? state_.readable_end : state_.next;
    chain_->size_ = static_cast<std::size_t>(state_.next - base);
    chain_->readable_count_ = static_cast<std::size_t>(readable_end - base);
    chain_->readable_bytes_ = state_.readable_bytes;
    chain_->writable_bytes_ = state_.writable_bytes;
  }

  [[nodiscard]] inline auto memory() const noexcept -> const memory::guest_memory& { return *memory_; }

 private:
  /// What the slow path found: whether the range is in guest memory, and the region of its first byte (to cache).
  struct region_lookup {
    bool inside = false;
    bool found = false;  // region holds the range's first byte
    region_bounds region;
  };
  [[nodiscard]] static auto lookup(const memory::guest_memory& memory, std::uint64_t addr, std::uint64_t len) noexcept
      -> region_lookup;

  /// The chain's storage after growing it to hold at least `n` buffers (those written so far kept).
  struct storage {
    descriptor* data = nullptr;
    std::size_t capacity = 0;
  };
  [[nodiscard]] static auto grow(descriptor_chain& chain, std::size_t n) -> storage;

  const memory::guest_memory* memory_;
  descriptor_chain* chain_;
  std::uint32_t limit_;
  build_state state_;
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

/// A ring area (an available or used ring, a packed ring) that lies in one region, for pop and add_used to read
/// and write with plain atomic accesses: one region lookup a call instead of one per field. Not valid (host null)
/// when the area is not in one region (one that is writable, when `write`); the caller then goes through
/// guest_memory::load and store, which report why.
class ring_area {
 public:
  inline ring_area(const memory::guest_memory& memory, memory::guest_address start, std::uint64_t bytes,
                   bool write) noexcept {
    const memory::guest_region* r = memory.find_region(start);
    if (r == nullptr || (write && r->read_only())) {
      return;
    }
    const std::uint64_t offset = start.raw() - r->start().raw();
    if (bytes > r->size() - offset) {
      return;
    }
    host_ = r->host_address() + offset;
    bitmap_ = r->bitmap();
    offset_ = offset;
  }

  [[nodiscard]] inline auto valid() const noexcept -> bool { return host_ != nullptr; }

  /// The T at `at` bytes into the area (inside it, aligned to sizeof(T)), loaded with `order`.
  template <class T>
  [[nodiscard]] inline auto load(std::uint64_t at, std::memory_order order) const noexcept -> T {
    // SAFETY: as store.
    return std::atomic_ref<T>{*reinterpret_cast<T*>(host_ + at)}.load(order);
  }

  /// Stores `value` at `at` bytes into the area (inside it, aligned to sizeof(T): the caller's layout guarantees
  /// both) with `order`, and marks it dirty. Only for an area made with `write`.
  template <class T>
  inline void store(std::uint64_t at, T value, std::memory_order order) const noexcept {
    // SAFETY: host_ + at is inside the region's live mapping (the constructor checked the area's extent; the caller
    // holds the guest_memory snapshot) and aligned for T (region hosts are page-aligned).
    std::atomic_ref<T>{*reinterpret_cast<T*>(host_ + at)}.store(value, order);
    if (bitmap_ != nullptr) {
      bitmap_->mark(offset_ + at, sizeof(T));
    }
  }

 private:
  std::byte* host_ = nullptr;
  memory::dirty_bitmap* bitmap_ = nullptr;
  std::uint64_t offset_ = 0;  // of the area in its region
};

/// guest + offset for an offset the caller knows stays inside an area create checked (no overflow possible).
[[nodiscard]] inline auto at(memory::guest_address base, std::uint64_t offset) noexcept -> memory::guest_address {
  return memory::guest_address{base.raw() + offset};
}

auto descriptor_table::read_slow(const memory::guest_memory& memory, memory::guest_address base,
                                 std::uint32_t i) noexcept -> std::optional<raw_descriptor> {
  auto address = base.checked_add(std::uint64_t{i} * descriptor_size);
  if (!address) {
    return std::nullopt;
  }
  std::array<std::byte, descriptor_size> bytes{};
  if (!memory.read_exact(*address, bytes)) {
    return std::nullopt;
  }
  const auto d = std::bit_cast<split_descriptor>(bytes);
  return raw_descriptor{.addr = d.addr, .len = d.len, .word6 = d.flags, .word7 = d.next};
}

auto chain_builder::grow(descriptor_chain& chain, std::size_t n) -> storage {
  chain.grow(n);
  return {.data = chain.storage_.data(), .capacity = chain.storage_.size()};
}

auto chain_builder::lookup(const memory::guest_memory& memory, std::uint64_t addr, std::uint64_t len) noexcept
    -> region_lookup {
  if (len - 1 > std::numeric_limits<std::uint64_t>::max() - addr) {
    return {};  // addr + len wraps past 2^64
  }
  region_lookup found;
  if (const memory::guest_region* r = memory.find_region(memory::guest_address{addr}); r != nullptr) {
    found.found = true;
    found.region = {.start = r->start().raw(), .span = r->size() - 1};
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
