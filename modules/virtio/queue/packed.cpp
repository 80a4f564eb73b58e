// vmm.virtio.queue: packed_queue. The layout (virtio 1.x §2.8): one ring of size 16-byte descriptors {addr, len, id,
// flags}, and two 4-byte event suppression structures {off_wrap, flags}: the driver's (driver_area), read before
// an interrupt, and the device's (device_area), written to ask for or stop notifications.
//
// A descriptor is available when its AVAIL bit equals the driver's wrap counter and its USED bit does not. The
// driver writes a chain's first flags last, so the device reads those once, with acquire, and then the rest of the
// chain. A chain takes consecutive slots (wrapping at size, which flips the wrap counter) while NEXT is set; its
// buffer id is the last descriptor's. The device writes one used descriptor per chain at its used position (id,
// length, then flags with release) and moves that position by the chain's slot count.
module vmm.virtio.queue;
import std;
import vmm.sys;
import vmm.memory;
import :walk;

namespace vmm::virtio::queue {
namespace {

using detail::at;

constexpr std::uint64_t desc_len_offset = 8;
constexpr std::uint64_t desc_id_offset = 12;
constexpr std::uint64_t desc_flags_offset = 14;
constexpr std::uint64_t event_off_wrap_offset = 0;
constexpr std::uint64_t event_flags_offset = 2;
constexpr std::uint16_t event_flags_mask = 3;
constexpr std::uint16_t event_offset_mask = 0x7fff;

[[nodiscard]] auto is_available(std::uint16_t flags, bool wrap) noexcept -> bool {
  return ((flags & packed_desc_f_avail) != 0) == wrap && ((flags & packed_desc_f_used) != 0) != wrap;
}

/// Walks the packed indirect table of `d` into `b`: every one of its len / 16 entries, in order (NEXT and the
/// buffer id mean nothing there; INDIRECT is refused as nesting).
auto walk_indirect(detail::chain_builder& b, const detail::raw_descriptor& d, std::uint16_t queue_size) -> errc {
  if (auto e = detail::check_indirect_length(d.len, queue_size); e != errc{}) {
    return e;
  }
  if (!b.contains(d.addr, d.len)) {
    return errc::descriptor_out_of_memory;
  }
  const std::uint32_t count = d.len / descriptor_size;
  const detail::descriptor_table table{b.memory(), memory::guest_address{d.addr}, count};
  for (std::uint32_t i = 0; i < count; ++i) {
    detail::raw_descriptor entry;
    if (!table.read(i, entry)) [[unlikely]] {
      return errc::descriptor_out_of_memory;
    }
    const std::uint16_t flags = entry.word7;
    if ((flags & desc_f_indirect) != 0) [[unlikely]] {
      return errc::nested_indirect;
    }
    if (auto e = b.add(entry.addr, entry.len, (flags & desc_f_write) != 0); e != errc{}) [[unlikely]] {
      return e;
    }
  }
  return errc{};
}

/// Checks one ring descriptor (with `flags`, the value read once) and adds its buffer or table to `b`: the checked
/// path of the walk.
inline auto take_descriptor(detail::chain_builder& b, const detail::raw_descriptor& d, std::uint16_t flags,
                            bool indirect, std::uint16_t queue_size) -> errc {
  if ((flags & desc_f_indirect) != 0) {
    if (!indirect) [[unlikely]] {
      return errc::indirect_not_negotiated;
    }
    if ((flags & desc_f_next) != 0) [[unlikely]] {
      return errc::indirect_with_next;
    }
    return walk_indirect(b, d, queue_size);
  }
  return b.add(d.addr, d.len, (flags & desc_f_write) != 0);
}

/// What walking one chain of the ring found: its first error (errc{} when none), its buffer id (when it ended
/// within size slots), the slots it took, and the position and wrap counter after it.
struct ring_walk {
  errc error{};
  std::optional<std::uint16_t> id;
  std::uint16_t slots = 0;
  std::uint16_t position = 0;
  bool wrap = false;
  bool readable = true;  // false: a ring slot could not be read (the ring left guest memory)
};

/// The queue properties a walk needs.
struct ring_shape {
  std::uint16_t size = 0;
  bool indirect = false;
};

/// The walk's result once it stopped at `slots` slots from `start` (≤ size, so the position wraps at most once).
[[nodiscard]] auto walk_result(ring_shape shape, std::uint16_t start, bool wrap, std::uint32_t slots) noexcept
    -> ring_walk {
  std::uint32_t position = std::uint32_t{start} + slots;
  if (position >= shape.size) {
    position -= shape.size;
    wrap = !wrap;
  }
  ring_walk w;
  w.slots = static_cast<std::uint16_t>(slots);
  w.position = static_cast<std::uint16_t>(position);
  w.wrap = wrap;
  return w;
}

/// After a checked walk stopped with `error` at the descriptor in slot `slot` (its flags `flags`, `taken` slots so
/// far, that one included): follows NEXT without checks to find the chain's end and buffer id, so that its slots
/// are consumed and the id returned. Out of line: the rare path.
[[nodiscard, gnu::noinline]] auto skip_rest(detail::descriptor_table ring, ring_shape shape, std::uint16_t start,
                                            bool wrap, std::uint32_t slot, std::uint32_t taken, std::uint16_t flags,
                                            std::uint16_t id, errc error) noexcept -> ring_walk {
  while ((flags & desc_f_next) != 0 && taken < shape.size) {
    slot = slot + 1 == shape.size ? 0 : slot + 1;
    detail::raw_descriptor d;
    if (!ring.read(slot, d)) {
      ring_walk w = walk_result(shape, start, wrap, taken);
      w.readable = false;
      return w;
    }
    ++taken;
    flags = d.word7;
    id = d.word6;
  }
  ring_walk w = walk_result(shape, start, wrap, taken);
  w.error = error;
  if ((flags & desc_f_next) == 0) {
    w.id = id;
  }
  return w;
}

/// Where a walk is in a ring read through its host pointer: the current slot's address, and the end of the run of
/// slots it can take before the ring wraps (or before it is back at its start, size slots later): the two values
/// fast_walk's loop needs, one comparison a slot. The others are for the two rare events, wrapping and the end.
class direct_cursor {
 public:
  inline direct_cursor(const detail::descriptor_table& ring, ring_shape shape, std::uint16_t start) noexcept
      : base_{ring.host()},
        slot_{base_ + (std::size_t{start} * descriptor_size)},
        run_end_{base_ + (std::size_t{shape.size} * descriptor_size)},
        start_{start},
        size_{shape.size} {}

