// The one translation unit of test_devices_legacy that defines the Boost.Test module (header-only Boost.Test).
#define BOOST_TEST_MODULE vmm_devices_legacy
#include <boost/test/included/unit_test.hpp>
