// The test rig shared by test_virtio_block: guest memory, a temporary disk file with a known pattern, either backend,
// a request engine, and helpers that lay requests out in guest memory and run them to completion.
module;
#include <cerrno>
#include <poll.h>
export module block_rig;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.block;

export namespace block_rig {

namespace blk = vmm::virtio::block;
namespace queue = vmm::virtio::queue;
using vmm::memory::guest_address;

/// Which backend a rig uses (manual: manual_backend, for the queue tests).
enum class backend_kind : std::uint8_t { sync, uring, manual };

/// A backend that finishes operations only when told to (complete_all), signalling its completion eventfd then,
/// and that can be told to refuse submissions or fail flushes. It moves no data: for testing the device's flow.
class manual_backend final : public blk::block_backend {
 public:
  manual_backend(std::uint64_t size, std::size_t depth)
      : size_{size}, depth_{depth}, event_{*vmm::sys::event_fd::create({.nonblocking = true})} {}

  [[nodiscard]] auto size() const noexcept -> std::uint64_t override { return size_; }
  [[nodiscard]] auto read_only() const noexcept -> bool override { return false; }
  [[nodiscard]] auto free_slots() const noexcept -> std::size_t override {
    return depth_ - pending_.size() - done_.size();
  }
  [[nodiscard]] auto submit(const blk::io_operation& op) -> vmm::result<void> override {
    if (refuse_submit || free_slots() == 0) {
      return vmm::failure(blk::errc::backend_full);
    }
    pending_.push_back(op.cookie);
    return {};
  }
  [[nodiscard]] auto flush_submissions() -> vmm::result<void> override {
    if (fail_flush) {
      return vmm::os_failure(EBUSY);
    }
    return {};
  }
  void reap(std::vector<blk::io_completion>& out) override {
    static_cast<void>(event_.read());
    out.insert(out.end(), done_.begin(), done_.end());
    done_.clear();
  }
  [[nodiscard]] auto completion_event() const noexcept -> vmm::sys::borrowed_fd override { return event_.fd(); }
  [[nodiscard]] auto in_flight() const noexcept -> std::size_t override { return pending_.size() + done_.size(); }

  /// Finishes every submitted operation with `error` and signals the completion eventfd.
  void complete_all(std::error_code error = {}) {
    for (const std::uint64_t cookie : pending_) {
      done_.push_back({.cookie = cookie, .error = error});
    }
    pending_.clear();
    static_cast<void>(event_.write(1));
  }
  [[nodiscard]] auto pending() const noexcept -> std::size_t { return pending_.size(); }

  bool refuse_submit = false;
  bool fail_flush = false;

