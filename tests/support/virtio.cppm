// vmm.testing:virtio — a mock virtio driver: the guest side of a split and of a packed virtqueue, in a guest_memory.
//
// The drivers lay out their rings at the addresses they are given (zeroed), build chains (direct and indirect) from
// lists of buffers, publish them the way a Linux guest does (descriptors first, then the available index or the
// head's flags with release), read used entries back, and set and read the event suppression fields. Raw helpers
// write arbitrary descriptors and ring entries for negative tests. A failed guest-memory access throws
// std::logic_error: it is a mistake in the test's layout, not something under test.
export module vmm.testing:virtio;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;

export namespace vmm::testing {

/// One buffer of a chain as the driver offers it.
struct driver_buffer {
  memory::guest_address address;
  std::uint32_t length = 0;
  bool writable = false;
};

/// A used entry as the driver reads it back.
struct used_buffer {
  std::uint32_t id = 0;
  std::uint32_t length = 0;

  friend constexpr auto operator==(const used_buffer&, const used_buffer&) noexcept -> bool = default;
};

/// Helpers of the mock drivers (not for tests to call).
namespace detail_virtio {

/// The value of `r`, or std::logic_error naming `what` and the error.
template <class T>
auto require(vmm::result<T> r, std::string_view what) -> T {
  if (!r) {
    throw std::logic_error{std::format("mock virtio driver: {}: {}", what, r.error().message())};
  }
  if constexpr (!std::is_void_v<T>) {
    return *std::move(r);
  }
}

/// Zeroes [a, a + bytes) of guest memory.
inline void zero(const memory::guest_memory& m, memory::guest_address a, std::uint64_t bytes) {
  const std::vector<std::byte> zeros(static_cast<std::size_t>(bytes));
  require(m.write_all(a, zeros), "zeroing a ring");
}

/// a + offset, which must not wrap.
inline auto plus(memory::guest_address a, std::uint64_t offset) -> memory::guest_address {
  return require(a.checked_add(offset), "ring address");
}

}  // namespace detail_virtio

/// The driver side of a split virtqueue (virtio 1.x §2.7).
class split_driver {
 public:
  /// Lays out a queue of `size` (a power of two) descriptors: the table at `desc`, the available ring at `avail`,
  /// the used ring at `used`, all zeroed.
  split_driver(const memory::guest_memory& memory, std::uint16_t size, memory::guest_address desc,
               memory::guest_address avail, memory::guest_address used)
      : memory_{&memory}, size_{size}, desc_{desc}, avail_{avail}, used_{used} {
    detail_virtio::zero(memory, desc, virtio::queue::descriptor_size * size);
    detail_virtio::zero(memory, avail, virtio::queue::avail_ring_bytes(size));
    detail_virtio::zero(memory, used, virtio::queue::used_ring_bytes(size));
    for (std::uint16_t i = size; i > 0; --i) {
      free_.push_back(static_cast<std::uint16_t>(i - 1U));
    }
  }

  /// The configuration a transport would hand the device (QueueNumMax = size, ready).
  [[nodiscard]] auto config() const -> virtio::queue::queue_config {
    return {.max_size = size_,
            .size = size_,
            .ready = true,
            .descriptor_area = desc_,
            .driver_area = avail_,
            .device_area = used_};
  }

  [[nodiscard]] auto size() const noexcept -> std::uint16_t { return size_; }
  /// Descriptors not used by a chain the driver added and has not got back.
  [[nodiscard]] auto free_descriptors() const noexcept -> std::size_t { return free_.size(); }

  /// Writes `buffers` into free descriptors linked by NEXT (WRITE where writable) and puts the head in the next
  /// available entry, unpublished (see publish). Returns the head. Throws when too few descriptors are free.
  auto add_chain(std::span<const driver_buffer> buffers) -> std::uint16_t {
    if (buffers.empty() || buffers.size() > free_.size()) {
      throw std::logic_error{"mock virtio driver: a chain needs 1..free descriptors"};
    }
    std::vector<std::uint16_t> used(buffers.size());
    for (auto& index : used) {
      index = free_.back();
      free_.pop_back();
    }
    for (std::size_t i = 0; i < buffers.size(); ++i) {
      const bool last = i + 1 == buffers.size();
      write_descriptor(used[i], {.addr = buffers[i].address.raw(),
                                 .len = buffers[i].length,
                                 .flags = flags_of(buffers[i], !last),
                                 .next = last ? std::uint16_t{0} : used[i + 1]});
    }
    const std::uint16_t head = used.front();
    chains_[head] = std::move(used);
    push_head(head);
    return head;
  }

