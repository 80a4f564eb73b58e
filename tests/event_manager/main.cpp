// The one translation unit of test_event_manager that defines the Boost.Test module (header-only Boost.Test).
#define BOOST_TEST_MODULE vmm_event_manager
#include <boost/test/included/unit_test.hpp>
