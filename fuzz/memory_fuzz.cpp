// Fuzzes vmm.memory's guest address space against a reference model. The input describes a layout of a few small
// regions (adjacent, with gaps, overlapping attempts, some read-only, some tracking dirty pages, some with guard
// pages, some ending at or running past 2^64) and then a sequence of operations at input-chosen addresses and
// lengths: read, write, read_exact, write_all, read_obj, write_obj, load, store, get_slice (and operations on the
// slice), get_slices, append_io_buffers, mark_dirty, contains / contains_range / find_region, insert and remove of
// regions, and taking a dirty bitmap.
//
// The model is deliberately naive: a map of regions by start, each holding its bytes and one dirty flag per 4 KiB
// page, and every question about a range is answered byte by byte. Each operation's result is checked against it:
//   - the same success or failure, and the same error code (errc::address_overflow, out_of_range,
//     crosses_region_boundary, read_only_region, misaligned_access, overlapping_regions, region_not_found, ...);
//   - the same bytes read (and an output buffer untouched past what a partial read reports, or entirely on failure);
//   - the same count of bytes written, slices and buffers that point at the right host bytes with the right lengths;
// and after every operation all of guest memory is compared with the model (nothing written where the model wrote
// nothing, in particular by a failing operation) and every dirty bitmap with the model's dirty pages. A mismatch
// calls __builtin_trap().
#include <cstddef>
#include <cstdint>

import std;
import vmm.sys;
import vmm.memory;

namespace {

namespace mem = vmm::memory;

constexpr std::uint64_t page = 4096;  // the base page size of x86-64, and the dirty bitmap's page
constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t max_regions = 6;
constexpr std::uint64_t max_region_pages = 4;
constexpr std::size_t max_buffer = (4 * page) + 256;  // the largest buffer an operation allocates
constexpr int max_operations = 64;
constexpr auto sentinel = std::byte{0xa5};

// The model and the checks are not what is being fuzzed: their byte loops are left out of coverage (and out of the
// comparison tracing, which otherwise takes most of the time of an input).
#define MODEL_CODE [[clang::no_sanitize("coverage")]]  // NOLINT(cppcoreguidelines-macro-usage)

[[noreturn]] void mismatch(std::string_view what) {
  std::println(std::cerr, "memory_fuzz: mismatch with the model: {}", what);
  __builtin_trap();
}

/// Traps with the formatted message when `ok` is false (the message is only formatted then).
template <class... Args>
void check(bool ok, std::format_string<Args...> what, Args&&... args) {
  if (!ok) [[unlikely]] {
    mismatch(std::format(what, std::forward<Args>(args)...));
  }
}

auto code(mem::errc e) -> std::error_code {
  return mem::make_error_code(e);
}

/// VMM_MEMORY_FUZZ_TRACE=1 prints every checked outcome (to see what an input does).
const bool trace = [] {
  const char* v = std::getenv("VMM_MEMORY_FUZZ_TRACE");  // NOLINT(concurrency-mt-unsafe): read once, at start
  return v != nullptr && std::string_view{v} == "1";
}();

/// Checks that `got` failed with `want` (or succeeded, when `want` is empty).
template <class T>
void check_outcome(const vmm::result<T>& got, std::optional<mem::errc> want, std::string_view what) {
  if (trace) {
    std::println(std::cerr, "{}: {}", what, got ? std::string{"ok"} : got.error().message());
  }
  if (want) {
    if (got) {
      mismatch(std::format("{}: succeeded, the model says {}", what, code(*want).message()));
    }
    if (got.error() != code(*want)) {
      mismatch(std::format("{}: failed with \"{}\", the model says \"{}\"", what, got.error().message(),
                           code(*want).message()));
    }
  } else if (!got) {
    mismatch(std::format("{}: failed with \"{}\", the model says it succeeds", what, got.error().message()));
  }
}

/// The fuzzer's bytes, read front to back; zeros once they run out.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : bytes_{data, size} {}
  [[nodiscard]] auto empty() const -> bool { return at_ >= bytes_.size(); }
  auto u8() -> std::uint8_t { return at_ < bytes_.size() ? bytes_[at_++] : std::uint8_t{0}; }
  auto u16() -> std::uint16_t {
    const auto lo = u8();
    return static_cast<std::uint16_t>(lo | (u8() << 8U));
  }
  auto u64() -> std::uint64_t {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v = (v << 8U) | u8();
    }
    return v;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
};

/// A byte array that is allocated and filled with one memset: std::vector<std::byte> constructs and destroys element
/// by element, which under the fuzzer's instrumentation costs more than the operation under test.
class byte_buffer {
 public:
  MODEL_CODE explicit byte_buffer(std::size_t size, std::byte fill = std::byte{0})
      : data_{std::make_unique_for_overwrite<std::byte[]>(size)}, size_{size} {
    std::memset(data_.get(), std::to_integer<int>(fill), size);
  }
  [[nodiscard]] auto data() const -> std::byte* { return data_.get(); }
  [[nodiscard]] auto size() const -> std::size_t { return size_; }
  [[nodiscard]] auto empty() const -> bool { return size_ == 0; }
  [[nodiscard]] auto begin() const -> std::byte* { return data_.get(); }
  [[nodiscard]] auto end() const -> std::byte* { return data_.get() + size_; }
  auto operator[](std::size_t i) const -> std::byte& { return data_[i]; }

