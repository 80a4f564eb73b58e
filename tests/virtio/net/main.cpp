// The one translation unit of test_virtio_net that defines the Boost.Test module (header-only Boost.Test).
#define BOOST_TEST_MODULE vmm_virtio_net
#include <boost/test/included/unit_test.hpp>
