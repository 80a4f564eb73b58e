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

/// Walks the indirect table of descriptor `d` into `b`: up to len / 16 descriptors linked by next from index 0.
/// Inlined into the walk, like everything it does: `b` must stay in registers (see chain_builder).
[[gnu::always_inline]] inline auto walk_indirect(detail::chain_builder& b, const detail::raw_descriptor& d,
                                                 std::uint16_t queue_size) -> errc {
  if (auto e = detail::check_indirect_length(d.len, queue_size); e != errc{}) {
    return e;
  }
  if (!b.contains(d.addr, d.len)) {
    return errc::descriptor_out_of_memory;
  }
  const std::uint32_t count = d.len / descriptor_size;
  const detail::descriptor_table table{b.memory(), memory::guest_address{d.addr}, count};
  std::uint32_t index = 0;
  for (std::uint32_t visited = 1;; ++visited) {
    detail::raw_descriptor entry;
    if (!table.read(index, entry)) [[unlikely]] {
      return errc::descriptor_out_of_memory;
    }
    const std::uint16_t flags = entry.word6;
    if ((flags & desc_f_indirect) != 0) [[unlikely]] {
      return errc::nested_indirect;
    }
    if (auto e = b.add(entry.addr, entry.len, (flags & desc_f_write) != 0); e != errc{}) [[unlikely]] {
      return e;
    }
    if ((flags & desc_f_next) == 0) {
      return errc{};
    }
    if (visited == count) [[unlikely]] {
      return errc::chain_too_long;  // more links than entries: a loop inside the table
    }
    if (entry.word7 >= count) [[unlikely]] {
      return errc::next_out_of_range;
    }
    index = entry.word7;
  }
}

/// The walk of the chain that starts at descriptor `head` (< size) of `table` into `b`. Direct: the table was found
/// readable through its host pointer (the common case gets a loop without the other path's test and registers).
template <bool Direct>
[[gnu::always_inline]] inline auto walk_descriptors(const detail::descriptor_table& table, detail::chain_builder& b,
                                                    std::uint16_t size, bool indirect, std::uint16_t head) -> errc {
  std::uint32_t index = head;
  for (;;) {
    detail::raw_descriptor d;
    if (!table.read<Direct>(index, d)) [[unlikely]] {
      return errc::ring_unreadable;
    }
    const std::uint16_t flags = d.word6;
    if ((flags & desc_f_indirect) != 0) {
      if (!indirect) [[unlikely]] {
        return errc::indirect_not_negotiated;
      }
      if ((flags & desc_f_next) != 0) [[unlikely]] {
        return errc::indirect_with_next;
      }
      return walk_indirect(b, d, size);  // an indirect descriptor ends the chain (it has no NEXT)
    }
    if (auto e = b.add(d.addr, d.len, (flags & desc_f_write) != 0); e != errc{}) [[unlikely]] {
      return e;
    }
    if ((flags & desc_f_next) == 0) {
      return errc{};
    }
    // No visited count: every descriptor visited was added, and the builder refuses the one after the size-th
    // (errc::chain_too_long), so a loop ends there. A chain of size distinct descriptors that still has NEXT revisits
    // one.
    if (d.word7 >= size) [[unlikely]] {
      return errc::next_out_of_range;
    }
    index = d.word7;
  }
}

/// Walks the chain that starts at descriptor `head` (< size) of the table at `table_address` into `chain`, which
/// holds its buffers only when the walk succeeded.
auto walk_chain(const memory::guest_memory& memory, memory::guest_address table_address, std::uint16_t size,
                bool indirect, std::uint16_t head, descriptor_chain& chain) -> errc {
  const detail::descriptor_table table{memory, table_address, size};
  detail::chain_builder b{memory, chain, size, table.region()};
  const errc e = table.direct() ? walk_descriptors<true>(table, b, size, indirect, head)
                                : walk_descriptors<false>(table, b, size, indirect, head);
  if (e == errc{}) [[likely]] {
    b.finish();
  }
  return e;
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
  const auto avail_idx = memory.load<std::uint16_t>(at(avail_ring_, ring_idx_offset), std::memory_order_acquire);
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
  const auto slot = static_cast<std::uint64_t>(next_avail_ & (size_ - 1U));
  const auto head =
      memory.load<std::uint16_t>(at(avail_ring_, ring_entries_offset + (2 * slot)), std::memory_order_relaxed);
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
  const auto element = at(used_ring_, ring_entries_offset + (used_element_size * (used & (size_ - 1U))));
  if (!memory.store<std::uint32_t>(element, token.id, std::memory_order_relaxed) ||
      !memory.store<std::uint32_t>(at(element, 4), used_length, std::memory_order_relaxed) ||
      !memory.store<std::uint16_t>(at(used_ring_, ring_idx_offset), static_cast<std::uint16_t>(used + 1U),
                                   std::memory_order_release)) [[unlikely]] {
    broken_ = true;
    return failure(errc::ring_unreadable);
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
