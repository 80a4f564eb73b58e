// vCPU state through real KVM: every get/set pair round-trips a changed value (set, then get reads it back), and
// run() on a vCPU nobody configured ends in an emulation failure rather than anything the VMM could misread.
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "guest.hpp"

using namespace kvm_test;
using vmm::testing::describe;

namespace {

// hlt
constexpr std::array<std::uint8_t, 1> hlt_program{0xf4};

constexpr std::uint32_t msr_sysenter_cs = 0x174;
constexpr std::uint32_t msr_sysenter_esp = 0x175;
constexpr std::size_t apic_tpr_offset = 0x80;

}  // namespace

BOOST_AUTO_TEST_SUITE(vcpu_state)

BOOST_AUTO_TEST_CASE(regs_round_trip) {
  auto g = make_guest(hlt_program);
  if (!g) {
    return;
  }
  kvm::regs regs{};
  regs.rax = 0x1111;
  regs.rbx = 0x2222;
  regs.rcx = 0x3333;
  regs.rdx = 0x4444;
  regs.rsi = 0x5555;
  regs.rdi = 0x6666;
  regs.r8 = 0x8888;
  regs.r15 = 0xffff'0000'1234;
  regs.rsp = 0x7000;
  regs.rip = code_address;
  regs.rflags = 2;
  BOOST_TEST_REQUIRE(g->vcpu.set_regs(regs).has_value());
  const auto got = g->vcpu.get_regs();
  BOOST_TEST_REQUIRE(got.has_value(), describe(got));
  BOOST_TEST(std::memcmp(&*got, &regs, sizeof regs) == 0);
}

BOOST_AUTO_TEST_CASE(sregs_round_trip) {
  auto g = make_guest(hlt_program);
  if (!g) {
    return;
  }
  auto sregs = g->vcpu.get_sregs();
  BOOST_TEST_REQUIRE(sregs.has_value());
  sregs->ds.base = 0x12340;
  sregs->ds.selector = 0x1234;
  sregs->gdt.base = 0x500;
  sregs->gdt.limit = 0x27;
  BOOST_TEST_REQUIRE(g->vcpu.set_sregs(*sregs).has_value());
  const auto got = g->vcpu.get_sregs();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->ds.base == 0x12340U);
  BOOST_TEST(got->ds.selector == 0x1234U);
  BOOST_TEST(got->gdt.base == 0x500U);
  BOOST_TEST(got->gdt.limit == 0x27U);
}

BOOST_AUTO_TEST_CASE(fpu_round_trip) {
  auto g = make_guest(hlt_program);
  if (!g) {
    return;
  }
  auto fpu = g->vcpu.get_fpu();
  BOOST_TEST_REQUIRE(fpu.has_value());
  fpu->fcw = 0x27f;       // double precision instead of the reset value's extended precision
  fpu->xmm[0][0] = 0xab;  // NOLINT: kernel array
  BOOST_TEST_REQUIRE(g->vcpu.set_fpu(*fpu).has_value());
  const auto got = g->vcpu.get_fpu();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->fcw == 0x27fU);
  BOOST_TEST(got->xmm[0][0] == 0xabU);
}

BOOST_AUTO_TEST_CASE(lapic_round_trip_with_irqchip) {
  auto g = make_guest(hlt_program, {.irqchip = true});
  if (!g) {
    return;
  }
  auto lapic = g->vcpu.get_lapic();
  BOOST_TEST_REQUIRE(lapic.has_value(), describe(lapic));
  lapic->regs[apic_tpr_offset] = 0x20;  // NOLINT: kernel array; task priority 2
  BOOST_TEST_REQUIRE(g->vcpu.set_lapic(*lapic).has_value());
  const auto got = g->vcpu.get_lapic();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->regs[apic_tpr_offset] == 0x20);  // NOLINT
}

BOOST_AUTO_TEST_CASE(msrs_round_trip_and_count_what_was_done) {
  auto g = make_guest(hlt_program);
  if (!g) {
    return;
  }
  const std::array<kvm::msr_entry, 2> written{{{.index = msr_sysenter_cs, .reserved = 0, .data = 0x10},
                                               {.index = msr_sysenter_esp, .reserved = 0, .data = 0x7000}}};
  const auto set = g->vcpu.set_msrs(written);
  BOOST_TEST_REQUIRE(set.has_value(), describe(set));
  BOOST_TEST(*set == 2U);
  std::array<kvm::msr_entry, 2> read{
      {{.index = msr_sysenter_cs, .reserved = 0, .data = 0}, {.index = msr_sysenter_esp, .reserved = 0, .data = 0}}};
  const auto got = g->vcpu.get_msrs(read);
  BOOST_TEST_REQUIRE(got.has_value(), describe(got));
  BOOST_TEST(*got == 2U);
  BOOST_TEST(read[0].data == 0x10U);
  BOOST_TEST(read[1].data == 0x7000U);
}