 private:
  std::unique_ptr<std::byte[]> data_;  // NOLINT(*-avoid-c-arrays)
  std::size_t size_;
};

// --- the model -------------------------------------------------------------------------------------------------------

struct model_region {
  std::uint64_t start = 0;
  std::uint64_t size = 0;
  bool read_only = false;
  bool track_dirty = false;
  byte_buffer bytes;        // bytes[a - start]
  std::vector<bool> dirty;  // one flag per page of the region
  std::shared_ptr<const mem::guest_region> real;

  [[nodiscard]] auto last() const -> std::uint64_t { return start + (size - 1); }
  [[nodiscard]] auto contains(std::uint64_t a) const -> bool { return a >= start && a - start < size; }
  [[nodiscard]] auto host(std::uint64_t a) const -> std::byte* { return real->host_address() + (a - start); }
};

/// Whether [a, a + length) passes 2^64 (an empty range never does).
auto overflows(std::uint64_t a, std::uint64_t length) -> bool {
  return length != 0 && length - 1 > max_u64 - a;
}

/// The address `i` bytes after `a`. The model only calls it for offsets inside a range that does not overflow.
auto plus(std::uint64_t a, std::uint64_t i) -> std::uint64_t {
  return a + i;
}

class model {
 public:
  [[nodiscard]] auto count() const -> std::size_t { return regions_.size(); }
  auto regions() -> std::map<std::uint64_t, model_region>& { return regions_; }

  /// The region holding `a`, or nullptr.
  MODEL_CODE auto at(std::uint64_t a) -> model_region* {
    auto it = regions_.upper_bound(a);
    if (it == regions_.begin()) {
      return nullptr;
    }
    --it;
    return it->second.contains(a) ? &it->second : nullptr;
  }

  /// How many bytes from `a` (at most `length`) are mapped, and writable when `for_write`: byte by byte.
  MODEL_CODE auto prefix(std::uint64_t a, std::uint64_t length, bool for_write) -> std::uint64_t {
    std::uint64_t n = 0;
    const model_region* r = nullptr;
    while (n < length) {
      const std::uint64_t x = plus(a, n);
      if (r == nullptr || !r->contains(x)) {
        r = at(x);
      }
      if (r == nullptr || (for_write && r->read_only)) {
        break;
      }
      ++n;
      if (x == max_u64) {
        break;  // the last address: nothing follows it
      }
    }
    return n;
  }

  /// The region holding `a`, trying `hint` (the region of the previous byte) first.
  MODEL_CODE auto at(std::uint64_t a, model_region* hint) -> model_region* {
    return hint != nullptr && hint->contains(a) ? hint : at(a);
  }

  /// Stores `data` at `a` (every byte mapped) and marks the pages written dirty.
  void write(std::uint64_t a, std::span<const std::byte> data) {
    write_unmarked(a, data);
    mark_range(a, data.size());
  }

  /// Stores `data` at `a` without marking anything (a write made behind vmm.memory's back).
  MODEL_CODE void write_unmarked(std::uint64_t a, std::span<const std::byte> data) {
    model_region* r = nullptr;
    for (std::size_t i = 0; i < data.size(); ++i) {
      const std::uint64_t x = plus(a, i);
      r = at(x, r);
      r->bytes[x - r->start] = data[i];
    }
  }

  /// Marks the page of every mapped byte of [a, a + length) dirty, in the regions that track dirty pages.
  MODEL_CODE void mark_range(std::uint64_t a, std::uint64_t length) {
    model_region* r = nullptr;
    for (std::uint64_t i = 0; i < length; ++i) {
      const std::uint64_t x = plus(a, i);
      r = at(x, r);
      if (r != nullptr && r->track_dirty) {
        r->dirty[(x - r->start) / page] = true;
      }
    }
  }

  /// Whether [start, start + size) shares an address with a region.
  [[nodiscard]] auto overlaps(std::uint64_t start, std::uint64_t size) const -> bool {
    const std::uint64_t last = start + (size - 1);
    return std::ranges::any_of(regions_, [&](const auto& entry) {
      const auto& r = entry.second;
      return start <= r.last() && r.start <= last;
    });
  }

 private:
  std::map<std::uint64_t, model_region> regions_;
};

/// Bytes to write: a pattern from one input byte.
MODEL_CODE auto pattern(std::size_t length, std::uint8_t seed) -> byte_buffer {
  byte_buffer out(length);
  for (std::size_t i = 0; i < length; ++i) {
    out[i] = static_cast<std::byte>((seed + (i * 7U) + (i >> 8U)) & 0xffU);
  }
  return out;
}

// --- the fuzzer's state
// ------------------------------------------------------------------------------------------------

struct state {
  mem::guest_memory memory;
  model md;
  std::uint64_t low_cursor = 0;  // where the next "after the last one" region goes
};

