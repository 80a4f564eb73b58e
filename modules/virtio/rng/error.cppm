// vmm.virtio.rng:error — what the entropy device refuses.
export module vmm.virtio.rng:error;
import std;

export namespace vmm::virtio::rng {

/// Failures the entropy device reports (OS failures keep their errno in std::system_category()).
enum class errc : std::uint8_t {
  wrong_queue_count = 1,  ///< activate: the activation does not hold exactly one queue and one queue event
  no_memory,              ///< activate: the activation has no guest memory
  no_interrupt,           ///< activate: the activation has no interrupt
  already_active,         ///< activate: the device is active (reset it first)
  queue_broken,           ///< the request queue broke (the driver corrupted its rings); the device needs a reset
};

/// The category of vmm::virtio::rng::errc, named "vmm.virtio.rng".
[[nodiscard]] auto rng_category() noexcept -> const std::error_category&;

/// Makes a std::error_code from an errc (found by argument-dependent lookup).
[[nodiscard]] auto make_error_code(errc e) noexcept -> std::error_code;

}  // namespace vmm::virtio::rng

template <>
struct std::is_error_code_enum<vmm::virtio::rng::errc> : std::true_type {};
