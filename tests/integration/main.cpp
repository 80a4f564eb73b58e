// test_integration: the components working together through real KVM — guests that drive the legacy devices on the
// port-I/O bus, a 64-bit guest started with vmm.loader's boot state doing MMIO on the MMIO bus, and stopping a
// vCPU from another thread. Every case skips with a message where /dev/kvm cannot be opened.
#define BOOST_TEST_MODULE vmm_integration
#include <boost/test/included/unit_test.hpp>