  /// Writes `buffers` as an indirect table at `table` (linked by NEXT from entry 0) and one descriptor with INDIRECT
  /// pointing at it; puts that descriptor in the next available entry, unpublished. Returns the head.
  auto add_indirect_chain(std::span<const driver_buffer> buffers, memory::guest_address table) -> std::uint16_t {
    if (free_.empty()) {
      throw std::logic_error{"mock virtio driver: no free descriptor"};
    }
    for (std::size_t i = 0; i < buffers.size(); ++i) {
      const bool last = i + 1 == buffers.size();
      write_table_descriptor(table, static_cast<std::uint16_t>(i),
                             {.addr = buffers[i].address.raw(),
                              .len = buffers[i].length,
                              .flags = flags_of(buffers[i], !last),
                              .next = last ? std::uint16_t{0} : static_cast<std::uint16_t>(i + 1)});
    }
    const std::uint16_t head = free_.back();
    free_.pop_back();
    write_descriptor(head, {.addr = table.raw(),
                            .len = static_cast<std::uint32_t>(buffers.size() * virtio::queue::descriptor_size),
                            .flags = virtio::queue::desc_f_indirect,
                            .next = 0});
    chains_[head] = {head};
    push_head(head);
    return head;
  }

  /// Publishes every entry added since the last publish: the available index, with release.
  void publish() {
    detail_virtio::require(
        memory_->store<std::uint16_t>(detail_virtio::plus(avail_, 2), avail_idx_, std::memory_order_release),
        "publishing avail idx");
  }

  /// add_chain and publish.
  auto offer(std::span<const driver_buffer> buffers) -> std::uint16_t {
    const std::uint16_t head = add_chain(buffers);
    publish();
    return head;
  }

  /// The next used entry, when the device has published one past what the driver read; the chain's descriptors
  /// become free again (when add_chain or add_indirect_chain made it).
  auto take_used() -> std::optional<used_buffer> {
    if (used_idx() == last_used_) {
      return std::nullopt;
    }
    const auto element =
        detail_virtio::plus(used_, 4 + (8 * std::uint64_t{static_cast<std::uint16_t>(last_used_ % size_)}));
    const used_buffer u{.id = detail_virtio::require(memory_->read_obj<std::uint32_t>(element), "reading used id"),
                        .length = detail_virtio::require(
                            memory_->read_obj<std::uint32_t>(detail_virtio::plus(element, 4)), "reading used len")};
    ++last_used_;
    if (const auto it = chains_.find(static_cast<std::uint16_t>(u.id)); it != chains_.end()) {
      free_.insert(free_.end(), it->second.begin(), it->second.end());
      chains_.erase(it);
    }
    return u;
  }

  // Raw access, for malformed rings.

  /// Writes descriptor `index` of the table as given (index may be ≥ size only if the table's memory allows it).
  void write_descriptor(std::uint16_t index, const virtio::queue::split_descriptor& d) {
    detail_virtio::require(memory_->write_obj(detail_virtio::plus(desc_, virtio::queue::descriptor_size * index), d),
                           "writing a descriptor");
  }
  /// Writes entry `index` of an indirect table at `table`.
  void write_table_descriptor(memory::guest_address table, std::uint16_t index,
                              const virtio::queue::split_descriptor& d) {
    detail_virtio::require(memory_->write_obj(detail_virtio::plus(table, virtio::queue::descriptor_size * index), d),
                           "writing an indirect descriptor");
  }
  /// Puts `head` in the next available entry (any value, unchecked), unpublished.
  void push_head(std::uint16_t head) {
    const auto entry =
        detail_virtio::plus(avail_, 4 + (2 * std::uint64_t{static_cast<std::uint16_t>(avail_idx_ % size_)}));
    detail_virtio::require(memory_->store<std::uint16_t>(entry, head, std::memory_order_relaxed),
                           "writing an avail entry");
    ++avail_idx_;
  }
  /// Sets the driver's available index (publish writes it) to any value.
  void set_avail_idx(std::uint16_t idx) noexcept { avail_idx_ = idx; }
  [[nodiscard]] auto avail_idx() const noexcept -> std::uint16_t { return avail_idx_; }
  /// The used index as the device last published it.
  [[nodiscard]] auto used_idx() const -> std::uint16_t {
    return detail_virtio::require(
        memory_->load<std::uint16_t>(detail_virtio::plus(used_, 2), std::memory_order_acquire), "reading used idx");
  }
  /// The used index up to which the driver has read entries.
  [[nodiscard]] auto last_used() const noexcept -> std::uint16_t { return last_used_; }

