module;
#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>
module vmm.sys;
import std;

namespace vmm::sys {
namespace {

// Builds "<directory>/<prefix>XXXXXX" as a mutable, NUL-terminated buffer for mkostemp/mkdtemp.
auto make_template(std::string_view prefix, std::filesystem::path directory) -> result<std::string> {
  if (prefix.find('/') != std::string_view::npos || prefix.find('\0') != std::string_view::npos) {
    return failure(errc::invalid_name);
  }
  if (directory.empty()) {
    std::error_code error;
    directory = std::filesystem::temp_directory_path(error);
    if (error) {
      return std::unexpected(error);
    }
  }
  return (directory / (std::string{prefix} + "XXXXXX")).string();
}

}  // namespace

auto temp_file::create(std::string_view prefix, std::filesystem::path directory) -> result<temp_file> {
  auto name = make_template(prefix, std::move(directory));
  if (!name) {
    return std::unexpected(name.error());
  }
  // SAFETY: `name` is a NUL-terminated buffer ending in XXXXXX that mkostemp rewrites in place.
  const int fd = ::mkostemp(name->data(), O_CLOEXEC);
  if (fd < 0) {
    return os_failure();
  }
  return temp_file{unique_fd{fd}, std::filesystem::path{*name}};
}

temp_file::temp_file(temp_file&& other) noexcept : fd_{std::move(other.fd_)}, path_{std::exchange(other.path_, {})} {
}

auto temp_file::operator=(temp_file&& other) noexcept -> temp_file& {
  if (this != &other) {
    remove();
    fd_ = std::move(other.fd_);
    path_ = std::exchange(other.path_, {});
    keep_ = other.keep_;
  }
  return *this;
}

temp_file::~temp_file() {
  remove();
}

void temp_file::remove() noexcept {
  if (!path_.empty() && !keep_) {
    std::error_code ignored;  // nothing useful to do in a destructor if someone already removed it
    std::filesystem::remove(path_, ignored);
    path_.clear();
  }
  fd_.reset();
}

auto temp_file::persist() noexcept -> const std::filesystem::path& {
  keep_ = true;
  return path_;
}

auto temp_dir::create(std::string_view prefix, std::filesystem::path parent) -> result<temp_dir> {
  auto name = make_template(prefix, std::move(parent));
  if (!name) {
    return std::unexpected(name.error());
  }
  // SAFETY: as for mkostemp; mkdtemp rewrites the XXXXXX suffix in place.
  if (::mkdtemp(name->data()) == nullptr) {
    return os_failure();
  }
  return temp_dir{std::filesystem::path{*name}};
}

temp_dir::temp_dir(temp_dir&& other) noexcept : path_{std::exchange(other.path_, {})} {
}

auto temp_dir::operator=(temp_dir&& other) noexcept -> temp_dir& {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

temp_dir::~temp_dir() {
  remove();
}

void temp_dir::remove() noexcept {
  if (!path_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
    path_.clear();
  }
}

}  // namespace vmm::sys
