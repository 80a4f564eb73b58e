module vmm.memory;
import std;
import vmm.sys;

namespace vmm::memory {

atomic_guest_memory::atomic_guest_memory(guest_memory initial)
    : current_{
          std::make_unique<node>(node{.memory = std::make_shared<const guest_memory>(std::move(initial))}).release()} {
}

atomic_guest_memory::~atomic_guest_memory() {
  // No reader may still run memory() on a holder being destroyed (that would be a use after free of the holder).
  const std::unique_ptr<node> last{current_.load(std::memory_order_acquire)};
}

auto atomic_guest_memory::memory() const -> std::shared_ptr<const guest_memory> {
  // Announce first, then load: a writer that exchanged the node before our load makes us see the new one; a writer
  // that exchanges after it waits (publish) until we leave, so the node we copy from is still alive.
  auto& announced = counter_of(epoch_.load(std::memory_order_seq_cst));
  announced.fetch_add(1, std::memory_order_seq_cst);
  std::shared_ptr<const guest_memory> copy = current_.load(std::memory_order_seq_cst)->memory;
  announced.fetch_sub(1, std::memory_order_release);
  return copy;
}

auto atomic_guest_memory::replace(guest_memory next) -> std::shared_ptr<const guest_memory> {
  const std::scoped_lock lock{writer_};
  return publish(std::make_shared<const guest_memory>(std::move(next)));
}

auto atomic_guest_memory::publish(std::shared_ptr<const guest_memory> next) -> std::shared_ptr<const guest_memory> {
  std::unique_ptr<node> old{
      current_.exchange(std::make_unique<node>(node{.memory = std::move(next)}).release(), std::memory_order_seq_cst)};
  // A reader that loaded `old` announced itself in one of the two counters before its load. Flip the epoch so new
  // readers use the other counter, wait for the old one to drain, and do the same for the other: after both, no
  // reader can still hold a reference to `old` that is not a shared_ptr of its own.
  for (int pass = 0; pass < 2; ++pass) {
    const std::uint32_t e = epoch_.fetch_add(1, std::memory_order_seq_cst);
    while (counter_of(e).load(std::memory_order_acquire) != 0) {
      std::this_thread::yield();
    }
  }
  auto previous = std::move(old->memory);
  old.reset();
  generation_.fetch_add(1, std::memory_order_release);
  return previous;
}

}  // namespace vmm::memory
