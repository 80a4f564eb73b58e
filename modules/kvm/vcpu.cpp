module;
#include <cerrno>
#include <linux/kvm.h>
#include <pthread.h>
module vmm.kvm;
import std;
import vmm.sys;

namespace vmm::kvm {

// The handshake between run() and vcpu_stopper::stop(), without a lock on run()'s path (all seq_cst):
//   run():  runner = self; in_run = true; KVM_RUN; in_run = false; wait while kickers != 0
//   stop(): immediate_exit = 1; ++kickers; if (in_run) kick(runner); --kickers
// A stop that sees in_run false set immediate_exit before that load, so a run() that starts later (its in_run store
// is later in the total order, its KVM_RUN later still) finds the flag. A stop that sees in_run true kicks while
// kickers > 0, and run() cannot pass its kickers check (its in_run = false comes after the stop's load) until the
// kick is sent, so the kicked thread is alive. Dekker's pattern: it needs the single total order of seq_cst.
struct run_state {
  explicit run_state(sys::mapping m) noexcept : map{std::move(m)} {}
  sys::mapping map;                 // the kvm_run area; lives as long as the vcpu or any stopper
  std::atomic<::pthread_t> runner;  // the thread that last entered run(); read only while in_run
  std::atomic<bool> in_run{false};
  std::atomic<std::uint32_t> kickers{0};  // stoppers between their in_run check and their kick

  [[nodiscard]] auto run() const noexcept -> ::kvm_run& {
    // The mapping holds at least a kvm_run (checked in vcpu::from_fd) and is page-aligned.
    return *reinterpret_cast<::kvm_run*>(map.data());  // NOLINT(*-reinterpret-cast)
  }
};

namespace {

template <class T>
auto get_state(sys::borrowed_fd fd, unsigned long request) -> result<T> {
  T value{};
  if (auto r = sys::ioctl_with_mut_ref(fd, request, value); !r) {
    return std::unexpected(r.error());
  }
  return value;
}

template <class T>
auto set_state(sys::borrowed_fd fd, unsigned long request, const T& value) -> result<void> {
  if (auto r = sys::ioctl_with_ref(fd, request, value); !r) {
    return std::unexpected(r.error());
  }
  return {};
}

// A kernel structure with a flexible array: the header, then `count` entries, in 8-byte-aligned storage.
template <class Header, class Entry>
class fam_buffer {
 public:
  explicit fam_buffer(std::size_t count)
      : words_((sizeof(Header) + (count * sizeof(Entry)) + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t)) {}
  // The storage is zeroed, 8-byte aligned and large enough; Header and Entry are C structs of the kernel ABI.
  [[nodiscard]] auto header() noexcept -> Header* {
    return reinterpret_cast<Header*>(words_.data());  // NOLINT(*-reinterpret-cast)
  }
  [[nodiscard]] auto entries() noexcept -> Entry* {
    return reinterpret_cast<Entry*>(reinterpret_cast<std::byte*>(words_.data()) + sizeof(Header));  // NOLINT
  }

