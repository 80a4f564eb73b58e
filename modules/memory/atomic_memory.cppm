// vmm.memory:atomic_memory — the current guest_memory snapshot, swapped atomically on memory hot-plug
// (rust-vmm's GuestMemoryAtomic).
//
// Readers (vCPU exit handlers, device threads) call memory() and never block: two atomic increments, a load and a
// shared_ptr copy. A writer (the hot-plug path) builds the next snapshot, publishes it with one atomic exchange and
// then waits for the few readers that were between "announce" and "copy" to leave, using two alternating reader
// counters so that new readers cannot starve it. The previous snapshot lives on in every shared_ptr a reader took.
export module vmm.memory:atomic_memory;
import std;
import vmm.sys;
import :error;
import :guest_memory;

export namespace vmm::memory {

/// A guest_memory that can be replaced while other threads read it.
class atomic_guest_memory {
 public:
  /// Holds `initial` as the first snapshot.
  explicit atomic_guest_memory(guest_memory initial = {});
  ~atomic_guest_memory();
  atomic_guest_memory(const atomic_guest_memory&) = delete;
  auto operator=(const atomic_guest_memory&) -> atomic_guest_memory& = delete;
  atomic_guest_memory(atomic_guest_memory&&) = delete;
  auto operator=(atomic_guest_memory&&) -> atomic_guest_memory& = delete;

  /// The current snapshot. Never blocks (lock-free), safe from any thread; the snapshot stays valid for as long as
  /// the returned pointer is held, whatever writers do meanwhile.
  [[nodiscard]] auto memory() const -> std::shared_ptr<const guest_memory>;

  /// Publishes `next` and returns the snapshot it replaced. Writers are serialised; readers are not blocked.
  auto replace(guest_memory next) -> std::shared_ptr<const guest_memory>;

  /// Builds the next snapshot from the current one with `change` (a callable taking const guest_memory& and
  /// returning result<guest_memory>, such as a bound insert or remove) and publishes it, all under the writer lock,
  /// so concurrent updates never lose one another. Errors: whatever `change` returns (nothing is published).
  template <class Change>
  [[nodiscard]] auto update(Change&& change) -> result<void> {
    const std::scoped_lock lock{writer_};
    result<guest_memory> next = std::forward<Change>(change)(*current_.load(std::memory_order_acquire)->memory);
    if (!next) {
      return std::unexpected(next.error());
    }
    publish(std::make_shared<const guest_memory>(std::move(*next)));
    return {};
  }

  /// How many snapshots have been published after the first.
  [[nodiscard]] inline auto generation() const noexcept -> std::uint64_t {
    return generation_.load(std::memory_order_acquire);
  }

 private:
  struct node {
    std::shared_ptr<const guest_memory> memory;
  };
  /// Exchanges `next` in and frees the old node once no reader can still be copying from it. Holds writer_.
  auto publish(std::shared_ptr<const guest_memory> next) -> std::shared_ptr<const guest_memory>;

  /// The reader counter of epoch `e` (0 or 1).
  [[nodiscard]] auto counter_of(std::uint32_t e) const noexcept -> std::atomic<std::uint64_t>& {
    return (e & 1U) == 0 ? readers_[0].value : readers_[1].value;
  }

  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<node*> current_;  // owned: made with make_unique and released into it, adopted again to delete
  std::atomic<std::uint64_t> generation_{0};
  std::mutex writer_;
  // Readers announce themselves in counter_of(epoch_) while they copy the snapshot out of the node; each counter
  // has its own cache line.
  struct alignas(64) counter {
    std::atomic<std::uint64_t> value{0};
  };
  mutable std::array<counter, 2> readers_{};
};

}  // namespace vmm::memory
