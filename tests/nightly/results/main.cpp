// The one translation unit of test_bench_results that defines the Boost.Test module (header-only Boost.Test).
#define BOOST_TEST_MODULE vmm_bench_results
#include <boost/test/included/unit_test.hpp>