/// Compares all of guest memory and every dirty bitmap with the model.
MODEL_CODE void verify(state& s) {
  check(s.memory.region_count() == s.md.count(), "region_count");
  std::uint64_t total = 0;
  auto real = s.memory.regions();
  std::size_t i = 0;
  for (auto& [start, r] : s.md.regions()) {
    total += r.size;
    check(i < real.size() && real[i].get() == r.real.get(), "regions() is not the model's regions in order");
    ++i;
    check(std::memcmp(r.real->host_address(), r.bytes.data(), r.bytes.size()) == 0,
          "guest memory of the region at {:#x} differs from the model", start);
    auto* bitmap = r.real->bitmap();
    if (!r.track_dirty) {
      check(bitmap == nullptr, "a region without dirty tracking has a bitmap");
      continue;
    }
    check(bitmap != nullptr && bitmap->page_count() == r.dirty.size(), "dirty bitmap size");
    for (std::uint64_t p = 0; p < r.dirty.size(); ++p) {
      check(bitmap->is_dirty(p) == r.dirty[p], "dirty bit of page {} of the region at {:#x}: model {}", p, start,
            static_cast<bool>(r.dirty[p]));
    }
  }
  check(s.memory.total_size() == total, "total_size");
}

// --- what the input chooses
// ----------------------------------------------------------------------------------------------

auto pick_address(input& in, model& md) -> std::uint64_t {
  const std::uint8_t how = in.u8();
  auto& regions = md.regions();
  if (!regions.empty() && how % 8 < 5) {
    auto it = regions.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(in.u8() % regions.size()));
    const auto& r = it->second;
    switch (how % 8) {
      case 0:
      case 1:  // anywhere from a page before the region to a page after it
        return r.start - page + (in.u16() % (r.size + 2 * page));
      case 2:  // just before its end (and across it)
        return r.start + r.size - 1 - (in.u8() % 32U);
      case 3:  // just before its start
        return r.start - 1 - (in.u8() % 32U);
      default:  // an aligned address inside
        return r.start + ((in.u16() % r.size) & ~std::uint64_t{7});
    }
  }
  switch (how % 4) {
    case 0:
      return max_u64 - in.u16();  // near 2^64
    case 1:
      return in.u64();
    default:
      return static_cast<std::uint64_t>(in.u16()) * 16;
  }
}

/// A length for an operation with a buffer (at most max_buffer).
auto pick_buffer_length(input& in) -> std::size_t {
  const std::uint8_t how = in.u8();
  switch (how % 4) {
    case 0:
      return how / 4U % 17U;  // 0 to 16
    case 1:
      return in.u8();
    default:
      return in.u16() % (max_buffer + 1);
  }
}

/// A length for an operation without a buffer: also huge ones.
auto pick_length(input& in) -> std::uint64_t {
  const std::uint8_t how = in.u8();
  switch (how % 8) {
    case 0:
      return in.u64();
    case 1:
      return max_u64 - in.u16();
    default:
      return in.u16() % (6 * page);
  }
}

auto pick_order_for_load(input& in) -> std::memory_order {
  constexpr std::array orders{std::memory_order_relaxed, std::memory_order_consume, std::memory_order_acquire,
                              std::memory_order_seq_cst};
  return orders[in.u8() % orders.size()];
}

auto pick_order_for_store(input& in) -> std::memory_order {
  constexpr std::array orders{std::memory_order_relaxed, std::memory_order_release, std::memory_order_seq_cst};
  return orders[in.u8() % orders.size()];
}

// --- regions ---------------------------------------------------------------------------------------------------------

struct region_plan {
  std::uint64_t start = 0;
  std::uint64_t size = 0;
  mem::region_options options;
};

auto plan_region(input& in, state& s) -> region_plan {
  const std::uint8_t flags = in.u8();
  const std::uint8_t where = in.u8();
  region_plan p;
  p.size = (in.u8() % (max_region_pages + 1)) * page;  // 0 pages: errc::zero_size
  p.options = {.read_only = (flags & 1U) != 0,
               .guard_pages = (flags & 2U) != 0,
               .track_dirty = (flags & 4U) != 0,
               .populate = (flags & 8U) != 0,
               .dont_dump = (flags & 16U) != 0};
  switch (where % 8) {
    case 0:
    case 1:
    case 2:  // after the previous one, adjacent or with a gap of one or two pages
      p.start = s.low_cursor + (where / 8U % 3U) * page;
      s.low_cursor = p.start + p.size;
      break;
    case 3:
    case 4:  // ending at 2^64, or running past it (errc::address_overflow)
      p.start = 0 - ((where / 8U % 6U) + 1) * page;
      break;
    case 5:  // on top of an existing region, or anywhere
      if (!s.md.regions().empty()) {
        auto it = s.md.regions().begin();
        std::advance(it, static_cast<std::ptrdiff_t>(where / 8U % s.md.count()));
        p.start = it->first + (in.u8() % 4U) * page - page;
      }
      break;
    default:
      p.start = static_cast<std::uint64_t>(in.u16()) * page;
      break;
  }
  if ((flags & 0xe0U) == 0xe0U) {
    p.start += 512;  // errc::unaligned_region
  }
  return p;
}

/// What guest_region::anonymous must answer for the plan.
auto expected_creation(const region_plan& p) -> std::optional<mem::errc> {
  if (p.size == 0) {
    return mem::errc::zero_size;
  }
  if (p.start % page != 0) {
    return mem::errc::unaligned_region;
  }
  if (overflows(p.start, p.size)) {
    return mem::errc::address_overflow;
  }
  return std::nullopt;
}

