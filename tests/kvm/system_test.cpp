// The /dev/kvm fd against the real kernel: API version, capabilities, CPUID and MSR lists (grown until they fit),
// the vCPU mapping size, and VM creation.
#include <boost/test/unit_test.hpp>

#include "guest.hpp"

using namespace kvm_test;
using vmm::testing::describe;
using vmm::testing::error_of;

namespace {

constexpr std::uint32_t msr_ia32_tsc = 0x10;

}  // namespace

BOOST_AUTO_TEST_SUITE(system_fd)

BOOST_AUTO_TEST_CASE(open_checks_api_version_12) {
  if (!vmm::testing::open_kvm()) {
    BOOST_TEST_MESSAGE("skipped: /dev/kvm cannot be opened");
    return;
  }
  const auto system = kvm::kvm::open();
  BOOST_TEST_REQUIRE(system.has_value(), describe(system));
  BOOST_TEST(system->get_api_version().value_or(0) == kvm::api_version);
  BOOST_TEST(system->fd().valid());
}

BOOST_AUTO_TEST_CASE(check_extension_reports_irqchip_and_a_vcpu_count) {
  auto system = open_system();
  if (!system) {
    return;
  }
  BOOST_TEST(system->check_extension(kvm::cap::irqchip).value_or(0) > 0);
  BOOST_TEST(system->check_extension(kvm::cap::max_vcpus).value_or(0) >= 1);
  BOOST_TEST(system->check_extension(kvm::cap::immediate_exit).value_or(0) > 0);
  BOOST_TEST(system->check_extension(0xffff).value_or(-1) == 0);  // no capability has that number
}

BOOST_AUTO_TEST_CASE(supported_cpuid_holds_the_vendor_and_feature_leaves) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto leaves = system->supported_cpuid();
  BOOST_TEST_REQUIRE(leaves.has_value(), describe(leaves));
  BOOST_TEST(leaves->size() > 16U);  // more than the first buffer (16) holds: the E2BIG growth was taken
  BOOST_TEST(std::ranges::any_of(*leaves, [](const kvm::cpuid_entry& e) { return e.function == 0; }));
  BOOST_TEST(std::ranges::any_of(*leaves, [](const kvm::cpuid_entry& e) { return e.function == 1; }));
}

BOOST_AUTO_TEST_CASE(emulated_cpuid_lists_leaves) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto leaves = system->emulated_cpuid();
  BOOST_TEST_REQUIRE(leaves.has_value(), describe(leaves));
  BOOST_TEST(!leaves->empty());
}

BOOST_AUTO_TEST_CASE(msr_index_list_holds_the_tsc) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto list = system->msr_index_list();
  BOOST_TEST_REQUIRE(list.has_value(), describe(list));
  BOOST_TEST(std::ranges::contains(*list, msr_ia32_tsc));
}

BOOST_AUTO_TEST_CASE(feature_msrs_listed_can_be_read) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto list = system->feature_msr_list();
  if (error_of(list) == make_error_code(kvm::errc::capability_missing)) {
    BOOST_TEST_MESSAGE("skipped: no KVM_CAP_GET_MSR_FEATURES");
    return;
  }
  BOOST_TEST_REQUIRE(list.has_value(), describe(list));
  BOOST_TEST_REQUIRE(!list->empty());
  std::vector<kvm::msr_entry> entries;
  for (const auto index : *list) {
    entries.push_back({.index = index, .reserved = 0, .data = 0});
  }
  const auto read = system->get_feature_msrs(entries);
  BOOST_TEST_REQUIRE(read.has_value(), describe(read));
  BOOST_TEST(*read == entries.size());
}

BOOST_AUTO_TEST_CASE(vcpu_mmap_size_holds_kvm_run) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto size = system->vcpu_mmap_size();
  BOOST_TEST_REQUIRE(size.has_value(), describe(size));
  BOOST_TEST(*size >= kvm::kvm_run_size());
}

BOOST_AUTO_TEST_CASE(create_vm_gives_a_vm_with_per_vm_capabilities) {
  auto system = open_system();
  if (!system) {
    return;
  }
  const auto vm = system->create_vm();
  BOOST_TEST_REQUIRE(vm.has_value(), describe(vm));
  BOOST_TEST(vm->fd().valid());
  BOOST_TEST(vm->check_extension(kvm::cap::nr_memslots).value_or(0) > 0);
  BOOST_TEST(vm->dirty_ring_bytes() == 0U);
}

BOOST_AUTO_TEST_SUITE_END()
