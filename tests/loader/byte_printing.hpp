// Lets BOOST_TEST print std::byte in hex when a check fails. Included right after <boost/test/unit_test.hpp>.
#pragma once
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <ios>
#include <ostream>

template <>
struct boost::test_tools::tt_detail::print_log_value<std::byte> {
  void operator()(std::ostream& out, std::byte value) const {
    out << "0x" << std::hex << std::to_integer<unsigned>(value) << std::dec;
  }
};