  /// Reads the current slot's descriptor (always readable: the ring lies in one region).
  [[nodiscard, gnu::always_inline]] inline auto read(detail::raw_descriptor& d) const noexcept -> bool {
    d = detail::descriptor_table::load(slot_);
    return true;
  }
  /// Moves to the next slot; false when the walk has taken all size slots.
  [[nodiscard, gnu::always_inline]] inline auto advance() noexcept -> bool {
    slot_ += descriptor_size;
    if (slot_ == run_end_) [[unlikely]] {
      return wrap_around();
    }
    return true;
  }
  /// The current slot's index.
  [[nodiscard]] inline auto slot() const noexcept -> std::uint32_t {
    return static_cast<std::uint32_t>(static_cast<std::size_t>(slot_ - base_) / descriptor_size);
  }
  /// The slots taken, the current one included.
  [[nodiscard]] inline auto taken() const noexcept -> std::uint32_t {
    return (wrapped_ ? size_ - start_ + slot() : slot() - start_) + 1;
  }
  /// The current slot's host address, and the end of the current run (for fast_walk).
  [[nodiscard]] inline auto address() const noexcept -> std::byte* { return slot_; }
  [[nodiscard]] inline auto run_end() const noexcept -> std::byte* { return run_end_; }
  /// Moves to `slot`, a slot of the current run (where fast_walk stopped).
  inline void move_to(std::byte* slot) noexcept { slot_ = slot; }
  static constexpr bool direct = true;

 private:
  inline auto wrap_around() noexcept -> bool {
    if (wrapped_ || start_ == 0) {
      return false;  // the run that ended was the last one: size slots taken
    }
    wrapped_ = true;
    slot_ = base_;
    run_end_ = base_ + (std::size_t{start_} * descriptor_size);
    return true;
  }