/// Makes the planned region, checking the outcome; the region when it was made.
auto make_region(const region_plan& p) -> std::shared_ptr<const mem::guest_region> {
  auto made = mem::guest_region::anonymous(mem::guest_address{p.start}, p.size, p.options);
  if (!made && made.error() == std::errc::not_enough_memory) {
    return nullptr;  // the host ran out of mappings: nothing to compare
  }
  check_outcome(made, expected_creation(p), "guest_region::anonymous");
  if (!made) {
    return nullptr;
  }
  const auto& r = **made;
  check(r.start().raw() == p.start && r.size() == p.size && r.read_only() == p.options.read_only &&
            (r.bitmap() != nullptr) == p.options.track_dirty && r.has_guard_pages() == p.options.guard_pages,
        "the new region's properties");
  return *made;
}

void add_to_model(model& md, const region_plan& p, std::shared_ptr<const mem::guest_region> real) {
  md.regions().emplace(p.start, model_region{.start = p.start,
                                             .size = p.size,
                                             .read_only = p.options.read_only,
                                             .track_dirty = p.options.track_dirty,
                                             .bytes = byte_buffer(p.size),
                                             .dirty = std::vector<bool>(p.size / page),
                                             .real = std::move(real)});
}

/// The initial layout: several regions given to guest_memory::create at once.
void build_layout(input& in, state& s) {
  s.low_cursor = static_cast<std::uint64_t>(in.u8()) * page;
  const std::size_t wanted = in.u8() % (max_regions + 1);
  std::vector<std::pair<region_plan, std::shared_ptr<const mem::guest_region>>> made;
  for (std::size_t i = 0; i < wanted; ++i) {
    const auto p = plan_region(in, s);
    if (auto r = make_region(p)) {
      made.emplace_back(p, std::move(r));
    }
  }
  bool overlap = false;
  for (std::size_t i = 0; i < made.size(); ++i) {
    for (std::size_t j = i + 1; j < made.size(); ++j) {
      const auto& a = made[i].first;
      const auto& b = made[j].first;
      overlap = overlap || (a.start <= b.start + (b.size - 1) && b.start <= a.start + (a.size - 1));
    }
  }
  std::vector<std::shared_ptr<const mem::guest_region>> all;
  for (const auto& [p, r] : made) {
    all.push_back(r);
  }
  auto created = mem::guest_memory::create(all);
  check_outcome(created, overlap ? std::optional{mem::errc::overlapping_regions} : std::nullopt,
                "guest_memory::create");
  if (created) {
    s.memory = std::move(*created);
    for (const auto& [p, r] : made) {
      add_to_model(s.md, p, r);
    }
    return;
  }
  // Overlapping: insert them one by one; each one that overlaps what is there already is refused.
  for (const auto& [p, r] : made) {
    auto next = s.memory.insert(r);
    const bool refused = s.md.overlaps(p.start, p.size);
    check_outcome(next, refused ? std::optional{mem::errc::overlapping_regions} : std::nullopt, "insert");
    if (next) {
      s.memory = std::move(*next);
      add_to_model(s.md, p, r);
    }
  }
}

void op_insert(input& in, state& s) {
  const auto p = plan_region(in, s);
  if (s.md.count() >= max_regions) {
    return;
  }
  auto r = make_region(p);
  if (r == nullptr) {
    return;
  }
  auto next = s.memory.insert(r);
  const bool refused = s.md.overlaps(p.start, p.size);
  check_outcome(next, refused ? std::optional{mem::errc::overlapping_regions} : std::nullopt, "insert");
  if (next) {
    s.memory = std::move(*next);
    add_to_model(s.md, p, std::move(r));
  }
}

void op_remove(input& in, state& s) {
  const std::uint8_t how = in.u8();
  std::uint64_t start = in.u64();
  std::uint64_t size = page;
  if (!s.md.regions().empty() && how % 4 != 0) {
    auto it = s.md.regions().begin();
    std::advance(it, static_cast<std::ptrdiff_t>(in.u8() % s.md.count()));
    start = it->first;
    size = it->second.size + (how % 4 == 3 ? page : 0);  // 3: the right start with the wrong size
  }
  auto removed = s.memory.remove(mem::guest_address{start}, size);
  const auto found = s.md.regions().find(start);
  const bool exists = found != s.md.regions().end() && found->second.size == size;
  check_outcome(removed, exists ? std::nullopt : std::optional{mem::errc::region_not_found}, "remove");
  if (removed) {
    check(removed->region.get() == found->second.real.get(), "remove returned another region");
    s.memory = std::move(removed->memory);
    s.md.regions().erase(found);
  }
}

// --- accesses
// ----------------------------------------------------------------------------------------------------------

/// The error a whole-range access (read_exact, write_all, get_slices, ...) must report, or nothing.
auto expected_range(model& md, std::uint64_t a, std::uint64_t length, bool for_write) -> std::optional<mem::errc> {
  if (length == 0) {
    return std::nullopt;
  }
  if (overflows(a, length)) {
    return mem::errc::address_overflow;
  }
  const auto covered = md.prefix(a, length, for_write);
  if (covered < length) {
    return md.at(plus(a, covered)) == nullptr ? mem::errc::out_of_range : mem::errc::read_only_region;
  }
  return std::nullopt;
}