BOOST_AUTO_TEST_CASE(cpuid2_round_trips_the_leaves_set) {
  auto g = make_guest(hlt_program);
  if (!g) {
    return;
  }
  const auto supported = g->system.supported_cpuid();
  BOOST_TEST_REQUIRE(supported.has_value(), describe(supported));
  // Leaves 0 and 1 only: KVM rewrites parts of the full supported list when it is set.
  std::vector<kvm::cpuid_entry> leaves;
  std::ranges::copy_if(*supported, std::back_inserter(leaves),
                       [](const kvm::cpuid_entry& e) { return e.function <= 1; });
  BOOST_TEST_REQUIRE(leaves.size() == 2U);
  leaves[0].ebx = 0x1234'5678;  // a vendor string of our own, so the values read back are the ones set
  BOOST_TEST_REQUIRE(g->vcpu.set_cpuid2(leaves).has_value());
  const auto got = g->vcpu.get_cpuid2();
  BOOST_TEST_REQUIRE(got.has_value(), describe(got));
  // KVM may add leaves of its own (this kernel adds the XSAVE leaf 0xd sub-leaves), so look the set ones up.
  for (const auto& leaf : leaves) {
    const auto found = std::ranges::find_if(
        *got, [&](const kvm::cpuid_entry& e) { return e.function == leaf.function && e.index == leaf.index; });
    BOOST_TEST_REQUIRE((found != got->end()), "leaf " << leaf.function << " is missing");
    BOOST_TEST(found->eax == leaf.eax);
    BOOST_TEST(found->ebx == leaf.ebx);
  }
}

BOOST_AUTO_TEST_CASE(xsave_round_trips_and_its_legacy_area_is_the_fpu) {
  auto g = make_guest(hlt_program);
  if (!g) {
    return;
  }
  if (g->system.check_extension(kvm::cap::xsave).value_or(0) == 0) {
    BOOST_TEST_MESSAGE("skipped: no KVM_CAP_XSAVE");
    return;
  }
  auto area = g->vcpu.get_xsave();
  BOOST_TEST_REQUIRE(area.has_value(), describe(area));
  area->region[0] = (area->region[0] & 0xffff'0000U) | 0x27fU;  // FCW is the first 16 bits of the legacy area
  area->region[128] |= 1U;  // XSTATE_BV (byte 512) bit 0: the x87 state is in the area, not in its init state
  BOOST_TEST_REQUIRE(g->vcpu.set_xsave(*area).has_value());
  const auto got = g->vcpu.get_xsave();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST((got->region[0] & 0xffffU) == 0x27fU);
  const auto fpu = g->vcpu.get_fpu();
  BOOST_TEST_REQUIRE(fpu.has_value());
  BOOST_TEST(fpu->fcw == 0x27fU);
}

BOOST_AUTO_TEST_CASE(xcrs_round_trip_xcr0) {
  auto g = make_guest(hlt_program);
  if (!g) {
    return;
  }
  if (g->system.check_extension(kvm::cap::xcrs).value_or(0) == 0) {
    BOOST_TEST_MESSAGE("skipped: no KVM_CAP_XCRS");
    return;
  }
  const auto supported = g->system.supported_cpuid();
  BOOST_TEST_REQUIRE(supported.has_value());
  BOOST_TEST_REQUIRE(g->vcpu.set_cpuid2(*supported).has_value());  // XCR0 bits must be ones the guest CPUID has
  auto xcrs = g->vcpu.get_xcrs();
  BOOST_TEST_REQUIRE(xcrs.has_value(), describe(xcrs));
  BOOST_TEST_REQUIRE(xcrs->nr_xcrs >= 1U);
  xcrs->nr_xcrs = 1;
  xcrs->xcrs[0].xcr = 0;
  xcrs->xcrs[0].value = 0x3;  // x87 | SSE
  const auto set = g->vcpu.set_xcrs(*xcrs);
  BOOST_TEST_REQUIRE(set.has_value(), describe(set));
  const auto got = g->vcpu.get_xcrs();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->xcrs[0].value == 0x3U);
}

BOOST_AUTO_TEST_CASE(mp_state_round_trips_halted_with_irqchip) {
  auto g = make_guest(hlt_program, {.irqchip = true});
  if (!g) {
    return;
  }
  BOOST_TEST_REQUIRE(g->vcpu.set_mp_state({.mp_state = kvm::mp::halted}).has_value());
  const auto got = g->vcpu.get_mp_state();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->mp_state == kvm::mp::halted);
}

BOOST_AUTO_TEST_CASE(vcpu_events_round_trip_a_masked_nmi) {
  auto g = make_guest(hlt_program);
  if (!g) {
    return;
  }
  auto events = g->vcpu.get_vcpu_events();
  BOOST_TEST_REQUIRE(events.has_value(), describe(events));
  BOOST_TEST_REQUIRE(events->nmi.masked == 0);
  events->nmi.masked = 1;
  BOOST_TEST_REQUIRE(g->vcpu.set_vcpu_events(*events).has_value());
  const auto got = g->vcpu.get_vcpu_events();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->nmi.masked == 1);
}

BOOST_AUTO_TEST_CASE(debugregs_round_trip_the_breakpoint_addresses) {
  auto g = make_guest(hlt_program);
  if (!g) {
    return;
  }
  auto regs = g->vcpu.get_debugregs();
  BOOST_TEST_REQUIRE(regs.has_value(), describe(regs));
  regs->db[0] = 0x1000;  // NOLINT: kernel array
  regs->db[3] = 0x4000;  // NOLINT
  BOOST_TEST_REQUIRE(g->vcpu.set_debugregs(*regs).has_value());
  const auto got = g->vcpu.get_debugregs();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->db[0] == 0x1000U);  // NOLINT
  BOOST_TEST(got->db[3] == 0x4000U);  // NOLINT
}

BOOST_AUTO_TEST_CASE(run_area_is_the_whole_vcpu_mapping) {
  auto g = make_guest(hlt_program);
  if (!g) {
    return;
  }
  const auto size = g->system.vcpu_mmap_size();
  BOOST_TEST_REQUIRE(size.has_value());
  BOOST_TEST(g->vcpu.run_area().size() >= *size);
  BOOST_TEST(g->vcpu.run_area().size() >= kvm::kvm_run_size());
}

BOOST_AUTO_TEST_SUITE_END()
