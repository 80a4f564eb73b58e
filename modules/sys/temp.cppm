// vmm.sys:temp — temporary files and directories that remove themselves.
export module vmm.sys:temp;
import std;
import :error;
import :fd;

export namespace vmm::sys {

/// A new, uniquely named file (mode 0600, close-on-exec), unlinked and closed on destruction.
class temp_file {
 public:
  /// Creates `<directory>/<prefix>XXXXXX`. `directory` defaults to std::filesystem::temp_directory_path().
  /// Errors: vmm::sys::errc::invalid_name when `prefix` holds '/' or NUL; ENOENT/EACCES for a bad directory.
  [[nodiscard]] static auto create(std::string_view prefix = "vmm-", std::filesystem::path directory = {})
      -> result<temp_file>;

  temp_file(temp_file&& other) noexcept;
  auto operator=(temp_file&& other) noexcept -> temp_file&;
  temp_file(const temp_file&) = delete;
  auto operator=(const temp_file&) -> temp_file& = delete;
  ~temp_file();

  [[nodiscard]] auto path() const noexcept -> const std::filesystem::path& { return path_; }
  [[nodiscard]] auto fd() const noexcept -> borrowed_fd { return fd_.borrow(); }

  /// Keeps the file on disk: the destructor will only close the descriptor. Returns the path, which path() also
  /// keeps reporting.
  auto persist() noexcept -> const std::filesystem::path&;

 private:
  temp_file(unique_fd fd, std::filesystem::path path) noexcept : fd_{std::move(fd)}, path_{std::move(path)} {}
  void remove() noexcept;
  unique_fd fd_;
  std::filesystem::path path_;
  bool keep_ = false;
};

/// A new, uniquely named directory (mode 0700), removed with everything in it on destruction.
class temp_dir {
 public:
  /// Creates `<parent>/<prefix>XXXXXX`. Errors: as temp_file::create.
  [[nodiscard]] static auto create(std::string_view prefix = "vmm-", std::filesystem::path parent = {})
      -> result<temp_dir>;

  temp_dir(temp_dir&& other) noexcept;
  auto operator=(temp_dir&& other) noexcept -> temp_dir&;
  temp_dir(const temp_dir&) = delete;
  auto operator=(const temp_dir&) -> temp_dir& = delete;
  ~temp_dir();

  [[nodiscard]] auto path() const noexcept -> const std::filesystem::path& { return path_; }

 private:
  explicit temp_dir(std::filesystem::path path) noexcept : path_{std::move(path)} {}
  void remove() noexcept;
  std::filesystem::path path_;
};

}  // namespace vmm::sys
