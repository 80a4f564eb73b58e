// vmm.sys:file — opening files and device nodes by path (open(2)), always close-on-exec.
export module vmm.sys:file;
import std;
import :error;
import :fd;

export namespace vmm::sys {

/// How open_file opens a path.
struct open_options {
  bool read = true;          ///< O_RDONLY, or O_RDWR together with write
  bool write = false;        ///< O_WRONLY, or O_RDWR together with read
  bool nonblocking = false;  ///< O_NONBLOCK
  bool no_follow = false;    ///< O_NOFOLLOW: fail with ELOOP when the last component is a symbolic link
};

/// open(path, flags | O_CLOEXEC) for an existing file or device node (never creates one). Errors: EINVAL when
/// neither read nor write is asked for or `path` holds a NUL; the errno of open(2) (ENOENT, EACCES, EPERM, ELOOP,
/// ENXIO, ENODEV, …).
[[nodiscard]] auto open_file(const std::filesystem::path& path, open_options options = {}) -> result<unique_fd>;

}  // namespace vmm::sys
