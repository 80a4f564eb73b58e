// Helpers shared by the test_loader sources (included after the imports they use: no #include of its own).
#pragma once

namespace loader_test {

namespace mem = vmm::memory;
namespace ld = vmm::loader;

inline constexpr std::uint64_t mib = std::uint64_t{1} << 20U;

/// The exact error code of a vmm::loader::errc.
inline auto error(ld::errc e) -> std::error_code {
  return make_error_code(e);
}

/// Anonymous guest memory with one region [start, start + size).
inline auto memory_of(std::uint64_t start, std::uint64_t size) -> mem::guest_memory {
  const std::array ranges{mem::guest_range{.start = mem::guest_address{start}, .size = size}};
  auto memory = mem::guest_memory::anonymous(ranges);
  BOOST_TEST_REQUIRE(memory.has_value(), vmm::testing::describe(memory));
  return std::move(*memory);
}

/// `length` bytes of guest memory at `address`.
inline auto guest_bytes(const mem::guest_memory& memory, std::uint64_t address, std::uint64_t length)
    -> std::vector<std::byte> {
  std::vector<std::byte> out(length);
  auto read = memory.read_exact(mem::guest_address{address}, out);
  BOOST_TEST_REQUIRE(read.has_value(), vmm::testing::describe(read));
  return out;
}

/// Whether `length` bytes of guest memory at `address` are all `value`.
inline auto all_bytes_are(const mem::guest_memory& memory, std::uint64_t address, std::uint64_t length, std::byte value)
    -> bool {
  const auto bytes = guest_bytes(memory, address, length);
  return std::ranges::all_of(bytes, [value](std::byte b) { return b == value; });
}

/// Fills all of a one-region guest memory with `value` (so "unchanged" means something).
inline void fill(const mem::guest_memory& memory, std::byte value) {
  for (const auto& region : memory.regions()) {
    std::memset(region->host_address(), std::to_integer<int>(value), region->size());
  }
}

/// A file in the test's temporary directory holding `bytes`, removed when the object goes.
class temp_file {
 public:
  explicit temp_file(std::span<const std::byte> bytes)
      : path_{std::filesystem::temp_directory_path() /
              std::format("test_loader_{:x}_{}.bin", std::random_device{}(), counter_++)} {
    std::ofstream out{path_, std::ios::binary};
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  temp_file(const temp_file&) = delete;
  auto operator=(const temp_file&) -> temp_file& = delete;
  ~temp_file() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  [[nodiscard]] auto path() const -> const std::filesystem::path& { return path_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

}  // namespace loader_test