 private:
  std::uint64_t size_;
  std::size_t depth_;
  vmm::sys::event_fd event_;
  std::vector<std::uint64_t> pending_;
  std::vector<blk::io_completion> done_;
};

/// Guest layout: 4 MiB of memory at 0. The header at 0x1000, the status byte at 0x2000, range lists at 0x3000,
/// data from 0x10000 (up to 3 MiB); addresses at or above memory_size are unmapped.
inline constexpr std::uint64_t memory_size = 4ULL << 20U;
inline constexpr guest_address header_at{0x1000};
inline constexpr guest_address status_at{0x2000};
inline constexpr guest_address ranges_at{0x3000};
inline constexpr guest_address data_at{0x10000};
/// The byte the status is preset to, so an unwritten status shows.
inline constexpr std::uint8_t status_unset = 0xee;
/// The disk's default size: 64 sectors (32 KiB).
inline constexpr std::uint64_t default_sectors = 64;
/// The serial the rig's engine answers GET_ID with.
inline constexpr std::string_view serial = "vmm-test-disk-0001";

/// The pattern byte of the disk file at byte `offset`: distinct per sector and position, never zero.
[[nodiscard]] constexpr auto pattern(std::uint64_t offset) -> std::byte {
  return static_cast<std::byte>(((offset / blk::sector_size) * 7 + offset % 251) % 255 + 1);
}

/// Throws when `ok` is false: a mistake in the rig's setup, not something under test.
inline void check(bool ok, std::string_view what) {
  if (!ok) {
    throw std::runtime_error{std::string{what}};
  }
}

/// A descriptor of `length` bytes at `address`.
[[nodiscard]] constexpr auto readable(guest_address address, std::uint32_t length) -> queue::descriptor {
  return {.address = address, .length = length, .writable = false};
}
[[nodiscard]] constexpr auto writable(guest_address address, std::uint32_t length) -> queue::descriptor {
  return {.address = address, .length = length, .writable = true};
}
/// `a` plus `offset`.
[[nodiscard]] constexpr auto at(guest_address a, std::uint64_t offset) -> guest_address {
  return guest_address{a.raw() + offset};
}

/// A chain of `ds` (readable ones first) with head id `id`.
[[nodiscard]] inline auto chain_of(std::initializer_list<queue::descriptor> ds, std::uint16_t id = 0)
    -> queue::descriptor_chain {
  queue::descriptor_chain c;
  c.reset({.id = id, .slots = 1});
  for (const auto& d : ds) {
    c.append(d);
  }
  return c;
}

/// A rig: memory, disk, backend, metrics and engine. Not movable (the engine points into it): hold it by pointer.
class rig {
 public:
  /// A rig with a disk of `sectors` sectors filled with pattern(), or nullptr (and a message in `why`) when the
  /// backend cannot be made here (io_uring refused by the kernel or a seccomp filter). The file goes in `directory`
  /// (default: the temporary directory).
  [[nodiscard]] static auto create(backend_kind kind, std::uint64_t sectors = default_sectors, bool read_only = false,
                                   std::string* why = nullptr, const std::filesystem::path& directory = {})
      -> std::unique_ptr<rig> {
    auto file = vmm::sys::temp_file::create("vmm-blk-", directory);
    check(file.has_value(), "temp file");
    std::vector<std::byte> bytes(static_cast<std::size_t>(sectors * blk::sector_size));
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      bytes[i] = pattern(i);
    }
    check(vmm::sys::write(file->fd(), bytes).value_or(0) == bytes.size() || bytes.empty(), "disk pattern");
    auto fd = blk::open_image(file->path(), read_only);
    check(fd.has_value(), "open image");
    std::unique_ptr<blk::block_backend> backend;
    if (kind == backend_kind::manual) {
      backend = std::make_unique<manual_backend>(sectors * blk::sector_size, 8);
    } else if (kind == backend_kind::sync) {
      backend = *blk::file_backend::create(std::move(*fd), read_only);
    } else {
      auto u = blk::uring_backend::create(std::move(*fd), read_only, 64);
      if (!u) {
        if (why != nullptr) {
          *why = u.error().message();
        }
        return nullptr;
      }
      backend = std::move(*u);
    }
    return std::unique_ptr<rig>{new rig{std::move(*file), std::move(backend), sectors, read_only}};
  }

  rig(const rig&) = delete;
  auto operator=(const rig&) -> rig& = delete;
  rig(rig&&) = delete;
  auto operator=(rig&&) -> rig& = delete;
  ~rig() = default;

  [[nodiscard]] auto memory() const -> const vmm::memory::guest_memory& { return *memory_; }
  [[nodiscard]] auto memory_ptr() const -> std::shared_ptr<const vmm::memory::guest_memory> { return memory_; }
  [[nodiscard]] auto engine() -> blk::request_engine& { return engine_; }
  [[nodiscard]] auto metrics() const -> const blk::block_metrics& { return metrics_; }
  [[nodiscard]] auto backend() -> blk::block_backend& { return *backend_; }
  [[nodiscard]] auto file() const -> const vmm::sys::temp_file& { return file_; }

  /// Writes a request header (type, sector) at `where`, and presets the status byte.
  void header(std::uint32_t type, std::uint64_t sector, guest_address where = header_at) const {
    const blk::request_header h{.type = vmm::memory::le32{type}, .reserved = {}, .sector = vmm::memory::le64{sector}};
    check(memory_->write_obj(where, h).has_value(), "header");
    check(memory_->write_obj<std::uint8_t>(status_at, status_unset).has_value(), "status preset");
  }
  /// Writes range `index` of a discard/write-zeroes list at ranges_at.
  void range(std::size_t index, std::uint64_t sector, std::uint32_t count, std::uint32_t flags = 0) const {
    const blk::range_segment s{.sector = vmm::memory::le64{sector},
                               .num_sectors = vmm::memory::le32{count},
                               .flags = vmm::memory::le32{flags}};
    check(memory_->write_obj(at(ranges_at, index * sizeof(s)), s).has_value(), "range");
  }
  /// Fills guest memory at `where` with `count` bytes of `value`.
  void fill(guest_address where, std::size_t count, std::byte value) const {
    const std::vector<std::byte> bytes(count, value);
    check(memory_->write_all(where, bytes).has_value(), "fill");
  }
  /// `count` bytes of guest memory at `where`.
  [[nodiscard]] auto guest_bytes(guest_address where, std::size_t count) const -> std::vector<std::byte> {
    std::vector<std::byte> bytes(count);
    check(memory_->read_exact(where, bytes).has_value(), "guest read");
    return bytes;
  }
  [[nodiscard]] auto status() const -> std::uint8_t { return *memory_->read_obj<std::uint8_t>(status_at); }

