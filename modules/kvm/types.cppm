// vmm.kvm:types — the x86-64 KVM structures (register files, CPUID and MSR entries, ...) under cpp-vmm names, the
// capability numbers, and the uAPI of Linux 6.18 that the build machine's headers (Linux 6.1) predate.
//
// The register structures are the kernel's own (kvm-bindings' role): their layout is the ABI, so a value read from
// one kernel can be written to another. The names below are aliases, not copies, so fields keep the kernel's names
// (regs.rax, sregs.cr0, cpuid_entry.function).
//
// The kernel structures with a flexible array (kvm_msrs, kvm_cpuid2, kvm_msr_list, kvm_irq_routing, kvm_xsave) are
// NOT used from the headers: their __DECLARE_FLEX_ARRAY puts an empty struct before the array, which is 0 bytes in C
// and 1 byte in C++, so in C++ the array starts 8 bytes late and sizeof (hence the _IOWR request number the header
// macros compute, such as KVM_GET_MSRS) differs from the kernel's. abi:: below has the C layouts and requests.
module;
#include <linux/kvm.h>
export module vmm.kvm:types;
import std;
import vmm.sys;

export namespace vmm::kvm {

/// General-purpose registers, rip and rflags (struct kvm_regs).
using regs = ::kvm_regs;
/// Segment, control and descriptor-table registers, EFER, the APIC base, pending interrupts (struct kvm_sregs).
using sregs = ::kvm_sregs;
/// One segment register (struct kvm_segment).
using segment = ::kvm_segment;
/// The GDT or IDT register (struct kvm_dtable).
using dtable = ::kvm_dtable;
/// The x87/SSE state (struct kvm_fpu).
using fpu = ::kvm_fpu;
/// The local APIC's 1 KiB register page (struct kvm_lapic_state).
using lapic_state = ::kvm_lapic_state;
/// One MSR: index and value (struct kvm_msr_entry).
using msr_entry = ::kvm_msr_entry;
/// One CPUID leaf (struct kvm_cpuid_entry2).
using cpuid_entry = ::kvm_cpuid_entry2;
/// The legacy 4 KiB XSAVE area (struct kvm_xsave without its flexible tail, which KVM_GET_XSAVE never writes).
struct xsave {
  std::array<std::uint32_t, 1024> region{};
};
static_assert(sizeof(xsave) == sizeof(::kvm_xsave::region));
/// The extended control registers, XCR0 and friends (struct kvm_xcrs).
using xcrs = ::kvm_xcrs;
/// The multiprocessing state (struct kvm_mp_state: runnable, halted, INIT received, ...).
using mp_state = ::kvm_mp_state;
/// Pending exceptions, interrupts, NMIs and SMIs (struct kvm_vcpu_events).
using vcpu_events = ::kvm_vcpu_events;
/// DR0-DR3, DR6, DR7 (struct kvm_debugregs).
using debugregs = ::kvm_debugregs;
/// The kvmclock value (struct kvm_clock_data).
using clock_data = ::kvm_clock_data;

/// The multiprocessing states of mp_state::mp_state.
namespace mp {
inline constexpr std::uint32_t runnable = KVM_MP_STATE_RUNNABLE;
inline constexpr std::uint32_t uninitialized = KVM_MP_STATE_UNINITIALIZED;
inline constexpr std::uint32_t init_received = KVM_MP_STATE_INIT_RECEIVED;
inline constexpr std::uint32_t halted = KVM_MP_STATE_HALTED;
inline constexpr std::uint32_t sipi_received = KVM_MP_STATE_SIPI_RECEIVED;
}  // namespace mp

/// The type of a system_event exit (KVM_SYSTEM_EVENT_*).
namespace system_event_type {
inline constexpr std::uint32_t shutdown = KVM_SYSTEM_EVENT_SHUTDOWN;
inline constexpr std::uint32_t reset = KVM_SYSTEM_EVENT_RESET;
inline constexpr std::uint32_t crash = KVM_SYSTEM_EVENT_CRASH;
}  // namespace system_event_type

/// Capability numbers for kvm::check_extension, vm::check_extension and vm::enable_cap (KVM_CAP_*).
namespace cap {
inline constexpr unsigned irqchip = KVM_CAP_IRQCHIP;
inline constexpr unsigned hlt = KVM_CAP_HLT;
inline constexpr unsigned user_memory = KVM_CAP_USER_MEMORY;
inline constexpr unsigned set_tss_addr = KVM_CAP_SET_TSS_ADDR;
inline constexpr unsigned ext_cpuid = KVM_CAP_EXT_CPUID;
inline constexpr unsigned nr_vcpus = KVM_CAP_NR_VCPUS;
inline constexpr unsigned max_vcpus = KVM_CAP_MAX_VCPUS;
inline constexpr unsigned nr_memslots = KVM_CAP_NR_MEMSLOTS;
inline constexpr unsigned mp_state = KVM_CAP_MP_STATE;
inline constexpr unsigned set_identity_map_addr = KVM_CAP_SET_IDENTITY_MAP_ADDR;
inline constexpr unsigned adjust_clock = KVM_CAP_ADJUST_CLOCK;
inline constexpr unsigned irq_routing = KVM_CAP_IRQ_ROUTING;
inline constexpr unsigned irqfd = KVM_CAP_IRQFD;
inline constexpr unsigned irqfd_resample = KVM_CAP_IRQFD_RESAMPLE;
inline constexpr unsigned ioeventfd = KVM_CAP_IOEVENTFD;
inline constexpr unsigned ioeventfd_any_length = KVM_CAP_IOEVENTFD_ANY_LENGTH;
inline constexpr unsigned pit2 = KVM_CAP_PIT2;
inline constexpr unsigned signal_msi = KVM_CAP_SIGNAL_MSI;
inline constexpr unsigned vcpu_events = KVM_CAP_VCPU_EVENTS;
inline constexpr unsigned debugregs = KVM_CAP_DEBUGREGS;
inline constexpr unsigned xsave = KVM_CAP_XSAVE;
inline constexpr unsigned xcrs = KVM_CAP_XCRS;
inline constexpr unsigned readonly_mem = KVM_CAP_READONLY_MEM;
inline constexpr unsigned ext_emul_cpuid = KVM_CAP_EXT_EMUL_CPUID;
inline constexpr unsigned split_irqchip = KVM_CAP_SPLIT_IRQCHIP;
inline constexpr unsigned immediate_exit = KVM_CAP_IMMEDIATE_EXIT;
inline constexpr unsigned get_msr_features = KVM_CAP_GET_MSR_FEATURES;
inline constexpr unsigned manual_dirty_log_protect2 = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2;
inline constexpr unsigned dirty_log_ring = KVM_CAP_DIRTY_LOG_RING;
inline constexpr unsigned dirty_log_ring_acq_rel = KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
inline constexpr unsigned xsave2 = KVM_CAP_XSAVE2;
/// KVM_CAP_USER_MEMORY2 (Linux 6.8): KVM_SET_USER_MEMORY_REGION2.
inline constexpr unsigned user_memory2 = 231;
/// KVM_CAP_GUEST_MEMFD (Linux 6.8): KVM_CREATE_GUEST_MEMFD.
inline constexpr unsigned guest_memfd = 234;
/// KVM_CAP_GUEST_MEMFD_FLAGS (Linux 6.18): the guest_memfd flags this VM accepts.
inline constexpr unsigned guest_memfd_flags = 244;
}  // namespace cap

/// Flags of a memory slot (KVM_MEM_*).
namespace memory_flags {
/// KVM_MEM_LOG_DIRTY_PAGES: keep a dirty log for the slot (get_dirty_log).
inline constexpr std::uint32_t log_dirty_pages = KVM_MEM_LOG_DIRTY_PAGES;
/// KVM_MEM_READONLY: guest writes to the slot exit as mmio_write.
inline constexpr std::uint32_t read_only = KVM_MEM_READONLY;
/// KVM_MEM_GUEST_MEMFD (Linux 6.8): the slot's memory comes from a guest_memfd.
inline constexpr std::uint32_t guest_memfd = 1U << 2U;
}  // namespace memory_flags

/// Flags of create_guest_memfd (GUEST_MEMFD_FLAG_*).
namespace guest_memfd_flags {
/// GUEST_MEMFD_FLAG_MMAP (Linux 6.18): the fd can be mmap()ed by the VMM.
inline constexpr std::uint64_t mmap = 1U << 0U;
/// GUEST_MEMFD_FLAG_INIT_SHARED (Linux 6.18): the memory starts shared, i.e. host-accessible.
inline constexpr std::uint64_t init_shared = 1U << 1U;
}  // namespace guest_memfd_flags

/// KVM_PIT_SPEAKER_DUMMY for create_pit2: port 0x61 reads as a dummy speaker.
inline constexpr std::uint32_t pit_speaker_dummy = KVM_PIT_SPEAKER_DUMMY;

/// KVM_IRQCHIP_* numbers of an irqchip route (the PIC pair and the IOAPIC of the in-kernel irqchip).
namespace irqchip {
inline constexpr std::uint32_t pic_master = KVM_IRQCHIP_PIC_MASTER;
inline constexpr std::uint32_t pic_slave = KVM_IRQCHIP_PIC_SLAVE;
inline constexpr std::uint32_t ioapic = KVM_IRQCHIP_IOAPIC;
}  // namespace irqchip

}  // namespace vmm::kvm