  // Notification suppression.

  /// The available ring's flags (VIRTQ_AVAIL_F_NO_INTERRUPT).
  void set_avail_flags(std::uint16_t flags) { store16(detail_virtio::plus(avail_, 0), flags); }
  /// used_event, after the available ring's entries (EVENT_IDX).
  void set_used_event(std::uint16_t value) {
    store16(detail_virtio::plus(avail_, 4 + (2 * std::uint64_t{size_})), value);
  }
  /// The used ring's flags (VIRTQ_USED_F_NO_NOTIFY), as the device wrote them.
  [[nodiscard]] auto used_flags() const -> std::uint16_t { return load16(detail_virtio::plus(used_, 0)); }
  /// avail_event, after the used ring's entries, as the device wrote it.
  [[nodiscard]] auto avail_event() const -> std::uint16_t {
    return load16(detail_virtio::plus(used_, 4 + (8 * std::uint64_t{size_})));
  }

 private:
  static auto flags_of(const driver_buffer& b, bool next) -> std::uint16_t {
    return static_cast<std::uint16_t>((b.writable ? virtio::queue::desc_f_write : 0U) |
                                      (next ? virtio::queue::desc_f_next : 0U));
  }
  void store16(memory::guest_address a, std::uint16_t v) {
    detail_virtio::require(memory_->store<std::uint16_t>(a, v, std::memory_order_release), "writing a ring field");
  }
  [[nodiscard]] auto load16(memory::guest_address a) const -> std::uint16_t {
    return detail_virtio::require(memory_->load<std::uint16_t>(a, std::memory_order_acquire), "reading a ring field");
  }

  const memory::guest_memory* memory_;
  std::uint16_t size_;
  memory::guest_address desc_;
  memory::guest_address avail_;
  memory::guest_address used_;
  std::uint16_t avail_idx_ = 0;
  std::uint16_t last_used_ = 0;
  std::vector<std::uint16_t> free_;
  std::map<std::uint16_t, std::vector<std::uint16_t>> chains_;  // head → its descriptors
};

/// The driver side of a packed virtqueue (virtio 1.x §2.8).
class packed_driver {
 public:
  /// Lays out a ring of `size` descriptors at `ring`, the driver event suppression structure at `driver_event` and
  /// the device's at `device_event`, all zeroed (driver event flags ENABLE).
  packed_driver(const memory::guest_memory& memory, std::uint16_t size, memory::guest_address ring,
                memory::guest_address driver_event, memory::guest_address device_event)
      : memory_{&memory},
        size_{size},
        ring_{ring},
        driver_event_{driver_event},
        device_event_{device_event},
        slots_of_(size, 0) {
    detail_virtio::zero(memory, ring, virtio::queue::descriptor_size * size);
    detail_virtio::zero(memory, driver_event, 4);
    detail_virtio::zero(memory, device_event, 4);
    for (std::uint16_t i = size; i > 0; --i) {
      free_ids_.push_back(static_cast<std::uint16_t>(i - 1U));
    }
  }

  /// The configuration a transport would hand the device.
  [[nodiscard]] auto config() const -> virtio::queue::queue_config {
    return {.max_size = size_,
            .size = size_,
            .ready = true,
            .descriptor_area = ring_,
            .driver_area = driver_event_,
            .device_area = device_event_};
  }

  [[nodiscard]] auto size() const noexcept -> std::uint16_t { return size_; }
  /// Ring slots not taken by a chain the driver has not got back.
  [[nodiscard]] auto free_slots() const noexcept -> std::uint32_t { return size_ - busy_slots_; }

