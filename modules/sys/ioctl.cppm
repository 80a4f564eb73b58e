// vmm.sys:ioctl — ioctl request numbers computed at compile time, and the checked ioctl calls.
//
// The kernel encodes a request as direction (2 bits) | size of the argument (14 bits) | type (8 bits) | number
// (8 bits) (asm-generic/ioctl.h, which x86-64 and arm64 use). The helpers below compute the same numbers as the
// kernel's _IO/_IOR/_IOW/_IOWR macros; ioctl.cpp checks them against the real macros for KVM requests.
module;
#include <sys/ioctl.h>
export module vmm.sys:ioctl;
import std;
import :error;
import :fd;

export namespace vmm::sys {

/// A direction of data transfer in an ioctl request, as seen from user space.
enum class ioctl_dir : std::uint8_t { none = 0, write = 1, read = 2, read_write = 3 };

/// The request number for (direction, type, number, argument size). Sizes of 2^14 bytes or more cannot be encoded;
/// asking for one fails compilation in a constant expression.
[[nodiscard]] consteval auto ioctl_request(ioctl_dir dir, std::uint32_t type, std::uint32_t nr, std::size_t size)
    -> unsigned long {
  if (type > 0xff || nr > 0xff || size >= (std::size_t{1} << 14)) {
    throw "ioctl request fields out of range";  // a throw in a consteval function is a compile error
  }
  return (static_cast<unsigned long>(std::to_underlying(dir)) << 30U) | (static_cast<unsigned long>(size) << 16U) |
         (static_cast<unsigned long>(type) << 8U) | static_cast<unsigned long>(nr);
}

/// _IO(type, nr): a request without an argument structure.
[[nodiscard]] consteval auto io(std::uint32_t type, std::uint32_t nr) -> unsigned long {
  return ioctl_request(ioctl_dir::none, type, nr, 0);
}
/// _IOR(type, nr, T): the kernel writes a T to user space.
template <class T>
[[nodiscard]] consteval auto ior(std::uint32_t type, std::uint32_t nr) -> unsigned long {
  return ioctl_request(ioctl_dir::read, type, nr, sizeof(T));
}
/// _IOW(type, nr, T): the kernel reads a T from user space.
template <class T>
[[nodiscard]] consteval auto iow(std::uint32_t type, std::uint32_t nr) -> unsigned long {
  return ioctl_request(ioctl_dir::write, type, nr, sizeof(T));
}
/// _IOWR(type, nr, T): the kernel reads and writes a T.
template <class T>
[[nodiscard]] consteval auto iowr(std::uint32_t type, std::uint32_t nr) -> unsigned long {
  return ioctl_request(ioctl_dir::read_write, type, nr, sizeof(T));
}

/// ioctl(fd, request) with no argument. Returns the call's non-negative result; errors carry errno (EBADF for a
/// closed fd, ENOTTY for a request the fd does not understand, EINTR when interrupted).
[[nodiscard]] auto ioctl(borrowed_fd fd, unsigned long request) -> result<int>;

/// ioctl(fd, request, value) with an integer argument.
[[nodiscard]] auto ioctl_with_val(borrowed_fd fd, unsigned long request, unsigned long value) -> result<int>;

/// ioctl(fd, request, pointer). Safety: `argument` must point to memory of the size and layout that `request`
/// expects, valid (and writable, for read or read-write requests) for the duration of the call.
[[nodiscard]] auto ioctl_with_ptr(borrowed_fd fd, unsigned long request, void* argument) -> result<int>;

/// ioctl(fd, request, &argument) where the kernel only reads `argument`.
template <class T>
  requires std::is_trivially_copyable_v<T>
[[nodiscard]] auto ioctl_with_ref(borrowed_fd fd, unsigned long request, const T& argument) -> result<int> {
  // The kernel only reads through the pointer for a write-direction request, so dropping const is sound.
  return ioctl_with_ptr(fd, request, const_cast<T*>(std::addressof(argument)));  // NOLINT(*-const-cast)
}

/// ioctl(fd, request, &argument) where the kernel may write `argument`.
template <class T>
  requires std::is_trivially_copyable_v<T>
[[nodiscard]] auto ioctl_with_mut_ref(borrowed_fd fd, unsigned long request, T& argument) -> result<int> {
  return ioctl_with_ptr(fd, request, std::addressof(argument));
}

}  // namespace vmm::sys
