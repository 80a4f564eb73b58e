// The one translation unit of test_loader that defines the Boost.Test module (header-only Boost.Test).
#define BOOST_TEST_MODULE vmm_loader
#include <boost/test/included/unit_test.hpp>