MODEL_CODE void check_bytes(model& md, std::uint64_t a, std::span<const std::byte> got, std::string_view what) {
  model_region* r = nullptr;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const std::uint64_t x = plus(a, i);
    r = md.at(x, r);
    if (r == nullptr || got[i] != r->bytes[x - r->start]) {
      mismatch(std::format("{}: byte {} of {:#x} differs from the model", what, i, a));
    }
  }
}

MODEL_CODE void check_untouched(std::span<const std::byte> buffer, std::string_view what) {
  check(std::ranges::all_of(buffer, [](std::byte b) { return b == sentinel; }),
        "{}: the buffer was written where it must not be", what);
}

void op_read(input& in, state& s) {
  const auto a = pick_address(in, s.md);
  byte_buffer out(pick_buffer_length(in), sentinel);
  const auto got = s.memory.read(mem::guest_address{a}, out);
  std::optional<mem::errc> want;
  std::uint64_t n = 0;
  if (!out.empty()) {
    if (overflows(a, out.size())) {
      want = mem::errc::address_overflow;
    } else if (n = s.md.prefix(a, out.size(), false); n == 0) {
      want = mem::errc::out_of_range;
    }
  }
  check_outcome(got, want, "read");
  if (got) {
    check(*got == n, "read returned {}, the model says {}", *got, n);
    check_bytes(s.md, a, std::span{out}.first(n), "read");
    check_untouched(std::span{out}.subspan(n), "read");
  } else {
    check_untouched(out, "read");
  }
}

void op_write(input& in, state& s) {
  const auto a = pick_address(in, s.md);
  const auto data = pattern(pick_buffer_length(in), in.u8());
  const auto got = s.memory.write(mem::guest_address{a}, data);
  std::optional<mem::errc> want;
  std::uint64_t n = 0;
  if (!data.empty()) {
    if (overflows(a, data.size())) {
      want = mem::errc::address_overflow;
    } else if (n = s.md.prefix(a, data.size(), true); n == 0) {
      want = s.md.at(a) == nullptr ? mem::errc::out_of_range : mem::errc::read_only_region;
    }
  }
  check_outcome(got, want, "write");
  if (got) {
    check(*got == n, "write returned {}, the model says {}", *got, n);
    s.md.write(a, std::span{data}.first(n));
  }
}

void op_read_exact(input& in, state& s) {
  const auto a = pick_address(in, s.md);
  byte_buffer out(pick_buffer_length(in), sentinel);
  const auto got = s.memory.read_exact(mem::guest_address{a}, out);
  check_outcome(got, expected_range(s.md, a, out.size(), false), "read_exact");
  if (got) {
    check_bytes(s.md, a, out, "read_exact");
  } else {
    check_untouched(out, "read_exact");
  }
}

void op_write_all(input& in, state& s) {
  const auto a = pick_address(in, s.md);
  const auto data = pattern(pick_buffer_length(in), in.u8());
  const auto got = s.memory.write_all(mem::guest_address{a}, data);
  check_outcome(got, expected_range(s.md, a, data.size(), true), "write_all");
  if (got) {
    s.md.write(a, data);
  }
}

template <class T>
void read_obj_as(state& s, std::uint64_t a) {
  const auto got = s.memory.read_obj<T>(mem::guest_address{a});
  check_outcome(got, expected_range(s.md, a, sizeof(T), false), "read_obj");
  if (got) {
    const auto bytes = std::bit_cast<std::array<std::byte, sizeof(T)>>(*got);
    check_bytes(s.md, a, bytes, "read_obj");
  }
}

template <class T>
void write_obj_as(state& s, std::uint64_t a, std::uint8_t seed) {
  std::array<std::byte, sizeof(T)> bytes{};
  std::ranges::copy(pattern(sizeof(T), seed), bytes.begin());
  const auto value = std::bit_cast<T>(bytes);
  const auto got = s.memory.write_obj(mem::guest_address{a}, value);
  check_outcome(got, expected_range(s.md, a, sizeof(T), true), "write_obj");
  if (got) {
    s.md.write(a, bytes);
  }
}

void op_read_obj(input& in, state& s) {
  const std::uint8_t type = in.u8();
  const auto a = pick_address(in, s.md);
  switch (type % 6) {
    case 0:
      return read_obj_as<std::uint8_t>(s, a);
    case 1:
      return read_obj_as<std::uint16_t>(s, a);
    case 2:
      return read_obj_as<std::uint32_t>(s, a);
    case 3:
      return read_obj_as<std::uint64_t>(s, a);
    case 4:
      return read_obj_as<std::array<std::byte, 3>>(s, a);
    default:
      return read_obj_as<std::array<std::uint32_t, 24>>(s, a);
  }
}

void op_write_obj(input& in, state& s) {
  const std::uint8_t type = in.u8();
  const auto a = pick_address(in, s.md);
  const std::uint8_t seed = in.u8();
  switch (type % 6) {
    case 0:
      return write_obj_as<std::uint8_t>(s, a, seed);
    case 1:
      return write_obj_as<std::uint16_t>(s, a, seed);
    case 2:
      return write_obj_as<std::uint32_t>(s, a, seed);
    case 3:
      return write_obj_as<std::uint64_t>(s, a, seed);
    case 4:
      return write_obj_as<std::array<std::byte, 3>>(s, a, seed);
    default:
      return write_obj_as<std::array<std::uint32_t, 24>>(s, a, seed);
  }
}

