module;
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <termios.h>
module vmm.sys;
import std;

namespace vmm::sys {

// The request-number helpers must agree with the kernel's own macros. A few real requests of each shape:
static_assert(io(KVMIO, 0x00) == KVM_GET_API_VERSION);
static_assert(io(KVMIO, 0x01) == KVM_CREATE_VM);
static_assert(io(KVMIO, 0x80) == KVM_RUN);
static_assert(ior<kvm_regs>(KVMIO, 0x81) == KVM_GET_REGS);
static_assert(iow<kvm_regs>(KVMIO, 0x82) == KVM_SET_REGS);
static_assert(ior<kvm_sregs>(KVMIO, 0x83) == KVM_GET_SREGS);
static_assert(iow<kvm_userspace_memory_region>(KVMIO, 0x46) == KVM_SET_USER_MEMORY_REGION);
static_assert(iow<kvm_irqfd>(KVMIO, 0x76) == KVM_IRQFD);
static_assert(iowr<kvm_cpuid2>(KVMIO, 0x05) == KVM_GET_SUPPORTED_CPUID);
static_assert(iowr<kvm_msrs>(KVMIO, 0x88) == KVM_GET_MSRS);
static_assert(ior<unsigned int>('T', 0x30) == TIOCGPTN);

auto ioctl(borrowed_fd fd, unsigned long request) -> result<int> {
  // SAFETY: a request without an argument passes no pointer to the kernel. ioctl is variadic, so the third
  // argument is passed explicitly as 0: otherwise the kernel reads whatever the register holds, and KVM rejects a
  // non-zero argument for KVM_GET_API_VERSION and KVM_RUN, and reads KVM_CREATE_VM's as the machine type.
  const int ret = ::ioctl(fd.get(), request, 0UL);
  if (ret < 0) {
    return os_failure();
  }
  return ret;
}

auto ioctl_with_val(borrowed_fd fd, unsigned long request, unsigned long value) -> result<int> {
  // SAFETY: the argument is passed by value; no memory is shared with the kernel.
  const int ret = ::ioctl(fd.get(), request, value);
  if (ret < 0) {
    return os_failure();
  }
  return ret;
}

auto ioctl_with_ptr(borrowed_fd fd, unsigned long request, void* argument) -> result<int> {
  // SAFETY: the caller guarantees that `argument` points to live memory of the layout `request` expects (see the
  // declaration); the kernel accesses it only during the call.
  const int ret = ::ioctl(fd.get(), request, argument);
  if (ret < 0) {
    return os_failure();
  }
  return ret;
}

}  // namespace vmm::sys