  /// `count` bytes of the disk file at `offset`.
  [[nodiscard]] auto disk_bytes(std::uint64_t offset, std::size_t count) const -> std::vector<std::byte> {
    std::vector<std::byte> bytes(count);
    const std::array buffers{vmm::sys::io_buffer{.base = bytes.data(), .length = bytes.size()}};
    check(vmm::sys::preadv(file_.fd(), buffers, offset).value_or(0) == count, "disk read");
    return bytes;
  }
  /// The pattern the disk held at [offset, offset + count) before any write.
  [[nodiscard]] static auto pattern_bytes(std::uint64_t offset, std::size_t count) -> std::vector<std::byte> {
    std::vector<std::byte> bytes(count);
    for (std::size_t i = 0; i < count; ++i) {
      bytes[i] = pattern(offset + i);
    }
    return bytes;
  }

  /// Submits `chain` and waits (at most 5 s) until it finishes; returns its finished_chain.
  auto run(const queue::descriptor_chain& chain) -> blk::finished_chain {
    check(engine_.can_accept(), "engine full");
    engine_.submit(memory_, chain);
    check(engine_.flush().has_value(), "flush");
    std::vector<blk::finished_chain> done;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    while (done.empty()) {
      engine_.collect(done);
      if (!done.empty()) {
        break;
      }
      check(std::chrono::steady_clock::now() < give_up, "request did not finish within 5 s");
      ::pollfd p{.fd = backend_->completion_event().get(), .events = POLLIN, .revents = 0};
      static_cast<void>(::poll(&p, 1, 100));
    }
    check(done.size() == 1, "one chain finished");
    return done.front();
  }

  /// Reads sector `sector` into data_at with a plain chain and returns the status (the "next request" check).
  auto read_sector(std::uint64_t sector) -> std::uint8_t {
    header(blk::request_type::in, sector);
    const auto f = run(chain_of({readable(header_at, 16), writable(data_at, 512), writable(status_at, 1)}));
    return f.status == status() ? f.status : status_unset;
  }

 private:
  rig(vmm::sys::temp_file file, std::unique_ptr<blk::block_backend> backend, std::uint64_t sectors, bool read_only)
      : file_{std::move(file)},
        memory_{make_memory()},
        backend_{std::move(backend)},
        engine_{
            *backend_,
            {.capacity_sectors = sectors, .read_only = read_only, .discard = true, .write_zeroes = true, .limits = {}},
            blk::block_device::serial_bytes(serial),
            metrics_} {}

  static auto make_memory() -> std::shared_ptr<const vmm::memory::guest_memory> {
    const std::array layout{vmm::memory::guest_range{.start = guest_address{0}, .size = memory_size}};
    auto m = vmm::memory::guest_memory::anonymous(layout);
    check(m.has_value(), "guest memory");
    return std::make_shared<const vmm::memory::guest_memory>(std::move(*m));
  }

  vmm::sys::temp_file file_;
  std::shared_ptr<const vmm::memory::guest_memory> memory_;
  std::unique_ptr<blk::block_backend> backend_;
  blk::block_metrics metrics_;
  blk::request_engine engine_;
};

/// Runs `body` with a rig of each backend; an io_uring rig that cannot be made is skipped with a message.
template <class Body>
void each_backend(const Body& body, std::uint64_t sectors = default_sectors, bool read_only = false,
                  const std::filesystem::path& directory = {}) {
  for (const backend_kind kind : {backend_kind::sync, backend_kind::uring}) {
    std::string why;
    auto r = rig::create(kind, sectors, read_only, &why, directory);
    if (r == nullptr) {
      std::println(std::cerr, "skipping the io_uring backend: io_uring_setup refused ({})", why);
      continue;
    }
    body(*r, kind);
  }
}

}  // namespace block_rig
