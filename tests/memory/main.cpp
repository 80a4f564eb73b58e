// The one translation unit of test_memory that defines the Boost.Test module (header-only Boost.Test).
#define BOOST_TEST_MODULE vmm_memory
#include <boost/test/included/unit_test.hpp>