/// What load and store of `width` bytes at `a` must report before the region's writability is looked at: an
/// unmapped first byte, then the alignment (only a misaligned object can straddle two page-aligned regions, so that
/// is the error named for one), then an object that runs out of its region.
auto expected_atomic(model& md, std::uint64_t a, std::uint64_t width) -> std::optional<mem::errc> {
  const auto* r = md.at(a);
  if (r == nullptr) {
    return mem::errc::out_of_range;
  }
  if (a % width != 0) {
    return mem::errc::misaligned_access;
  }
  if (width - 1 > r->last() - a) {
    return mem::errc::out_of_range;  // unreachable for page-aligned regions, checked all the same
  }
  return std::nullopt;
}

template <class T>
void load_as(input& in, state& s, std::uint64_t a) {
  const auto got = s.memory.load<T>(mem::guest_address{a}, pick_order_for_load(in));
  check_outcome(got, expected_atomic(s.md, a, sizeof(T)), "load");
  if (got) {
    check_bytes(s.md, a, std::bit_cast<std::array<std::byte, sizeof(T)>>(*got), "load");
  }
}

template <class T>
void store_as(input& in, state& s, std::uint64_t a) {
  std::array<std::byte, sizeof(T)> bytes{};
  std::ranges::copy(pattern(sizeof(T), in.u8()), bytes.begin());
  const auto got = s.memory.store<T>(mem::guest_address{a}, std::bit_cast<T>(bytes), pick_order_for_store(in));
  auto want = expected_atomic(s.md, a, sizeof(T));
  if (!want && s.md.at(a)->read_only) {
    want = mem::errc::read_only_region;
  }
  check_outcome(got, want, "store");
  if (got) {
    s.md.write(a, bytes);
  }
}

void op_load(input& in, state& s) {
  const std::uint8_t type = in.u8();
  const auto a = pick_address(in, s.md);
  switch (type % 5) {
    case 0:
      return load_as<std::uint8_t>(in, s, a);
    case 1:
      return load_as<std::uint16_t>(in, s, a);
    case 2:
      return load_as<std::uint32_t>(in, s, a);
    case 3:
      return load_as<std::uint64_t>(in, s, a);
    default:
      return load_as<mem::le16>(in, s, a);
  }
}

void op_store(input& in, state& s) {
  const std::uint8_t type = in.u8();
  const auto a = pick_address(in, s.md);
  switch (type % 5) {
    case 0:
      return store_as<std::uint8_t>(in, s, a);
    case 1:
      return store_as<std::uint16_t>(in, s, a);
    case 2:
      return store_as<std::uint32_t>(in, s, a);
    case 3:
      return store_as<std::uint64_t>(in, s, a);
    default:
      return store_as<mem::be32>(in, s, a);
  }
}

