// vmm.virtio.queue: split_queue. The layout (virtio 1.x §2.7): the descriptor table (size × 16 bytes), the available
// ring (flags, idx, ring[size], used_event) and the used ring (flags, idx, ring[size] of {id, len}, avail_event).
//
// Every value read from the rings is read once, into a local, with one single-copy-atomic access (the indices with
// acquire, the descriptors as two 8-byte loads), so a guest that changes a ring while the device reads it cannot
// make two checks see two different values.
module vmm.virtio.queue;
import std;
import vmm.sys;
import vmm.memory;
import :walk;

namespace vmm::virtio::queue {
namespace {

using detail::at;

constexpr std::uint64_t ring_flags_offset = 0;
constexpr std::uint64_t ring_idx_offset = 2;
constexpr std::uint64_t ring_entries_offset = 4;
constexpr std::uint64_t used_element_size = 8;

/// Where a fast walk stopped: the chain ended (done), or `index` is the descriptor the checked walk takes next (one
/// that is not the plain case, or an index ≥ count that a NEXT named).
struct fast_stop {
  std::uint32_t index = 0;
  bool done = false;
};

/// How a phase of a fast walk ended: at a descriptor for the checked path (or a next index past the table), at the
/// chain's end, or (the readable phase) at the first writable descriptor.
enum class phase_end : std::uint8_t { checked, done, writable };

/// One phase of fast_walk: follows NEXT from byte offset `at` while each descriptor is plain and of the phase's
/// direction, adding its length to the phase's sum. `at` is left at the descriptor it stopped at (or the bad next).
template <bool Writable>
[[gnu::always_inline]] inline auto split_phase(std::byte* host, std::uint64_t end, std::uint64_t& at,
                                               detail::build_state& s) noexcept -> phase_end {
  for (;;) {
    const detail::raw_descriptor d = detail::descriptor_table::load(host + at);
    const std::uint16_t flags = d.word6;
    const auto kind = static_cast<std::uint16_t>(flags & (desc_f_indirect | desc_f_write));
    if (kind != (Writable ? desc_f_write : 0U)) [[unlikely]] {
      return !Writable && kind == desc_f_write ? phase_end::writable : phase_end::checked;
    }
    if (!s.try_add(d.addr, d.len, Writable)) [[unlikely]] {
      return phase_end::checked;
    }
    (Writable ? s.writable_bytes : s.readable_bytes) += d.len;
    if ((flags & desc_f_next) == 0) {
      return phase_end::done;
    }
    // No visited count: every descriptor visited was added, and the builder refuses the one after the limit-th
    // (errc::chain_too_long, on the checked path), so a loop ends there.
    at = std::uint64_t{d.word7} * descriptor_size;
    if (at >= end) [[unlikely]] {
      return phase_end::checked;
    }
  }
}

/// The hot loop of a split walk: follows NEXT from `index` through the `count` descriptors at `host` (a direct
/// table) while each is the plain case: not INDIRECT, and its buffer appended by build_state::try_add. Two phases,
/// the readable buffers and then the writable ones, so that the direction rule is where the code is (a readable
/// buffer in the second phase goes to the checked path, which refuses it) and each phase adds to one byte sum. Out
/// of line and without calls, with the state copied in and out, so that all of it lives in registers. Byte offsets
/// into the table rather than indices: the next descriptor's address is one shift and mask of the loaded word away,
/// the shortest dependency from one descriptor's load to the next.
[[gnu::noinline]] auto fast_walk(std::byte* host, std::uint32_t count, std::uint32_t index,
                                 detail::build_state& state) noexcept -> fast_stop {
  detail::build_state s = state;
  const std::uint64_t end = std::uint64_t{count} * descriptor_size;
  std::uint64_t at = std::uint64_t{index} * descriptor_size;
  phase_end e = phase_end::writable;
  if (s.readable_end == nullptr) {
    e = split_phase<false>(host, end, at, s);
  }
  if (e == phase_end::writable) {
    if (s.readable_end == nullptr) {
      s.readable_end = s.next;  // where the first writable buffer goes (here or on the checked path)
    }
    e = split_phase<true>(host, end, at, s);
  }
  state = s;
  return {.index = static_cast<std::uint32_t>(at / descriptor_size), .done = e == phase_end::done};
}

auto walk_indirect(detail::chain_builder& b, const detail::raw_descriptor& d, std::uint16_t queue_size) -> errc;

/// What the checked path made of one descriptor: its error, or whether it ended the chain, or the next index.
struct step {
  errc error{};
  bool done = false;
  std::uint32_t next = 0;
};

/// Descriptor `index` (< count) of `table`, the checked way. Nested: an entry of an indirect table (INDIRECT is
/// refused there); otherwise of the queue's table (INDIRECT allowed when `indirect`, without NEXT, and then the
/// indirect table ends the chain).
template <bool Direct, bool Nested>
auto checked_step(const detail::descriptor_table& table, detail::chain_builder& b, std::uint32_t count,
                  std::uint32_t index, bool indirect, std::uint16_t queue_size) -> step {
  detail::raw_descriptor d;
  if (!table.read<Direct>(index, d)) [[unlikely]] {
    return {.error = Nested ? errc::descriptor_out_of_memory : errc::ring_unreadable};
  }
  const std::uint16_t flags = d.word6;
  if ((flags & desc_f_indirect) != 0) {
    if constexpr (Nested) {
      return {.error = errc::nested_indirect};
    } else {
      if (!indirect) [[unlikely]] {
        return {.error = errc::indirect_not_negotiated};
      }
      if ((flags & desc_f_next) != 0) [[unlikely]] {
        return {.error = errc::indirect_with_next};
      }
      // An indirect descriptor ends the chain (it has no NEXT).
      return {.error = walk_indirect(b, d, queue_size), .done = true};
    }
  }
  if (auto e = b.add(d.addr, d.len, (flags & desc_f_write) != 0); e != errc{}) [[unlikely]] {
    return {.error = e};
  }
  if ((flags & desc_f_next) == 0) {
    return {.done = true};
  }
  // No visited count (see fast_walk): the builder's limit ends a loop, inside an indirect table too.
  if (d.word7 >= count) [[unlikely]] {
    return {.error = errc::next_out_of_range};
  }
  return {.next = d.word7};
}

/// Walks the `count` descriptors of `table` from `index` (< count) into `b`: the stretches of plain descriptors
/// through fast_walk when the table is Direct, every other descriptor through checked_step.
template <bool Direct, bool Nested>
auto walk_table(const detail::descriptor_table& table, detail::chain_builder& b, std::uint32_t count,
                std::uint32_t index, bool indirect, std::uint16_t queue_size) -> errc {
  for (;;) {
    if constexpr (Direct) {
      const fast_stop f = fast_walk(table.host(), count, index, b.state());
      if (f.done) {
        return errc{};
      }
      if (f.index >= count) [[unlikely]] {
        return errc::next_out_of_range;
      }
      index = f.index;
    }
    const step s = checked_step<Direct, Nested>(table, b, count, index, indirect, queue_size);
    if (s.error != errc{} || s.done) {
      return s.error;
    }
    index = s.next;
  }
}

/// Walks the indirect table of descriptor `d` into `b`: up to len / 16 descriptors linked by next from index 0.
auto walk_indirect(detail::chain_builder& b, const detail::raw_descriptor& d, std::uint16_t queue_size) -> errc {
  if (auto e = detail::check_indirect_length(d.len, queue_size); e != errc{}) {
    return e;
  }
  if (!b.contains(d.addr, d.len)) {
    return errc::descriptor_out_of_memory;
  }
  const std::uint32_t count = d.len / descriptor_size;
  const detail::descriptor_table table{b.memory(), memory::guest_address{d.addr}, count};
  return table.direct() ? walk_table<true, true>(table, b, count, 0, false, queue_size)
                        : walk_table<false, true>(table, b, count, 0, false, queue_size);
}

/// Walks the chain that starts at descriptor `head` (< size) of the table at `table_address` into `chain`, which
/// holds its buffers only when the walk succeeded.
auto walk_chain(const memory::guest_memory& memory, memory::guest_address table_address, std::uint16_t size,
                bool indirect, std::uint16_t head, descriptor_chain& chain) -> errc {
  const detail::descriptor_table table{memory, table_address, size};
  detail::chain_builder b{memory, chain, size, table.region()};
  const errc e = table.direct() ? walk_table<true, false>(table, b, size, head, indirect, size)
                                : walk_table<false, false>(table, b, size, head, indirect, size);
  if (e != errc{}) [[unlikely]] {
    return e;
  }
  b.finish();
  return errc{};
}

}  // namespace

auto split_queue::create(const queue_config& config, std::uint64_t features, const memory::guest_memory& memory)
    -> vmm::result<split_queue> {
  const std::uint16_t size = config.size;
  if (!config.ready || size == 0 || size > config.max_size || size > max_queue_size || !std::has_single_bit(size)) {
    return failure(errc::invalid_configuration);
  }
  if (!config.descriptor_area.is_aligned(desc_align) || !config.driver_area.is_aligned(avail_align) ||
      !config.device_area.is_aligned(used_align)) {
    return failure(errc::invalid_configuration);
  }
  if (!memory.contains_range(config.descriptor_area, descriptor_size * size) ||
      !memory.contains_range(config.driver_area, avail_ring_bytes(size)) ||
      !memory.contains_range(config.device_area, used_ring_bytes(size))) {
    return failure(errc::descriptor_out_of_memory);
  }
  split_queue q;
  q.desc_table_ = config.descriptor_area;
  q.avail_ring_ = config.driver_area;
  q.used_ring_ = config.device_area;
  q.size_ = size;
  q.event_idx_ = has_feature(features, feature::event_idx);
  q.indirect_ = has_feature(features, feature::indirect_desc);
  q.in_flight_.assign((std::size_t{size} + 63) / 64, 0);
  return q;
}

auto split_queue::pop(const memory::guest_memory& memory, descriptor_chain& chain) -> vmm::result<bool> {
  chain.reset({});
  if (broken_) [[unlikely]] {
    return failure(errc::queue_broken);
  }
  // The available ring in one region (the usual case) is read through one lookup; otherwise field by field,
  // through guest_memory, which reports an unreadable ring.
  const detail::ring_area avail{memory, avail_ring_, avail_ring_bytes(size_), false};
  std::optional<std::uint16_t> avail_idx;
  if (avail.valid()) [[likely]] {
    avail_idx = avail.load<std::uint16_t>(ring_idx_offset, std::memory_order_acquire);
  } else if (auto i = memory.load<std::uint16_t>(at(avail_ring_, ring_idx_offset), std::memory_order_acquire)) {
    avail_idx = *i;
  }
  if (!avail_idx) [[unlikely]] {
    broken_ = true;
    return failure(errc::ring_unreadable);
  }
  const auto pending = static_cast<std::uint16_t>(*avail_idx - next_avail_);
  if (pending == 0) {
    return false;
  }
  if (pending > size_) [[unlikely]] {
    broken_ = true;
    return failure(errc::queue_broken);
  }
  const std::uint64_t head_offset = ring_entries_offset + (2 * static_cast<std::uint64_t>(next_avail_ & (size_ - 1U)));
  std::optional<std::uint16_t> head;
  if (avail.valid()) [[likely]] {
    head = avail.load<std::uint16_t>(head_offset, std::memory_order_relaxed);
  } else if (auto h = memory.load<std::uint16_t>(at(avail_ring_, head_offset), std::memory_order_relaxed)) {
    head = *h;
  }
  if (!head) [[unlikely]] {
    broken_ = true;
    return failure(errc::ring_unreadable);
  }
  ++next_avail_;  // the entry is consumed whatever it holds
  auto drop = [&](errc e) -> vmm::result<bool> {
    chain.reset({});
    ++stats_.chains_dropped;
    stats_.last_error = e;
    return failure(e);
  };
  if (*head >= size_) [[unlikely]] {
    return drop(errc::head_out_of_range);
  }
  if (detail::test_bit(in_flight_, *head)) [[unlikely]] {
    // CVE-2026-45782: the driver offered a head the device still works on. Walking it again would hand the device
    // the same buffers twice, and returning it would complete the first request early: refuse it outright.
    ++stats_.duplicate_heads;
    return drop(errc::duplicate_head);
  }
  chain.reset({.id = *head, .slots = 1});
  if (const errc e = walk_chain(memory, desc_table_, size_, indirect_, *head, chain); e != errc{}) [[unlikely]] {
    if (e == errc::ring_unreadable) {
      broken_ = true;
      chain.reset({});
      return failure(e);
    }
    // The head is valid and ours: give it back with nothing written, so the driver can reuse its descriptors.
    const std::uint16_t used = next_used_;
    const auto element = at(used_ring_, ring_entries_offset + (used_element_size * (used & (size_ - 1U))));
    if (!memory.store<std::uint32_t>(element, *head, std::memory_order_relaxed) ||
        !memory.store<std::uint32_t>(at(element, 4), 0, std::memory_order_relaxed) ||
        !memory.store<std::uint16_t>(at(used_ring_, ring_idx_offset), static_cast<std::uint16_t>(used + 1U),
                                     std::memory_order_release)) {
      broken_ = true;
      chain.reset({});
      return failure(errc::ring_unreadable);
    }
    ++next_used_;
    ++stats_.used_added;
    return drop(e);
  }
  detail::set_bit(in_flight_, *head);
  ++in_flight_count_;
  ++stats_.chains_popped;
  return true;
}

auto split_queue::add_used(const memory::guest_memory& memory, chain_token token, std::uint32_t used_length)
    -> vmm::result<void> {
  if (token.id >= size_ || !detail::test_bit(in_flight_, token.id)) [[unlikely]] {
    return failure(errc::not_in_flight);
  }
  const std::uint16_t used = next_used_;
  const std::uint64_t element_offset = ring_entries_offset + (used_element_size * (used & (size_ - 1U)));
  if (const detail::ring_area area{memory, used_ring_, used_ring_bytes(size_), true}; area.valid()) [[likely]] {
    area.store<std::uint32_t>(element_offset, token.id, std::memory_order_relaxed);
    area.store<std::uint32_t>(element_offset + 4, used_length, std::memory_order_relaxed);
    area.store<std::uint16_t>(ring_idx_offset, static_cast<std::uint16_t>(used + 1U), std::memory_order_release);
  } else {
    const auto element = at(used_ring_, element_offset);
    if (!memory.store<std::uint32_t>(element, token.id, std::memory_order_relaxed) ||
        !memory.store<std::uint32_t>(at(element, 4), used_length, std::memory_order_relaxed) ||
        !memory.store<std::uint16_t>(at(used_ring_, ring_idx_offset), static_cast<std::uint16_t>(used + 1U),
                                     std::memory_order_release)) [[unlikely]] {
      broken_ = true;
      return failure(errc::ring_unreadable);
    }
  }
  detail::clear_bit(in_flight_, token.id);
  --in_flight_count_;
  ++next_used_;
  ++stats_.used_added;
  return {};
}

auto split_queue::needs_notification(const memory::guest_memory& memory) -> vmm::result<bool> {
  // The used index was published before; the driver's suppression field must be read after it (a full barrier:
  // otherwise the driver may read the old used index after we read its old used_event, and both sides sleep).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const std::uint16_t old = signalled_used_;
  const std::uint16_t now = next_used_;
  bool needed = false;
  if (event_idx_) {
    const auto used_event = memory.load<std::uint16_t>(
        at(avail_ring_, ring_entries_offset + (2 * std::uint64_t{size_})), std::memory_order_relaxed);
    if (!used_event) [[unlikely]] {
      return failure(errc::ring_unreadable);
    }
    // vring_need_event: notify when used_event lies in [old, now), all modulo 2^16.
    needed = static_cast<std::uint16_t>(now - *used_event - 1U) < static_cast<std::uint16_t>(now - old);
  } else {
    const auto flags = memory.load<std::uint16_t>(at(avail_ring_, ring_flags_offset), std::memory_order_relaxed);
    if (!flags) [[unlikely]] {
      return failure(errc::ring_unreadable);
    }
    needed = now != old && (*flags & avail_f_no_interrupt) == 0;
  }
  signalled_used_ = now;
  ++(needed ? stats_.notifications_needed : stats_.notifications_suppressed);
  return needed;
}

auto split_queue::enable_notification(const memory::guest_memory& memory) -> vmm::result<bool> {
  if (broken_) [[unlikely]] {
    return failure(errc::queue_broken);
  }
  const auto written =
      event_idx_ ? memory.store<std::uint16_t>(at(used_ring_, ring_entries_offset + (used_element_size * size_)),
                                               next_avail_, std::memory_order_relaxed)
                 : memory.store<std::uint16_t>(at(used_ring_, ring_flags_offset), 0, std::memory_order_relaxed);
  if (!written) [[unlikely]] {
    return failure(errc::ring_unreadable);
  }
  // The request must be visible before we look for chains again, or a chain made available in between is missed.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const auto avail_idx = memory.load<std::uint16_t>(at(avail_ring_, ring_idx_offset), std::memory_order_acquire);
  if (!avail_idx) [[unlikely]] {
    return failure(errc::ring_unreadable);
  }
  return *avail_idx != next_avail_;
}

auto split_queue::disable_notification(const memory::guest_memory& memory) -> vmm::result<void> {
  if (event_idx_) {
    return {};  // avail_event already lies behind: the driver does not notify until we move it
  }
  if (!memory.store<std::uint16_t>(at(used_ring_, ring_flags_offset), used_f_no_notify, std::memory_order_relaxed))
      [[unlikely]] {
    return failure(errc::ring_unreadable);
  }
  return {};
}

auto split_queue::pending(const memory::guest_memory& memory) const -> vmm::result<std::uint16_t> {
  const auto avail_idx = memory.load<std::uint16_t>(at(avail_ring_, ring_idx_offset), std::memory_order_acquire);
  if (!avail_idx) [[unlikely]] {
    return failure(errc::ring_unreadable);
  }
  const auto n = static_cast<std::uint16_t>(*avail_idx - next_avail_);
  return broken_ || n > size_ ? std::uint16_t{0} : n;
}

}  // namespace vmm::virtio::queue