  std::byte* base_;
  std::byte* slot_;
  std::byte* run_end_;
  std::uint32_t start_;
  std::uint32_t size_;
  bool wrapped_ = false;
};

/// Where a walk is in a ring read through guest_memory (one that straddles regions): the slot index and the slots
/// taken.
class indexed_cursor {
 public:
  inline indexed_cursor(const detail::descriptor_table& ring, ring_shape shape, std::uint16_t start) noexcept
      : ring_{&ring}, slot_{start}, size_{shape.size} {}

  [[nodiscard]] inline auto read(detail::raw_descriptor& d) const noexcept -> bool { return ring_->read(slot_, d); }
  [[nodiscard]] inline auto advance() noexcept -> bool {
    if (taken_ == size_) {
      return false;
    }
    slot_ = slot_ + 1 == size_ ? 0 : slot_ + 1;
    ++taken_;
    return true;
  }
  [[nodiscard]] inline auto slot() const noexcept -> std::uint32_t { return slot_; }
  [[nodiscard]] inline auto taken() const noexcept -> std::uint32_t { return taken_; }
  static constexpr bool direct = false;

 private:
  const detail::descriptor_table* ring_;
  std::uint32_t slot_;
  std::uint32_t size_;
  std::uint32_t taken_ = 1;
};

/// Where a fast walk stopped: at `slot`, the chain's last descriptor (done, with its buffer id), a descriptor that
/// is not the plain case, or the end of the run (slot == the run's end: the cursor wraps or the ring is used up).
struct fast_stop {
  std::byte* slot = nullptr;
  bool done = false;
  std::uint16_t id = 0;
};

/// How a phase of a fast walk ended: at a descriptor for the checked path (or the run's end), at the chain's end,
/// or (the readable phase) at the first writable descriptor.
enum class phase_end : std::uint8_t { checked, done, writable };

/// One phase of fast_walk: takes consecutive slots from `slot` up to `run_end` while each descriptor is plain and of
/// the phase's direction, adding its length to the phase's sum. `slot` is left where it stopped; `id` is the buffer
/// id when the chain ended.
template <bool Writable>
[[gnu::always_inline]] inline auto packed_phase(std::byte*& slot, std::byte* run_end, detail::build_state& s,
                                                std::uint16_t& id) noexcept -> phase_end {
  for (;;) {
    const detail::raw_descriptor d = detail::descriptor_table::load(slot);
    const std::uint16_t flags = d.word7;
    const auto kind = static_cast<std::uint16_t>(flags & (desc_f_indirect | desc_f_write));
    if (kind != (Writable ? desc_f_write : 0U)) [[unlikely]] {
      return !Writable && kind == desc_f_write ? phase_end::writable : phase_end::checked;
    }
    if (!s.try_add(d.addr, d.len, Writable)) [[unlikely]] {
      return phase_end::checked;
    }
    (Writable ? s.writable_bytes : s.readable_bytes) += d.len;
    if ((flags & desc_f_next) == 0) {
      id = d.word6;
      return phase_end::done;
    }
    slot += descriptor_size;
    if (slot == run_end) [[unlikely]] {
      return phase_end::checked;
    }
  }
}

/// The hot loop of a packed walk: takes consecutive slots from `slot` up to `run_end` while each is the plain case:
/// not INDIRECT, and its buffer appended by build_state::try_add. Two phases, the readable buffers and then the
/// writable ones, as in the split walk (the direction rule is where the code is; one byte sum a phase). Out of line
/// and without calls, with the state copied in and out, so that all of it lives in registers.
[[gnu::noinline]] auto fast_walk(std::byte* slot, std::byte* run_end, detail::build_state& state) noexcept
    -> fast_stop {
  detail::build_state s = state;
  std::uint16_t id = 0;
  phase_end e = phase_end::writable;
  if (s.readable_end == nullptr) {
    e = packed_phase<false>(slot, run_end, s, id);
  }
  if (e == phase_end::writable) {
    if (s.readable_end == nullptr) {
      s.readable_end = s.next;  // where the first writable buffer goes (here or on the checked path)
    }
    e = packed_phase<true>(slot, run_end, s, id);
  }
  state = s;
  return {.slot = slot, .done = e == phase_end::done, .id = id};
}

/// Walks the chain whose head is at `start` (its flags, read once with acquire, are `head_flags`) into `b`: at
/// most size slots, since a chain that still has NEXT after the whole ring is a loop. The head, and whatever is not
/// the plain case, take the checked path one descriptor at a time; with a direct ring the stretches of plain
/// descriptors between go to fast_walk. The position and wrap counter after the chain are computed from the slots
/// taken, at the end.
template <class Cursor>
[[gnu::always_inline]] inline auto walk_ring(const detail::descriptor_table& ring, detail::chain_builder& b,
                                             ring_shape shape, std::uint16_t start, bool wrap, std::uint16_t head_flags)
    -> ring_walk {
  Cursor cursor{ring, shape, start};
  std::uint16_t flags = head_flags;
  detail::raw_descriptor d;
  if (!cursor.read(d)) [[unlikely]] {
    ring_walk w = walk_result(shape, start, wrap, 0);
    w.readable = false;
    return w;
  }
  for (;;) {
    if (const errc e = take_descriptor(b, d, flags, shape.indirect, shape.size); e != errc{}) [[unlikely]] {
      return skip_rest(ring, shape, start, wrap, cursor.slot(), cursor.taken(), flags, d.word6, e);
    }
    if ((flags & desc_f_next) == 0) {
      ring_walk w = walk_result(shape, start, wrap, cursor.taken());
      w.id = d.word6;
      return w;
    }
    for (;;) {
      if (!cursor.advance()) [[unlikely]] {
        return walk_result(shape, start, wrap, shape.size);  // NEXT after the whole ring: a loop, no end, no id
      }
      if constexpr (Cursor::direct) {
        const fast_stop f = fast_walk(cursor.address(), cursor.run_end(), b.state());
        if (f.slot == cursor.run_end()) [[unlikely]] {
          cursor.move_to(f.slot - descriptor_size);  // the run's last slot, taken, with NEXT: advance past it
          continue;
        }
        cursor.move_to(f.slot);
        if (f.done) {
          ring_walk w = walk_result(shape, start, wrap, cursor.taken());
          w.id = f.id;
          return w;
        }
      }
      break;
    }
    if (!cursor.read(d)) [[unlikely]] {
      ring_walk w = walk_result(shape, start, wrap, cursor.taken() - 1);
      w.readable = false;
      return w;
    }
    flags = d.word7;  // the head's flags are the value read with acquire
  }
}

/// The walk of the chain at `start` into `chain`, which holds its buffers only when the walk succeeded (found no
/// error and an id). Out of line: pop's registers and the walk's are kept apart.
[[gnu::noinline]] auto walk_chain(const memory::guest_memory& memory, memory::guest_address ring_address,
                                  ring_shape shape, std::uint16_t start, bool wrap, std::uint16_t head_flags,
                                  descriptor_chain& chain) -> ring_walk {
  const detail::descriptor_table ring{memory, ring_address, shape.size};
  detail::chain_builder b{memory, chain, shape.size, ring.region()};
  ring_walk w = ring.direct() ? walk_ring<direct_cursor>(ring, b, shape, start, wrap, head_flags)
                              : walk_ring<indexed_cursor>(ring, b, shape, start, wrap, head_flags);
  if (w.error == errc{} && w.id) [[likely]] {
    b.finish();
  }
  return w;
}

}  // namespace

auto packed_queue::create(const queue_config& config, std::uint64_t features, const memory::guest_memory& memory)
    -> vmm::result<packed_queue> {
  const std::uint16_t size = config.size;
  if (!config.ready || size == 0 || size > config.max_size || size > max_queue_size) {
    return failure(errc::invalid_configuration);
  }
  if (!config.descriptor_area.is_aligned(desc_align) || !config.driver_area.is_aligned(packed_event_align) ||
      !config.device_area.is_aligned(packed_event_align)) {
    return failure(errc::invalid_configuration);
  }
  if (!memory.contains_range(config.descriptor_area, descriptor_size * size) ||
      !memory.contains_range(config.driver_area, 4) || !memory.contains_range(config.device_area, 4)) {
    return failure(errc::descriptor_out_of_memory);
  }
  packed_queue q;
  q.ring_ = config.descriptor_area;
  q.driver_event_ = config.driver_area;
  q.device_event_ = config.device_area;
  q.size_ = size;
  q.event_idx_ = has_feature(features, feature::event_idx);
  q.indirect_ = has_feature(features, feature::indirect_desc);
  q.in_flight_.assign((std::size_t{size} + 63) / 64, 0);
  return q;
}

auto packed_queue::pop(const memory::guest_memory& memory, descriptor_chain& chain) -> vmm::result<bool> {
  chain.reset({});
  if (broken_) [[unlikely]] {
    return failure(errc::queue_broken);
  }
  const auto head_flags = memory.load<std::uint16_t>(at(ring_, (descriptor_size * next_avail_) + desc_flags_offset),
                                                     std::memory_order_acquire);
  if (!head_flags) [[unlikely]] {
    broken_ = true;
    return failure(errc::ring_unreadable);
  }
  if (!is_available(*head_flags, avail_wrap_)) {
    return false;
  }
  const ring_walk w =
      walk_chain(memory, ring_, {.size = size_, .indirect = indirect_}, next_avail_, avail_wrap_, *head_flags, chain);
  if (!w.readable) [[unlikely]] {
    broken_ = true;
    chain.reset({});
    return failure(errc::ring_unreadable);
  }
  const std::uint16_t slots = w.slots;
  const std::optional<std::uint16_t> id = w.id;
  const errc error = w.error;
  next_avail_ = w.position;  // the slots are consumed whatever they held
  avail_wrap_ = w.wrap;
  auto drop = [&](errc e) -> vmm::result<bool> {
    chain.reset({});
    ++stats_.chains_dropped;
    stats_.last_error = e;
    return failure(e);
  };
  if (!id) [[unlikely]] {
    return drop(error == errc{} ? errc::chain_too_long : error);  // no end, so no buffer id to return
  }
  if (*id >= size_) [[unlikely]] {
    return drop(errc::head_out_of_range);
  }
  if (detail::test_bit(in_flight_, *id)) [[unlikely]] {
    // CVE-2026-45782 in the packed layout: a buffer id the device still works on. Not processed, not returned.
    ++stats_.duplicate_heads;
    return drop(errc::duplicate_head);
  }
  if (error != errc{}) [[unlikely]] {
    // A valid id: give the buffer back with nothing written, its slots with it.
    detail::set_bit(in_flight_, *id);
    ++in_flight_count_;
    if (auto r = add_used(memory, {.id = *id, .slots = slots}, 0); !r) {
      chain.reset({});
      return std::unexpected(r.error());
    }
    return drop(error);
  }
  chain.set_token({.id = *id, .slots = slots});
  detail::set_bit(in_flight_, *id);
  ++in_flight_count_;
  ++stats_.chains_popped;
  return true;
}

auto packed_queue::add_used(const memory::guest_memory& memory, chain_token token, std::uint32_t used_length)
    -> vmm::result<void> {
  if (token.id >= size_ || !detail::test_bit(in_flight_, token.id) || token.slots == 0 || token.slots > size_)
      [[unlikely]] {
    return failure(errc::not_in_flight);
  }
  const std::uint64_t slot_offset = descriptor_size * next_used_;
  const std::uint16_t flags = used_wrap_ ? static_cast<std::uint16_t>(packed_desc_f_avail | packed_desc_f_used) : 0;
  if (const detail::ring_area area{memory, ring_, descriptor_size * size_, true}; area.valid()) [[likely]] {
    area.store<std::uint32_t>(slot_offset + desc_len_offset, used_length, std::memory_order_relaxed);
    area.store<std::uint16_t>(slot_offset + desc_id_offset, token.id, std::memory_order_relaxed);
    area.store<std::uint16_t>(slot_offset + desc_flags_offset, flags, std::memory_order_release);
  } else {
    const auto slot = at(ring_, slot_offset);
    if (!memory.store<std::uint32_t>(at(slot, desc_len_offset), used_length, std::memory_order_relaxed) ||
        !memory.store<std::uint16_t>(at(slot, desc_id_offset), token.id, std::memory_order_relaxed) ||
        !memory.store<std::uint16_t>(at(slot, desc_flags_offset), flags, std::memory_order_release)) [[unlikely]] {
      broken_ = true;
      return failure(errc::ring_unreadable);
    }
  }
  detail::clear_bit(in_flight_, token.id);
  --in_flight_count_;
  const std::uint32_t next = std::uint32_t{next_used_} + token.slots;
  if (next >= size_) {
    next_used_ = static_cast<std::uint16_t>(next - size_);
    used_wrap_ = !used_wrap_;
  } else {
    next_used_ = static_cast<std::uint16_t>(next);
  }
  ++stats_.used_added;
  return {};
}

auto packed_queue::needs_notification(const memory::guest_memory& memory) -> vmm::result<bool> {
  // As the split queue: the used descriptors were published; read the driver's wish only after them.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const auto event_flags = memory.load<std::uint16_t>(at(driver_event_, event_flags_offset), std::memory_order_relaxed);
  const auto off_wrap = memory.load<std::uint16_t>(at(driver_event_, event_off_wrap_offset), std::memory_order_relaxed);
  if (!event_flags || !off_wrap) [[unlikely]] {
    return failure(errc::ring_unreadable);
  }
  const bool moved = next_used_ != signalled_used_ || used_wrap_ != signalled_used_wrap_;
  bool needed = false;
  switch (*event_flags & event_flags_mask) {
    case packed_event_flag_disable:
      needed = false;
      break;
    case packed_event_flag_desc:
      if (event_idx_) {
        // Linearise both positions against the current used wrap counter: one that belongs to the other lap lies a
        // ring's length behind. Then vring_need_event's test (event in [old, now)) holds modulo 2^16, since every
        // value lies in [-size, size) and size ≤ 32768.
        const auto lap = [&](std::uint16_t position, bool wrap) {
          return static_cast<std::uint16_t>(wrap == used_wrap_ ? position : position - size_);
        };
        const std::uint16_t event =
            lap(static_cast<std::uint16_t>(*off_wrap & event_offset_mask), (*off_wrap >> packed_event_wrap_shift) != 0);
        const std::uint16_t old = lap(signalled_used_, signalled_used_wrap_);
        const std::uint16_t now = next_used_;
        needed = static_cast<std::uint16_t>(now - event - 1U) < static_cast<std::uint16_t>(now - old);
        break;
      }
      needed = moved;  // DESC without EVENT_IDX is the driver's mistake: notify rather than risk a missed one
      break;
    default:  // ENABLE, and the reserved value 3 (treated as ENABLE for the same reason)
      needed = moved;
      break;
  }
  signalled_used_ = next_used_;
  signalled_used_wrap_ = used_wrap_;
  ++(needed ? stats_.notifications_needed : stats_.notifications_suppressed);
  return needed;
}

auto packed_queue::enable_notification(const memory::guest_memory& memory) -> vmm::result<bool> {
  if (broken_) [[unlikely]] {
    return failure(errc::queue_broken);
  }
  bool written = true;
  if (event_idx_) {
    const auto off_wrap = static_cast<std::uint16_t>(next_avail_ | (avail_wrap_ ? 1U << packed_event_wrap_shift : 0U));
    written = memory.store<std::uint16_t>(at(device_event_, event_off_wrap_offset), off_wrap, std::memory_order_relaxed)
                  .has_value();
  }
  written = written && memory
                           .store<std::uint16_t>(at(device_event_, event_flags_offset),
                                                 event_idx_ ? packed_event_flag_desc : packed_event_flag_enable,
                                                 std::memory_order_release)
                           .has_value();
  if (!written) [[unlikely]] {
    return failure(errc::ring_unreadable);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const auto flags = memory.load<std::uint16_t>(at(ring_, (descriptor_size * next_avail_) + desc_flags_offset),
                                                std::memory_order_acquire);
  if (!flags) [[unlikely]] {
    return failure(errc::ring_unreadable);
  }
  return is_available(*flags, avail_wrap_);
}

auto packed_queue::disable_notification(const memory::guest_memory& memory) -> vmm::result<void> {
  if (!memory.store<std::uint16_t>(at(device_event_, event_flags_offset), packed_event_flag_disable,
                                   std::memory_order_relaxed)) [[unlikely]] {
    return failure(errc::ring_unreadable);
  }
  return {};
}

}  // namespace vmm::virtio::queue