/// One operation on a slice of [a, a + slice.size()) that get_slice returned.
void slice_operation(input& in, state& s, const mem::volatile_slice& slice, std::uint64_t a) {
  const std::size_t size = slice.size();
  const std::uint8_t op = in.u8();
  const std::size_t offset = in.u16() % (size + 16);
  const bool writable = slice.writable();
  switch (op % 9) {
    case 0: {  // copy_to a buffer
      byte_buffer out(pick_buffer_length(in), sentinel);
      const auto n = slice.copy_to(out);
      check(n == std::min(size, out.size()), "volatile_slice::copy_to count");
      check_bytes(s.md, a, std::span{out}.first(n), "volatile_slice::copy_to");
      check_untouched(std::span{out}.subspan(n), "volatile_slice::copy_to");
      return;
    }
    case 1: {  // copy_from a buffer
      if (!writable) {
        return;
      }
      const auto data = pattern(pick_buffer_length(in), in.u8());
      const auto n = slice.copy_from(data);
      check(n == std::min(size, data.size()), "volatile_slice::copy_from count");
      s.md.write(a, std::span{data}.first(n));
      return;
    }
    case 2: {  // read_obj
      const auto got = slice.read_obj<std::uint32_t>(offset);
      const bool fits = offset <= size && 4 <= size - offset;
      check_outcome(got, fits ? std::nullopt : std::optional{mem::errc::out_of_range}, "volatile_slice::read_obj");
      if (got) {
        check_bytes(s.md, a + offset, std::bit_cast<std::array<std::byte, 4>>(*got), "volatile_slice::read_obj");
      }
      return;
    }
    case 3: {  // write_obj
      if (!writable) {
        return;
      }
      std::array<std::byte, 2> bytes{};
      std::ranges::copy(pattern(2, in.u8()), bytes.begin());
      const auto got = slice.write_obj(offset, std::bit_cast<std::uint16_t>(bytes));
      const bool fits = offset <= size && 2 <= size - offset;
      check_outcome(got, fits ? std::nullopt : std::optional{mem::errc::out_of_range}, "volatile_slice::write_obj");
      if (got) {
        s.md.write(a + offset, bytes);
      }
      return;
    }
    case 4: {  // load
      const auto got = slice.load<std::uint32_t>(offset, pick_order_for_load(in));
      std::optional<mem::errc> want;
      if (offset > size || 4 > size - offset) {
        want = mem::errc::out_of_range;
      } else if ((a + offset) % 4 != 0) {
        want = mem::errc::misaligned_access;
      }
      check_outcome(got, want, "volatile_slice::load");
      if (got) {
        check_bytes(s.md, a + offset, std::bit_cast<std::array<std::byte, 4>>(*got), "volatile_slice::load");
      }
      return;
    }
    case 5: {  // store
      if (!writable) {
        return;
      }
      std::array<std::byte, 8> bytes{};
      std::ranges::copy(pattern(8, in.u8()), bytes.begin());
      const auto got = slice.store(offset, std::bit_cast<std::uint64_t>(bytes), pick_order_for_store(in));
      std::optional<mem::errc> want;
      if (offset > size || 8 > size - offset) {
        want = mem::errc::out_of_range;
      } else if ((a + offset) % 8 != 0) {
        want = mem::errc::misaligned_access;
      }
      check_outcome(got, want, "volatile_slice::store");
      if (got) {
        s.md.write(a + offset, bytes);
      }
      return;
    }
    case 6: {  // fill
      if (!writable) {
        return;
      }
      const auto value = std::byte{in.u8()};
      slice.fill(value);
      s.md.write(a, byte_buffer(size, value));
      return;
    }
    case 7: {  // subslice, then read it
      const std::size_t length = (in.u8() % 2 == 0) ? in.u16() % (size + 16) : static_cast<std::size_t>(in.u64());
      const auto got = slice.subslice(offset, length);
      std::optional<mem::errc> want;
      if (offset > size) {
        want = mem::errc::out_of_range;
      } else if (length > size - offset) {
        want = offset + length < offset ? mem::errc::address_overflow : mem::errc::out_of_range;
      }
      check_outcome(got, want, "volatile_slice::subslice");
      if (got) {
        check(got->data() == slice.data() + offset && got->size() == length && got->writable() == writable,
              "volatile_slice::subslice view");
        byte_buffer out(length);
        check(got->copy_to(out) == length, "subslice copy_to count");
        check_bytes(s.md, a + offset, out, "volatile_slice::subslice");
      }
      return;
    }
    default: {  // a write through data() (as DMA would), then mark_dirty
      if (!writable) {
        return;
      }
      const std::size_t length = in.u16() % (size + 16);
      if (offset < size) {
        const std::size_t n = std::min(length, size - offset);
        const auto data = pattern(n, in.u8());
        std::memcpy(slice.data() + offset, data.data(), n);
        s.md.write_unmarked(a + offset, data);
        s.md.mark_range(a + offset, n);  // what mark_dirty must mark: the slice's part, nothing beyond it
      }
      slice.mark_dirty(offset, length);
      return;
    }
  }
}

void op_get_slice(input& in, state& s) {
  const auto a = pick_address(in, s.md);
  const auto length = pick_length(in);
  const auto mode = in.u8() % 2 == 0 ? mem::access::read : mem::access::write;
  const auto got = s.memory.get_slice(mem::guest_address{a}, length, mode);
  std::optional<mem::errc> want;
  const auto* r = s.md.at(a);
  if (length != 0 && overflows(a, length)) {
    want = mem::errc::address_overflow;
  } else if (r == nullptr) {
    want = mem::errc::out_of_range;
  } else if (length != 0 && length - 1 > r->last() - a) {
    want = s.md.prefix(a, length, false) == length ? mem::errc::crosses_region_boundary : mem::errc::out_of_range;
  } else if (mode == mem::access::write && r->read_only) {
    want = mem::errc::read_only_region;
  }
  check_outcome(got, want, "get_slice");
  if (got) {
    check(got->data() == r->host(a) && got->size() == length && got->writable() == (mode == mem::access::write),
          "get_slice view");
    slice_operation(in, s, *got, a);
  }
}

/// Checks that `pieces` (host base and length of each) cover [a, a + length) region by region, in order.
void check_pieces(model& md, std::uint64_t a, std::uint64_t length,
                  std::span<const std::pair<std::byte*, std::size_t>> pieces, std::string_view what) {
  std::uint64_t done = 0;
  for (const auto& [base, n] : pieces) {
    check(done < length, "{}: more pieces than the range needs", what);
    const std::uint64_t x = plus(a, done);
    const auto* r = md.at(x);
    const std::uint64_t expected = std::min(length - done, r->last() - x + 1);
    check(base == r->host(x) && n == expected, "{}: piece at {:#x} has the wrong base or length", what, x);
    check_bytes(md, x, std::span{base, n}, what);
    done += n;
  }
  check(done == length, "{}: the pieces do not cover the range", what);
}

void op_get_slices(input& in, state& s) {
  const auto a = pick_address(in, s.md);
  const auto length = pick_length(in);
  const auto mode = in.u8() % 2 == 0 ? mem::access::read : mem::access::write;
  const auto got = s.memory.get_slices(mem::guest_address{a}, length, mode);
  check_outcome(got, expected_range(s.md, a, length, mode == mem::access::write), "get_slices");
  if (got) {
    std::vector<std::pair<std::byte*, std::size_t>> pieces;
    for (const auto& slice : *got) {
      check(slice.writable() == (mode == mem::access::write), "get_slices: a slice's access mode");
      pieces.emplace_back(slice.data(), slice.size());
    }
    check_pieces(s.md, a, length, pieces, "get_slices");
    if (mode == mem::access::write && !got->empty() && in.u8() % 2 == 0) {
      // Write through the last slice: it must mark its own pages in its own region's bitmap.
      const auto& last = got->back();
      const auto data = pattern(last.size(), in.u8());
      check(last.copy_from(data) == last.size(), "get_slices: copy_from count");
      s.md.write(a + (length - last.size()), data);
    }
  }
}

