// The one translation unit of test_bench_changepoint that defines the Boost.Test module (header-only Boost.Test).
#define BOOST_TEST_MODULE vmm_bench_changepoint
#include <boost/test/included/unit_test.hpp>
