module vmm.device;
import std;
import vmm.sys;

namespace vmm::device {

auto bus_range::make(bus_address base, std::uint64_t size) -> vmm::result<bus_range> {
  if (size == 0) {
    return vmm::failure(errc::empty_range);
  }
  if (size - 1 > std::numeric_limits<std::uint64_t>::max() - base.value) {
    return vmm::failure(errc::range_wraps);
  }
  return bus_range{.base = base, .size = size};
}

bus::bus(bus_kind kind) : kind_{kind}, current_{std::make_unique<const snapshot>().release()} {
}

bus::~bus() {
  // No thread may still use a bus that is being destroyed (that would be a use after free of the bus itself).
  const std::unique_ptr<const snapshot> last{current_.load(std::memory_order_acquire)};
}

template <class Visit>
auto bus::with_snapshot(Visit&& visit) const -> decltype(auto) {
  // Announce first, then load: a writer that exchanged the snapshot before our load makes us see the new one; a
  // writer that exchanges after it waits (publish) until we leave, so the snapshot we read is still alive.
  auto& announced = counter_of(epoch_.load(std::memory_order_seq_cst));
  announced.fetch_add(1, std::memory_order_seq_cst);
  class leave {
   public:
    explicit leave(std::atomic<std::uint64_t>& counter) noexcept : counter_{counter} {}
    leave(const leave&) = delete;
    auto operator=(const leave&) -> leave& = delete;
    leave(leave&&) = delete;
    auto operator=(leave&&) -> leave& = delete;
    ~leave() { counter_.fetch_sub(1, std::memory_order_release); }

   private:
    std::atomic<std::uint64_t>& counter_;
  } const guard{announced};
  return std::forward<Visit>(visit)(*current_.load(std::memory_order_seq_cst));
}

namespace {

/// The index of the last slot whose base is at or below `address` (0 when none is, which the caller checks), by a
/// branch-free binary search: at a random address a branch here would be mispredicted on about half the steps
/// (vmm.memory's find_slot measured 3x over 256 regions).
template <class Slot>
[[nodiscard]] auto last_at_or_below(std::span<const Slot> slots, std::uint64_t address) noexcept -> std::size_t {
  const Slot* first = slots.data();
  std::size_t n = slots.size();
  while (n > 1) {
    const std::size_t half = n / 2;
    // __builtin_unpredictable on a pointer select keeps this a cmov (the same form as vmm.memory's find_slot; an
    // index select or a multiply by the comparison became a branch with clang 19).
    const bool upper = first[half].base <= address;  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
    first = __builtin_unpredictable(static_cast<long>(upper)) != 0
                ? first + half  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
                : first;
    n -= half;
  }
  return static_cast<std::size_t>(first - slots.data());
}

}  // namespace

auto bus::locate(std::uint64_t address) const -> located {
  return with_snapshot([address](const snapshot& s) -> located {
    if (s.slots.empty()) {
      return {};
    }
    const std::size_t i = last_at_or_below(std::span{s.slots}, address);
    const slot& hit = s.slots[i];
    if (address < hit.base || address > hit.last) {
      return {};
    }
    return {.device = s.devices[i], .base = hit.base, .last = hit.last};
  });
}

auto bus::insert(bus_address base, std::uint64_t size, std::shared_ptr<bus_device> device) -> vmm::result<bus_range> {
  vmm::contract_check(device != nullptr, "bus::insert needs a device");
  auto range = bus_range::make(base, size);
  if (!range) {
    return range;
  }
  if (kind_ == bus_kind::port_io && range->last().value >= port_io_space_size) {
    return vmm::failure(errc::port_out_of_range);
  }
  const std::scoped_lock lock{writer_};
  const snapshot& now = *current_.load(std::memory_order_acquire);
  // The new range goes before the first base above it; it is free when it ends before that base and starts after
  // the end of the range before it.
  const auto at = std::ranges::upper_bound(now.slots, base.value, {}, &slot::base);
  const auto i = static_cast<std::size_t>(at - now.slots.begin());
  if (i < now.slots.size() && now.slots[i].base <= range->last().value) {
    return vmm::failure(errc::overlapping_range);
  }
  if (i > 0 && now.slots[i - 1].last >= base.value) {
    return vmm::failure(errc::overlapping_range);
  }
  auto next = std::make_unique<snapshot>(now);
  const auto offset = static_cast<std::ptrdiff_t>(i);
  next->slots.insert(next->slots.begin() + offset, slot{.base = base.value, .last = range->last().value});
  next->devices.insert(next->devices.begin() + offset, std::move(device));
  publish(std::move(next));
  return range;
}

auto bus::remove(bus_address base) -> vmm::result<std::shared_ptr<bus_device>> {
  const std::scoped_lock lock{writer_};
  const snapshot& now = *current_.load(std::memory_order_acquire);
  const auto at = std::ranges::lower_bound(now.slots, base.value, {}, &slot::base);
  if (at == now.slots.end() || at->base != base.value) {
    return vmm::failure(errc::not_registered);
  }
  const auto offset = at - now.slots.begin();
  auto next = std::make_unique<snapshot>(now);
  std::shared_ptr<bus_device> removed = next->devices[static_cast<std::size_t>(offset)];
  next->slots.erase(next->slots.begin() + offset);
  next->devices.erase(next->devices.begin() + offset);
  publish(std::move(next));
  return removed;
}

auto bus::find(bus_address address) const -> vmm::result<bus_entry> {
  located found = locate(address.value);
  if (found.device == nullptr) {
    return vmm::failure(errc::no_device_at_address);
  }
  return bus_entry{.range = {.base = {found.base}, .size = found.last - found.base + 1},
                   .device = std::move(found.device)};
}

auto bus::find_overlap(bus_range range) const -> std::optional<bus_range> {
  vmm::contract_check(bus_range::make(range.base, range.size).has_value(), "bus::find_overlap needs a valid range");
  return with_snapshot([range](const snapshot& s) -> std::optional<bus_range> {
    // The range before the first base above range.base may reach into it; otherwise the first base inside it.
    const auto after = std::ranges::upper_bound(s.slots, range.base.value, {}, &slot::base);
    auto i = static_cast<std::size_t>(after - s.slots.begin());
    if (i > 0 && s.slots[i - 1].last >= range.base.value) {
      --i;
    }
    if (i < s.slots.size() && s.slots[i].base <= range.last().value) {
      return bus_range{.base = {s.slots[i].base}, .size = s.slots[i].last - s.slots[i].base + 1};
    }
    return std::nullopt;
  });
}

auto bus::entries() const -> std::vector<bus_entry> {
  return with_snapshot([](const snapshot& s) {
    std::vector<bus_entry> all;
    all.reserve(s.slots.size());
    for (std::size_t i = 0; i < s.slots.size(); ++i) {
      all.push_back({.range = {.base = {s.slots[i].base}, .size = s.slots[i].last - s.slots[i].base + 1},
                     .device = s.devices[i]});
    }
    return all;
  });
}

auto bus::size() const -> std::size_t {
  return with_snapshot([](const snapshot& s) { return s.slots.size(); });
}

namespace {

/// Whether `length` bytes from `address` end inside a range whose last address is `last` (address inside it).
[[nodiscard]] auto ends_inside(std::uint64_t address, std::size_t length, std::uint64_t last) noexcept -> bool {
  return length == 0 || length - 1 <= last - address;
}

}  // namespace

auto bus::read(bus_address address, std::span<std::byte> data) const -> vmm::result<void> {
  const located found = locate(address.value);
  if (found.device == nullptr) {
    return vmm::failure(errc::no_device_at_address);
  }
  if (!ends_inside(address.value, data.size(), found.last)) {
    return vmm::failure(errc::access_straddles_device);
  }
  found.device->read(bus_address{found.base}, address.value - found.base, data);
  return {};
}

auto bus::write(bus_address address, std::span<const std::byte> data) const -> vmm::result<void> {
  const located found = locate(address.value);
  if (found.device == nullptr) {
    return vmm::failure(errc::no_device_at_address);
  }
  if (!ends_inside(address.value, data.size(), found.last)) {
    return vmm::failure(errc::access_straddles_device);
  }
  found.device->write(bus_address{found.base}, address.value - found.base, data);
  return {};
}

void bus::publish(std::unique_ptr<const snapshot> next) {
  const std::unique_ptr<const snapshot> old{current_.exchange(next.release(), std::memory_order_seq_cst)};
  // A reader that loaded `old` announced itself in one of the two counters before its load. Flip the epoch so new
  // readers use the other counter, wait for the old one to drain, and do the same for the other: after both, no
  // reader can still be inside `old` (the devices it copied out are its own shared_ptrs).
  for (int pass = 0; pass < 2; ++pass) {
    const std::uint32_t e = epoch_.fetch_add(1, std::memory_order_seq_cst);
    while (counter_of(e).load(std::memory_order_acquire) != 0) {
      std::this_thread::yield();
    }
  }
  generation_.fetch_add(1, std::memory_order_release);
}

}  // namespace vmm::device
