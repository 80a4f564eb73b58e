// vmm.sys:random — the kernel's random number generator (getrandom(2)), for devices that hand entropy to a guest.
export module vmm.sys:random;
import std;
import :error;

export namespace vmm::sys {

/// How get_random waits for entropy.
struct random_options {
  /// GRND_NONBLOCK: fail with EAGAIN instead of blocking while the kernel's pool is not yet initialised (early
  /// boot). Once the pool is initialised getrandom never blocks.
  bool nonblocking = true;
};

/// One getrandom(2) call that fills `out` from the urandom source (the kernel's ChaCha20 CSPRNG). Returns the bytes
/// written, which may be fewer than asked: above 256 bytes a signal can interrupt the call after a partial fill,
/// and one call returns at most 32 MiB - 1. Errors: EAGAIN (nonblocking, pool not initialised), EINTR (interrupted
/// before any byte was written; not retried, as everywhere in vmm.sys), EFAULT for an unmapped buffer. An empty
/// `out` returns 0 without a system call.
[[nodiscard]] auto get_random(std::span<std::byte> out, random_options options = {}) -> result<std::size_t>;

}  // namespace vmm::sys