 private:
  std::vector<std::uint64_t> words_;
};

auto msr_call(sys::borrowed_fd fd, unsigned long request, std::span<msr_entry> entries) -> result<std::size_t> {
  if (entries.size() > max_msr_entries) {
    return failure(errc::too_many_entries);
  }
  fam_buffer<abi::msrs_header, ::kvm_msr_entry> buffer{entries.size()};
  buffer.header()->nmsrs = static_cast<std::uint32_t>(entries.size());
  std::ranges::copy(entries, buffer.entries());
  const auto done = sys::ioctl_with_ptr(fd, request, buffer.header());
  if (!done) {
    return std::unexpected(done.error());
  }
  const auto count = std::min(static_cast<std::size_t>(*done), entries.size());
  std::copy_n(buffer.entries(), count, entries.begin());
  return count;
}

}  // namespace

auto vcpu_stopper::stop() const -> result<void> {
  // First the flag, then the kick (see the module comment): a run() that has not yet reached KVM's check sees the
  // flag, one that is past it is in the kernel and gets the signal.
  std::atomic_ref<std::uint8_t>{state_->run().immediate_exit}.store(1, std::memory_order_seq_cst);
  state_->kickers.fetch_add(1, std::memory_order_seq_cst);
  result<void> kicked;
  if (state_->in_run.load(std::memory_order_seq_cst)) {
    // The runner cannot leave run() (so its thread cannot exit) until kickers drops back, so the handle is live.
    kicked = sys::kick_thread(state_->runner.load(std::memory_order_relaxed), signal_);  // ordered by in_run
  }
  state_->kickers.fetch_sub(1, std::memory_order_seq_cst);
  return kicked;
}

vcpu::vcpu(sys::unique_fd fd, std::shared_ptr<run_state> state, sys::mapping ring) noexcept
    : fd_{std::move(fd)},
      state_{std::move(state)},
      run_area_{state_->map.data(), state_->map.size()},
      ring_{std::move(ring)} {
}

auto vcpu::from_fd(sys::unique_fd fd, std::size_t mmap_size, std::size_t dirty_ring_bytes) -> result<vcpu> {
  if (mmap_size < sizeof(::kvm_run)) {
    return failure(errc::mmap_size_too_small);
  }
  auto map = sys::mapping::of_fd(fd, mmap_size, 0, {.prot = sys::protection::read_write, .shared = true});
  if (!map) {
    return std::unexpected(map.error());
  }
  sys::mapping ring;
  if (dirty_ring_bytes != 0) {
    auto mapped = sys::mapping::of_fd(fd, dirty_ring_bytes, std::uint64_t{KVM_DIRTY_LOG_PAGE_OFFSET} * sys::page_size(),
                                      {.prot = sys::protection::read_write, .shared = true});
    if (!mapped) {
      return std::unexpected(mapped.error());
    }
    ring = *std::move(mapped);
  }
  return vcpu{std::move(fd), std::make_shared<run_state>(*std::move(map)), std::move(ring)};
}

auto vcpu::run_area() const noexcept -> std::span<std::byte> {
  return run_area_;
}

auto vcpu::run() -> result<vcpu_exit> {
  auto& state = *state_;
  state.runner.store(::pthread_self(), std::memory_order_relaxed);  // published by the in_run store below
  state.in_run.store(true, std::memory_order_seq_cst);
  const auto ran = sys::ioctl(fd_, KVM_RUN);
  state.in_run.store(false, std::memory_order_seq_cst);
  while (state.kickers.load(std::memory_order_seq_cst) != 0) [[unlikely]] {
    std::this_thread::yield();  // a stopper is sending the kick signal to this thread: stay alive until it has
  }
  if (!ran) {
    if (ran.error() == std::errc::interrupted) {
      // Consume the stop request (if it was one) so the next run() enters the guest again.
      const bool requested =
          std::atomic_ref<std::uint8_t>{state_->run().immediate_exit}.exchange(0, std::memory_order_seq_cst) != 0;
      return interrupted{.stop_requested = requested};
    }
    return std::unexpected(ran.error());
  }
  return decode_exit(run_area_);
}

auto vcpu::stopper(int signal) -> result<vcpu_stopper> {
  if (auto installed = sys::install_kick_handler(signal); !installed) {
    return std::unexpected(installed.error());
  }
  return vcpu_stopper{state_, signal};
}

auto vcpu::get_regs() const -> result<regs> {
  return get_state<regs>(fd_, KVM_GET_REGS);
}
auto vcpu::set_regs(const regs& value) const -> result<void> {
  return set_state(fd_, KVM_SET_REGS, value);
}
auto vcpu::get_sregs() const -> result<sregs> {
  return get_state<sregs>(fd_, KVM_GET_SREGS);
}
auto vcpu::set_sregs(const sregs& value) const -> result<void> {
  return set_state(fd_, KVM_SET_SREGS, value);
}
auto vcpu::get_fpu() const -> result<fpu> {
  return get_state<fpu>(fd_, KVM_GET_FPU);
}
auto vcpu::set_fpu(const fpu& value) const -> result<void> {
  return set_state(fd_, KVM_SET_FPU, value);
}
auto vcpu::get_lapic() const -> result<lapic_state> {
  return get_state<lapic_state>(fd_, KVM_GET_LAPIC);
}
auto vcpu::set_lapic(const lapic_state& value) const -> result<void> {
  return set_state(fd_, KVM_SET_LAPIC, value);
}
auto vcpu::get_xsave() const -> result<xsave> {
  return get_state<xsave>(fd_, abi::get_xsave);
}
auto vcpu::set_xsave(const xsave& value) const -> result<void> {
  return set_state(fd_, abi::set_xsave, value);
}
auto vcpu::get_xcrs() const -> result<xcrs> {
  return get_state<xcrs>(fd_, KVM_GET_XCRS);
}
auto vcpu::set_xcrs(const xcrs& value) const -> result<void> {
  return set_state(fd_, KVM_SET_XCRS, value);
}
auto vcpu::get_mp_state() const -> result<mp_state> {
  return get_state<mp_state>(fd_, KVM_GET_MP_STATE);
}
auto vcpu::set_mp_state(const mp_state& value) const -> result<void> {
  return set_state(fd_, KVM_SET_MP_STATE, value);
}
auto vcpu::get_vcpu_events() const -> result<vcpu_events> {
  return get_state<vcpu_events>(fd_, KVM_GET_VCPU_EVENTS);
}
auto vcpu::set_vcpu_events(const vcpu_events& value) const -> result<void> {
  return set_state(fd_, KVM_SET_VCPU_EVENTS, value);
}
auto vcpu::get_debugregs() const -> result<debugregs> {
  return get_state<debugregs>(fd_, KVM_GET_DEBUGREGS);
}
auto vcpu::set_debugregs(const debugregs& value) const -> result<void> {
  return set_state(fd_, KVM_SET_DEBUGREGS, value);
}

auto vcpu::get_msrs(std::span<msr_entry> entries) const -> result<std::size_t> {
  return msr_call(fd_, abi::get_msrs, entries);
}

auto vcpu::set_msrs(std::span<const msr_entry> entries) const -> result<std::size_t> {
  // KVM_SET_MSRS only reads the entries; msr_call copies them into its own buffer and copies back only for reads.
  std::vector<msr_entry> copy{entries.begin(), entries.end()};
  return msr_call(fd_, abi::set_msrs, copy);
}

auto vcpu::set_cpuid2(std::span<const cpuid_entry> entries) const -> result<void> {
  if (entries.size() > max_cpuid_entries) {
    return failure(errc::too_many_entries);
  }
  fam_buffer<abi::cpuid2_header, ::kvm_cpuid_entry2> buffer{entries.size()};
  buffer.header()->nent = static_cast<std::uint32_t>(entries.size());
  std::ranges::copy(entries, buffer.entries());
  if (auto r = sys::ioctl_with_ptr(fd_, abi::set_cpuid2, buffer.header()); !r) {
    return std::unexpected(r.error());
  }
  return {};
}

auto vcpu::get_cpuid2() const -> result<std::vector<cpuid_entry>> {
  fam_buffer<abi::cpuid2_header, ::kvm_cpuid_entry2> buffer{max_cpuid_entries};
  buffer.header()->nent = static_cast<std::uint32_t>(max_cpuid_entries);
  if (auto r = sys::ioctl_with_ptr(fd_, abi::get_cpuid2, buffer.header()); !r) {
    return std::unexpected(r.error());
  }
  const auto count = std::min<std::size_t>(buffer.header()->nent, max_cpuid_entries);
  return std::vector<cpuid_entry>(buffer.entries(), buffer.entries() + count);
}

auto vcpu::harvest_dirty_ring() -> result<std::vector<dirty_page>> {
  if (ring_.empty()) {
    return failure(errc::dirty_ring_not_enabled);
  }
  const std::size_t count = ring_.size() / sizeof(::kvm_dirty_gfn);
  // The ring is a page-aligned array of kvm_dirty_gfn that KVM shares with this process (vm::enable_dirty_ring).
  auto* gfns = reinterpret_cast<::kvm_dirty_gfn*>(ring_.data());  // NOLINT(*-reinterpret-cast)
  std::vector<dirty_page> pages;
  for (std::size_t i = 0; i < count; ++i) {
    auto& gfn = gfns[ring_next_ % count];  // NOLINT(*-pointer-arithmetic): index below count
    const std::atomic_ref<std::uint32_t> flags{gfn.flags};
    // Acquire: slot and offset were written by KVM before it published the entry as dirty.
    if ((flags.load(std::memory_order_acquire) & KVM_DIRTY_GFN_F_DIRTY) == 0) {
      break;
    }
    pages.push_back({.slot = gfn.slot, .offset = gfn.offset});
    // Release: hands the entry back; KVM_RESET_DIRTY_RINGS collects entries marked for reset.
    flags.store(KVM_DIRTY_GFN_F_RESET, std::memory_order_release);
    ++ring_next_;
  }
  return pages;
}

}  // namespace vmm::kvm