  /// Writes `buffers` into the next ring slots as one chain (NEXT on all but the last, the buffer id in each) and
  /// makes it available: the other descriptors' flags first, the head's last with release. Returns the buffer id.
  auto add_chain(std::span<const driver_buffer> buffers) -> std::uint16_t {
    if (buffers.empty() || buffers.size() > free_slots() || free_ids_.empty()) {
      throw std::logic_error{"mock virtio driver: a chain needs 1..free slots and a free id"};
    }
    const std::uint16_t id = free_ids_.back();
    std::vector<virtio::queue::packed_descriptor> ds;
    for (std::size_t i = 0; i < buffers.size(); ++i) {
      const bool last = i + 1 == buffers.size();
      ds.push_back({.addr = buffers[i].address.raw(),
                    .len = buffers[i].length,
                    .id = id,
                    .flags = static_cast<std::uint16_t>((buffers[i].writable ? virtio::queue::desc_f_write : 0U) |
                                                        (last ? 0U : virtio::queue::desc_f_next))});
    }
    make_available(ds);
    return id;
  }

  /// Writes `buffers` as a packed indirect table at `table` and makes one INDIRECT descriptor pointing at it
  /// available. Returns the buffer id.
  auto add_indirect_chain(std::span<const driver_buffer> buffers, memory::guest_address table) -> std::uint16_t {
    if (free_slots() == 0 || free_ids_.empty()) {
      throw std::logic_error{"mock virtio driver: no free slot or id"};
    }
    for (std::size_t i = 0; i < buffers.size(); ++i) {
      write_table_descriptor(table, static_cast<std::uint16_t>(i),
                             {.addr = buffers[i].address.raw(),
                              .len = buffers[i].length,
                              .id = 0,
                              .flags = buffers[i].writable ? virtio::queue::desc_f_write : std::uint16_t{0}});
    }
    const std::uint16_t id = free_ids_.back();
    const std::array ds{virtio::queue::packed_descriptor{
        .addr = table.raw(),
        .len = static_cast<std::uint32_t>(buffers.size() * virtio::queue::descriptor_size),
        .id = id,
        .flags = virtio::queue::desc_f_indirect}};
    make_available(ds);
    return id;
  }

  /// Writes `ds` into the next slots as given (addr, len, id; their flags get the AVAIL/USED bits of each slot's
  /// wrap counter added), the first one's flags last with release, and moves the driver's position past them. When
  /// the last descriptor's id is free, it is taken for this chain (take_used then steps by the chain's slots);
  /// otherwise take_used steps by one slot for it.
  void make_available(std::span<const virtio::queue::packed_descriptor> ds) {
    std::uint16_t position = next_avail_;
    bool wrap = avail_wrap_;
    std::uint16_t head_flags = 0;
    for (std::size_t i = 0; i < ds.size(); ++i) {
      auto d = ds[i];
      d.flags = static_cast<std::uint16_t>(d.flags | avail_bits(wrap));
      if (i == 0) {
        head_flags = d.flags;
        d.flags = ring_flags(position);  // unchanged until everything else is written
      }
      write_descriptor(position, d);
      if (++position == size_) {
        position = 0;
        wrap = !wrap;
      }
    }
    detail_virtio::require(memory_->store<std::uint16_t>(detail_virtio::plus(slot(next_avail_), 14), head_flags,
                                                         std::memory_order_release),
                           "publishing a packed head");
    next_avail_ = position;
    avail_wrap_ = wrap;
    if (const std::uint16_t id = ds.back().id; id < size_ && slots_of_[id] == 0 && std::erase(free_ids_, id) != 0) {
      slots_of_[id] = static_cast<std::uint16_t>(ds.size());
      busy_slots_ += static_cast<std::uint32_t>(ds.size());
    }
  }

  /// The next used descriptor, when the device has written one at the driver's used position (AVAIL and USED both
  /// equal to the driver's used wrap counter); the position moves by that buffer's slot count.
  auto take_used() -> std::optional<used_buffer> {
    const std::uint16_t flags = ring_flags(next_used_);
    const bool avail = (flags & virtio::queue::packed_desc_f_avail) != 0;
    const bool used = (flags & virtio::queue::packed_desc_f_used) != 0;
    if (avail != used_wrap_ || used != used_wrap_) {
      return std::nullopt;
    }
    const auto d = read_descriptor(next_used_);
    std::uint16_t step = 1;
    if (d.id < size_ && slots_of_[d.id] != 0) {
      step = slots_of_[d.id];
      busy_slots_ -= step;
      slots_of_[d.id] = 0;
      free_ids_.push_back(d.id);
    }
    const std::uint32_t next = std::uint32_t{next_used_} + step;
    if (next >= size_) {
      next_used_ = static_cast<std::uint16_t>(next - size_);
      used_wrap_ = !used_wrap_;
    } else {
      next_used_ = static_cast<std::uint16_t>(next);
    }
    return used_buffer{.id = d.id, .length = d.len};
  }

