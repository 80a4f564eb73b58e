// vmm.loader:cmdline — building a kernel command line that the kernel parses back into exactly what was put in
// (rust-vmm linux-loader's Cmdline).
//
// The kernel splits parameters at spaces and lets a value hold spaces only between double quotes, with no escapes
// (lib/cmdline.c, next_arg): so a value with a space is quoted, and a double quote inside a value, a key with a space
// or '=', and control characters are refused. Arguments after " -- " go to init; they are kept last whatever is
// inserted later.
export module vmm.loader:cmdline;
import std;
import vmm.sys;
import vmm.memory;
import :error;

export namespace vmm::loader {

/// A kernel command line with a fixed capacity.
class cmdline {
 public:
  /// An empty command line of at most `capacity` characters, not counting the terminating NUL (the setup header's
  /// cmdline_size has the same meaning).
  explicit cmdline(std::size_t capacity) noexcept : capacity_{capacity} {}

  /// Appends `key=value`, quoting the value when it holds a space. Errors: errc::cmdline_bad_key (empty key, or a
  /// space, '=' or '"' in it), errc::cmdline_invalid_character (a control character in either),
  /// errc::cmdline_quote_in_value, errc::cmdline_too_long. On error nothing changes.
  [[nodiscard]] auto insert(std::string_view key, std::string_view value) -> result<void>;

  /// Appends `key=value` with a number as the value (decimal).
  [[nodiscard]] auto insert(std::string_view key, std::uint64_t value) -> result<void>;

  /// Appends a bare flag such as `quiet`. Errors: as insert for a key.
  [[nodiscard]] auto insert_flag(std::string_view flag) -> result<void>;

  /// Appends arguments for init, kept after " -- " at the end of the line (a second call appends to them,
  /// separated by a space). Errors: errc::cmdline_invalid_character, errc::cmdline_too_long.
  [[nodiscard]] auto insert_init_args(std::string_view args) -> result<void>;

  /// Appends a virtio-mmio device, `virtio_mmio.device=<size>@<base>:<irq>[:<id>]`, the size with a K or M suffix
  /// where it divides evenly. Errors: errc::cmdline_bad_device (size zero, or base + size past 2^64),
  /// errc::cmdline_too_long.
  [[nodiscard]] auto add_virtio_mmio_device(std::uint64_t size, memory::guest_address base, std::uint32_t irq,
                                            std::optional<std::uint32_t> id = std::nullopt) -> result<void>;

  /// The command line as the kernel will see it (no NUL).
  [[nodiscard]] auto str() const -> std::string;
  /// The command line followed by its NUL: what goes into guest memory.
  [[nodiscard]] auto bytes_with_nul() const -> std::vector<std::byte>;
  /// Characters in str().
  [[nodiscard]] auto size() const noexcept -> std::size_t;
  /// The most characters the line may hold (without the NUL).
  [[nodiscard]] inline auto capacity() const noexcept -> std::size_t { return capacity_; }
  /// What the last failed insert found wrong, with the capacity where it was exceeded ("" after success).
  [[nodiscard]] inline auto last_error_detail() const noexcept -> std::string_view { return detail_; }

  /// Writes bytes_with_nul() to guest memory at `address`. Errors: errc::boot_structure_outside_memory.
  [[nodiscard]] auto write_to(const memory::guest_memory& memory, memory::guest_address address) const -> result<void>;

 private:
  [[nodiscard]] auto check_key(std::string_view key) -> result<void>;
  [[nodiscard]] auto append_parameter(std::string text) -> result<void>;
  [[nodiscard]] auto fail(errc e, std::string detail) -> std::unexpected<std::error_code>;

  std::size_t capacity_;
  std::string parameters_;
  std::string init_args_;
  std::string detail_;
};

}  // namespace vmm::loader
