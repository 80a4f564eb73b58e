// The one translation unit of test_bench_stats that defines the Boost.Test module (header-only Boost.Test).
#define BOOST_TEST_MODULE vmm_bench_stats
#include <boost/test/included/unit_test.hpp>