  // Raw access.

  /// Writes ring slot `index` as given (flags included).
  void write_descriptor(std::uint16_t index, const virtio::queue::packed_descriptor& d) {
    detail_virtio::require(memory_->write_obj(slot(index), d), "writing a packed descriptor");
  }
  /// Reads ring slot `index`.
  [[nodiscard]] auto read_descriptor(std::uint16_t index) const -> virtio::queue::packed_descriptor {
    return detail_virtio::require(memory_->read_obj<virtio::queue::packed_descriptor>(slot(index)),
                                  "reading a packed descriptor");
  }
  /// Writes entry `index` of a packed indirect table at `table`.
  void write_table_descriptor(memory::guest_address table, std::uint16_t index,
                              const virtio::queue::packed_descriptor& d) {
    detail_virtio::require(memory_->write_obj(detail_virtio::plus(table, virtio::queue::descriptor_size * index), d),
                           "writing a packed indirect descriptor");
  }
  /// The AVAIL/USED bits that make a descriptor available under wrap counter `wrap`.
  [[nodiscard]] static auto avail_bits(bool wrap) noexcept -> std::uint16_t {
    return wrap ? virtio::queue::packed_desc_f_avail : virtio::queue::packed_desc_f_used;
  }
  /// The driver's next slot and wrap counter.
  [[nodiscard]] auto next_avail() const noexcept -> std::uint16_t { return next_avail_; }
  [[nodiscard]] auto avail_wrap() const noexcept -> bool { return avail_wrap_; }
  /// The driver's used position and wrap counter.
  [[nodiscard]] auto next_used() const noexcept -> std::uint16_t { return next_used_; }
  [[nodiscard]] auto used_wrap() const noexcept -> bool { return used_wrap_; }

  // Event suppression.

  /// Writes the driver event suppression structure: flags (ENABLE, DISABLE, DESC) and, for DESC, the used
  /// position and wrap counter that should raise an interrupt.
  void set_driver_event(std::uint16_t flags, std::uint16_t offset = 0, bool wrap = false) {
    store16(detail_virtio::plus(driver_event_, 0),
            static_cast<std::uint16_t>(offset | (wrap ? 1U << virtio::queue::packed_event_wrap_shift : 0U)));
    store16(detail_virtio::plus(driver_event_, 2), flags);
  }
  /// The device event suppression structure's flags and off_wrap, as the device wrote them.
  [[nodiscard]] auto device_event_flags() const -> std::uint16_t {
    return load16(detail_virtio::plus(device_event_, 2));
  }
  [[nodiscard]] auto device_event_off_wrap() const -> std::uint16_t {
    return load16(detail_virtio::plus(device_event_, 0));
  }

 private:
  [[nodiscard]] auto slot(std::uint16_t index) const -> memory::guest_address {
    return detail_virtio::plus(ring_, virtio::queue::descriptor_size * index);
  }
  [[nodiscard]] auto ring_flags(std::uint16_t index) const -> std::uint16_t {
    return load16(detail_virtio::plus(slot(index), 14));
  }
  void store16(memory::guest_address a, std::uint16_t v) {
    detail_virtio::require(memory_->store<std::uint16_t>(a, v, std::memory_order_release), "writing an event field");
  }
  [[nodiscard]] auto load16(memory::guest_address a) const -> std::uint16_t {
    return detail_virtio::require(memory_->load<std::uint16_t>(a, std::memory_order_acquire), "reading a ring field");
  }

  const memory::guest_memory* memory_;
  std::uint16_t size_;
  memory::guest_address ring_;
  memory::guest_address driver_event_;
  memory::guest_address device_event_;
  std::uint16_t next_avail_ = 0;
  bool avail_wrap_ = true;
  std::uint16_t next_used_ = 0;
  bool used_wrap_ = true;
  std::uint32_t busy_slots_ = 0;
  std::vector<std::uint16_t> free_ids_;
  std::vector<std::uint16_t> slots_of_;  // buffer id → slots of its chain (0: not handed out)
};

}  // namespace vmm::testing
