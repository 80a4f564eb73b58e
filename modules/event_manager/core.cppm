// vmm.event_manager:core — the type-independent half of the event manager: which fds are watched, by which
// subscriber, and how an epoll report finds its subscriber in O(1).
//
// Every registration (one watched fd) lives at an index in a table; epoll's 64-bit data carries that index and the
// registration's generation. Removing a registration bumps the generation, so a report fetched before the removal
// (still in the current epoll_wait batch) no longer matches and is dropped — it can never reach a new subscriber
// that reuses the slot. Subscribers get {slot, generation} ids on the same principle.
export module vmm.event_manager:core;
import std;
import vmm.sys;
import :error;

export namespace vmm::event_manager {

using vmm::sys::event_set;

/// Identifies a subscriber of one event manager. Stale ids (of removed subscribers) are detected, never confused
/// with a newer subscriber in the same slot.
class subscriber_id {
 public:
  constexpr subscriber_id() noexcept = default;
  [[nodiscard]] constexpr auto slot() const noexcept -> std::uint32_t { return slot_; }
  [[nodiscard]] constexpr auto generation() const noexcept -> std::uint32_t { return generation_; }
  friend constexpr auto operator==(subscriber_id, subscriber_id) noexcept -> bool = default;

 private:
  friend class registry;
  constexpr subscriber_id(std::uint32_t slot, std::uint32_t generation) noexcept
      : slot_{slot}, generation_{generation} {}
  std::uint32_t slot_ = std::numeric_limits<std::uint32_t>::max();
  std::uint32_t generation_ = 0;
};

/// An fd with a set of conditions and 32 bits of subscriber data: what a subscriber registers interest in, and what
/// it receives in process() when the fd is ready.
class events {
 public:
  constexpr events(sys::borrowed_fd fd, event_set set, std::uint32_t data = 0) noexcept
      : fd_{fd}, set_{set}, data_{data} {}

  [[nodiscard]] constexpr auto fd() const noexcept -> sys::borrowed_fd { return fd_; }
  /// The conditions: asked for when registering; reported (readable, hang_up, ...) when dispatched.
  [[nodiscard]] constexpr auto set() const noexcept -> event_set { return set_; }
  /// The subscriber's own 32 bits given at registration (for example, which queue this fd belongs to).
  [[nodiscard]] constexpr auto data() const noexcept -> std::uint32_t { return data_; }

 private:
  sys::borrowed_fd fd_;
  event_set set_;
  std::uint32_t data_;
};

/// The bookkeeping behind an event manager (not used directly): subscriber slots, fd registrations and the epoll
/// instance. Not thread-safe by itself; event_manager serialises access.
class registry {
 public:
  /// What a dispatched epoll report resolves to.
  struct target {
    std::uint32_t slot;
    sys::borrowed_fd fd;
    std::uint32_t data;
  };

  /// The epoll data value reserved for the manager's own wake-up eventfd (never a registration's token).
  static constexpr std::uint64_t internal_token = std::numeric_limits<std::uint64_t>::max();

  [[nodiscard]] static auto create(std::size_t capacity_hint) -> result<registry>;

  [[nodiscard]] auto epoll() const noexcept -> const sys::epoll& { return epoll_; }

  /// Takes a free subscriber slot (or a new one).
  [[nodiscard]] auto acquire_slot() -> result<subscriber_id>;
  /// Unregisters every fd of `slot`; ids naming it become stale at once. The slot is not reused until
  /// recycle_slot(), so a subscriber still running in it can finish first.
  void release_slot(std::uint32_t slot) noexcept;
  /// Makes a released slot available to acquire_slot() again.
  void recycle_slot(std::uint32_t slot) { free_slots_.push_back(slot); }  // capacity reserved in acquire_slot()
  /// Whether `id` names a live subscriber.
  [[nodiscard]] auto is_live(subscriber_id id) const noexcept -> bool {
    return id.slot() < slots_.size() && slots_[id.slot()].live && slots_[id.slot()].generation == id.generation();
  }
  /// The current id of a live slot.
  [[nodiscard]] auto id_of(std::uint32_t slot) const noexcept -> subscriber_id {
    return {slot, slots_[slot].generation};
  }

  /// Starts watching `interest.fd()` for `slot`. Errors: errc::fd_already_registered; EBADF, EPERM, EINVAL from
  /// epoll_ctl (closed fd, a regular file, an invalid event set).
  [[nodiscard]] auto add(std::uint32_t slot, const events& interest) -> result<void>;
  /// Changes the conditions and data of an fd `slot` watches. Errors: errc::fd_not_registered; EINVAL.
  [[nodiscard]] auto modify(std::uint32_t slot, const events& interest) -> result<void>;
  /// Stops watching `fd` for `slot`. Errors: errc::fd_not_registered. An fd closed before its removal is
  /// unregistered all the same (the kernel already dropped it).
  [[nodiscard]] auto remove(std::uint32_t slot, sys::borrowed_fd fd) -> result<void>;

  /// The subscriber and registration an epoll report belongs to, or nothing when the report is stale (its
  /// registration was removed after epoll_wait returned it). O(1): one bounds check, one table read.
  [[nodiscard]] inline auto resolve(std::uint64_t token) const noexcept -> std::optional<target> {
    const auto index = static_cast<std::uint32_t>(token >> 32U);
    const auto generation = static_cast<std::uint32_t>(token);
    if (index >= registrations_.size()) {
      return std::nullopt;
    }
    const auto& entry = registrations_[index];
    if (entry.generation != generation || !entry.live) {
      return std::nullopt;
    }
    return target{.slot = entry.slot, .fd = entry.fd, .data = entry.data};
  }

  /// How many fds are watched.
  [[nodiscard]] auto registration_count() const noexcept -> std::size_t { return by_fd_.size(); }
  /// How many subscribers are live.
  [[nodiscard]] auto subscriber_count() const noexcept -> std::size_t { return live_slots_; }

 private:
  struct registration {
    sys::borrowed_fd fd;
    std::uint32_t data = 0;
    std::uint32_t slot = 0;
    std::uint32_t generation = 1;
    bool live = false;
  };
  struct slot_state {
    std::uint32_t generation = 1;
    bool live = false;
    std::vector<std::uint32_t> registrations;  // indices into registrations_
  };

  explicit registry(sys::epoll epoll) noexcept : epoll_{std::move(epoll)} {}
  [[nodiscard]] static auto token(std::uint32_t index, std::uint32_t generation) noexcept -> std::uint64_t {
    return (std::uint64_t{index} << 32U) | generation;
  }
  void retire(std::uint32_t index) noexcept;

  sys::epoll epoll_;
  std::vector<registration> registrations_;
  std::vector<std::uint32_t> free_registrations_;
  std::unordered_map<int, std::uint32_t> by_fd_;  // control path only: fd → registration index
  std::vector<slot_state> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::size_t live_slots_ = 0;
};

class event_ops;

}  // namespace vmm::event_manager
