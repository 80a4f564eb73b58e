// The one translation unit of test_virtio_rng that defines the Boost.Test module (header-only Boost.Test).
#define BOOST_TEST_MODULE vmm_virtio_rng
#include <boost/test/included/unit_test.hpp>
