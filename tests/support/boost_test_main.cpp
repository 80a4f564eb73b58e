// The Boost.Test framework (header-only Boost 1.74) and the main() of every test executable, compiled once per build
// tree. Each executable used to compile <boost/test/included/unit_test.hpp> in a main.cpp of its own: 30-45 s of CPU
// per executable under the sanitizers, the largest single part of the test command's build time.
//
// The master test suite takes the executable's name (test_sys, test_memory, ...), as BOOST_TEST_MODULE did.
#include <boost/test/included/unit_test.hpp>

#include <string_view>

auto init_unit_test_suite(int argc, char* argv[]) -> boost::unit_test::test_suite* {
  if (argc > 0 && argv[0] != nullptr) {
    std::string_view name{argv[0]};
    if (const auto slash = name.rfind('/'); slash != std::string_view::npos) {
      name.remove_prefix(slash + 1);
    }
    boost::unit_test::framework::master_test_suite().p_name.value = std::string{name};
  }
  return nullptr;
}