// Not exported: the C layouts of the flexible-array headers and the requests that use them (see the file comment).
namespace vmm::kvm::abi {

struct msrs_header {  // struct kvm_msrs before entries[]
  std::uint32_t nmsrs;
  std::uint32_t pad;
};
struct cpuid2_header {  // struct kvm_cpuid2 before entries[]
  std::uint32_t nent;
  std::uint32_t padding;
};
struct msr_list_header {  // struct kvm_msr_list before indices[]
  std::uint32_t nmsrs;
};
struct irq_routing_header {  // struct kvm_irq_routing before entries[]
  std::uint32_t nr;
  std::uint32_t flags;
};

inline constexpr auto get_msr_index_list = sys::iowr<msr_list_header>(KVMIO, 0x02);
inline constexpr auto get_supported_cpuid = sys::iowr<cpuid2_header>(KVMIO, 0x05);
inline constexpr auto get_emulated_cpuid = sys::iowr<cpuid2_header>(KVMIO, 0x09);
inline constexpr auto get_msr_feature_index_list = sys::iowr<msr_list_header>(KVMIO, 0x0a);
inline constexpr auto set_gsi_routing = sys::iow<irq_routing_header>(KVMIO, 0x6a);
inline constexpr auto get_msrs = sys::iowr<msrs_header>(KVMIO, 0x88);
inline constexpr auto set_msrs = sys::iow<msrs_header>(KVMIO, 0x89);
inline constexpr auto set_cpuid2 = sys::iow<cpuid2_header>(KVMIO, 0x90);
inline constexpr auto get_cpuid2 = sys::iowr<cpuid2_header>(KVMIO, 0x91);
inline constexpr auto get_xsave = sys::ior<xsave>(KVMIO, 0xa4);
inline constexpr auto set_xsave = sys::iow<xsave>(KVMIO, 0xa5);

// The values C programs (QEMU, the kernel's selftests) use, as strace shows them.
static_assert(get_msr_index_list == 0xc004ae02);
static_assert(get_supported_cpuid == 0xc008ae05);
static_assert(set_gsi_routing == 0x4008ae6a);
static_assert(get_msrs == 0xc008ae88);
static_assert(set_cpuid2 == 0x4008ae90);
static_assert(get_xsave == 0x9000aea4);
// The entries themselves have no flexible arrays, so their C++ layout is the kernel's.
static_assert(sizeof(::kvm_msr_entry) == 16);
static_assert(sizeof(::kvm_cpuid_entry2) == 40);
static_assert(sizeof(::kvm_irq_routing_entry) == 48);

}  // namespace vmm::kvm::abi
