// The 2 MiB huge page pool, for the hugetlb cases of test_memory: read its counters, and grow it for one case under
// a lock that every test process shares. ctest runs cases in parallel, and a case that counts free pages, or two
// guards that interleave, would otherwise see (or restore) each other's pool sizes. Included before the imports.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace vmm::memory_test {

/// Where the 2 MiB pool is sized and counted (the per-size twin of /proc/sys/vm/nr_hugepages).
inline const std::filesystem::path two_mib_pool{"/sys/kernel/mm/hugepages/hugepages-2048kB"};

/// A counter of the 2 MiB pool ("nr_hugepages", "free_hugepages", "resv_hugepages"); 0 when it cannot be read.
inline auto pool_counter(const char* name) -> std::uint64_t {
  std::ifstream in{two_mib_pool / name};
  std::uint64_t value = 0;
  in >> value;
  return value;
}

/// Holds the lock that serialises every test process's use of the pool.
class huge_page_pool_lock {
 public:
  huge_page_pool_lock() : fd_{::open("/tmp/vmm-test-memory-hugepages.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600)} {
    locked_ = fd_ >= 0 && ::flock(fd_, LOCK_EX) == 0;
  }
  huge_page_pool_lock(const huge_page_pool_lock&) = delete;
  auto operator=(const huge_page_pool_lock&) -> huge_page_pool_lock& = delete;
  ~huge_page_pool_lock() {
    if (fd_ >= 0) {
      ::close(fd_);  // releases the lock
    }
  }
  [[nodiscard]] auto locked() const -> bool { return locked_; }

 private:
  int fd_;
  bool locked_ = false;
};

/// Grows the pool by `extra` pages for its lifetime and restores the old size afterwards, whatever the case does.
/// usable() is false when the pool cannot be written (no root, read-only sysfs) or the kernel found too little memory.
class huge_page_pool_guard {
 public:
  explicit huge_page_pool_guard(std::uint64_t extra) {
    if (!lock_.locked()) {
      return;
    }
    old_ = pool_counter("nr_hugepages");
    wanted_free_ = pool_counter("free_hugepages") + extra;
    std::ofstream out{two_mib_pool / "nr_hugepages"};
    out << old_ + extra << std::flush;
    written_ = static_cast<bool>(out);
  }
  huge_page_pool_guard(const huge_page_pool_guard&) = delete;
  auto operator=(const huge_page_pool_guard&) -> huge_page_pool_guard& = delete;
  ~huge_page_pool_guard() {
    if (written_) {
      std::ofstream out{two_mib_pool / "nr_hugepages"};
      out << old_ << std::flush;
    }
  }  // lock_ is released after the old size is back
  [[nodiscard]] auto usable() const -> bool { return written_ && pool_counter("free_hugepages") >= wanted_free_; }

 private:
  huge_page_pool_lock lock_;
  std::uint64_t old_ = 0;
  std::uint64_t wanted_free_ = 0;
  bool written_ = false;
};

}  // namespace vmm::memory_test
