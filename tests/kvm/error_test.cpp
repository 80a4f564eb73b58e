// The vmm.kvm error category: its name, one distinct message per errc value, a fallback for unknown values, and
// that OS failures stay in the system category.
#include <boost/test/unit_test.hpp>

#include "guest.hpp"

using namespace kvm_test;

namespace {

// Every enumerator of vmm::kvm::errc, in declaration order. Keep in step with error.cppm.
constexpr std::array all_kvm_errors{
    kvm::errc::api_version_mismatch, kvm::errc::capability_missing,     kvm::errc::bad_exit_data,
    kvm::errc::too_many_entries,     kvm::errc::dirty_ring_not_enabled, kvm::errc::mmap_size_too_small,
    kvm::errc::bitmap_too_small,     kvm::errc::dirty_ring_too_late,    kvm::errc::unknown_slot,
};

// The first value past the last enumerator (unknown_slot == 9).
constexpr int first_unknown_value = 10;

}  // namespace

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(category_is_named_after_the_module) {
  BOOST_TEST(std::string_view{kvm::kvm_category().name()} == "vmm.kvm");
  BOOST_TEST(&make_error_code(kvm::errc::bad_exit_data).category() == &kvm::kvm_category());
}

BOOST_AUTO_TEST_CASE(every_value_has_its_own_message) {
  std::set<std::string> messages;
  for (const auto e : all_kvm_errors) {
    const auto message = make_error_code(e).message();
    BOOST_TEST(!message.starts_with("Unknown"), message);
    messages.insert(message);
  }
  BOOST_TEST(messages.size() == all_kvm_errors.size());
}

BOOST_AUTO_TEST_CASE(unknown_value_names_the_number) {
  const std::error_code unknown{first_unknown_value, kvm::kvm_category()};
  BOOST_TEST(unknown.message() == "Unknown vmm.kvm error " + std::to_string(first_unknown_value));
}

BOOST_AUTO_TEST_CASE(errc_converts_to_error_code_implicitly) {
  const std::error_code code = kvm::errc::unknown_slot;
  BOOST_TEST(code.value() == static_cast<int>(kvm::errc::unknown_slot));
  BOOST_TEST(code != std::error_code(static_cast<int>(kvm::errc::unknown_slot), std::system_category()));
}

BOOST_AUTO_TEST_SUITE_END()