void op_append_io_buffers(input& in, state& s) {
  const auto a = pick_address(in, s.md);
  const auto length = pick_length(in);
  const auto mode = in.u8() % 2 == 0 ? mem::access::read : mem::access::write;
  const std::uint8_t limits = in.u8();
  const std::size_t before = limits % 4U;
  const std::size_t max_buffers = limits / 4U % 8U == 7 ? vmm::sys::max_io_buffers : limits / 4U % 8U;
  std::array<std::byte, 8> dummy{};
  std::vector<vmm::sys::io_buffer> out(before, vmm::sys::io_buffer{.base = dummy.data(), .length = 7});
  const auto got = s.memory.append_io_buffers(mem::guest_address{a}, length, mode, out, max_buffers);
  auto want = expected_range(s.md, a, length, mode == mem::access::write);
  std::size_t count = 0;
  if (!want && length != 0) {
    for (std::uint64_t done = 0; done < length; ++count) {
      const std::uint64_t x = plus(a, done);
      done += std::min(length - done, s.md.at(x)->last() - x + 1);
    }
    if (before + count > max_buffers) {
      want = mem::errc::too_many_buffers;
    }
  }
  check_outcome(got, want, "append_io_buffers");
  for (std::size_t i = 0; i < std::min(before, out.size()); ++i) {
    check(out[i].base == dummy.data() && out[i].length == 7, "append_io_buffers changed an entry it found");
  }
  if (!got) {
    check(out.size() == before, "append_io_buffers left entries behind on failure");
    return;
  }
  check(out.size() == before + count, "append_io_buffers: number of buffers");
  std::vector<std::pair<std::byte*, std::size_t>> pieces;
  for (std::size_t i = before; i < out.size(); ++i) {
    pieces.emplace_back(static_cast<std::byte*>(out[i].base), out[i].length);
  }
  check_pieces(s.md, a, length, pieces, "append_io_buffers");
  if (mode == mem::access::write) {
    s.md.mark_range(a, length);  // marked up front: whoever fills the buffers cannot tell vmm.memory
  }
}

void op_mark_dirty(input& in, state& s) {
  const auto a = pick_address(in, s.md);
  const auto length = pick_length(in);
  const auto got = s.memory.mark_dirty(mem::guest_address{a}, length);
  check_outcome(got, expected_range(s.md, a, length, false), "mark_dirty");
  if (got) {
    s.md.mark_range(a, length);
  }
}

void op_query(input& in, state& s) {
  const auto a = pick_address(in, s.md);
  const auto length = pick_length(in);
  const auto* r = s.md.at(a);
  check(s.memory.contains(mem::guest_address{a}) == (r != nullptr), "contains");
  check(s.memory.find_region(mem::guest_address{a}) == (r != nullptr ? r->real.get() : nullptr), "find_region");
  const bool whole = length == 0 || (!overflows(a, length) && s.md.prefix(a, length, false) == length);
  check(s.memory.contains_range(mem::guest_address{a}, length) == whole, "contains_range");
}

void op_take_dirty(input& in, state& s) {
  if (s.md.regions().empty()) {
    return;
  }
  auto it = s.md.regions().begin();
  std::advance(it, static_cast<std::ptrdiff_t>(in.u8() % s.md.count()));
  auto& r = it->second;
  if (!r.track_dirty) {
    return;
  }
  const auto words = r.real->bitmap()->take();
  check(words.size() == (r.dirty.size() + 63) / 64, "take: word count");
  for (std::size_t p = 0; p < r.dirty.size(); ++p) {
    check(((words[p / 64] >> (p % 64)) & 1U) == static_cast<std::uint64_t>(r.dirty[p]), "take: a dirty bit");
  }
  std::ranges::fill(r.dirty, false);
}

}  // namespace

extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) -> int {
  input in{data, size};
  state s;
  build_layout(in, s);
  verify(s);
  for (int i = 0; i < max_operations && !in.empty(); ++i) {
    switch (in.u8() % 16) {
      case 0:
        op_read(in, s);
        break;
      case 1:
        op_write(in, s);
        break;
      case 2:
        op_read_exact(in, s);
        break;
      case 3:
        op_write_all(in, s);
        break;
      case 4:
        op_read_obj(in, s);
        break;
      case 5:
        op_write_obj(in, s);
        break;
      case 6:
        op_load(in, s);
        break;
      case 7:
        op_store(in, s);
        break;
      case 8:
      case 9:
        op_get_slice(in, s);
        break;
      case 10:
        op_get_slices(in, s);
        break;
      case 11:
        op_append_io_buffers(in, s);
        break;
      case 12:
        op_mark_dirty(in, s);
        break;
      case 13:
        op_query(in, s);
        break;
      case 14:
        op_take_dirty(in, s);
        break;
      default:
        if (in.u8() % 2 == 0) {
          op_insert(in, s);
        } else {
          op_remove(in, s);
        }
        break;
    }
    verify(s);
  }
  return 0;
}
