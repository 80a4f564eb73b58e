// vmm.virtio.queue:chain — a descriptor chain as a device sees it once the queue has checked it: the driver's
// readable buffers, then its writable ones, and cursors that read and write across them.
export module vmm.virtio.queue:chain;
import std;
import vmm.sys;
import vmm.memory;

namespace vmm::virtio::queue::detail {
class chain_builder;  // the queues' chain walk (the :walk partition, not exported) fills a chain's storage directly
}  // namespace vmm::virtio::queue::detail

export namespace vmm::virtio::queue {

/// One buffer of a chain: a guest range the device may read (device-readable) or write (device-writable). The
/// queue has checked that [address, address + length) lies in guest memory when the chain was popped.
struct descriptor {
  memory::guest_address address;
  std::uint32_t length = 0;
  bool writable = false;

  friend constexpr auto operator==(const descriptor&, const descriptor&) noexcept -> bool = default;
};

/// What identifies a popped chain to the queue it came from, handed back with add_used: the head descriptor's
/// index (split queue) or the buffer id (packed queue), and the ring slots the chain took (packed queue; 1 for a
/// split queue).
struct chain_token {
  std::uint16_t id = 0;
  std::uint16_t slots = 1;

  friend constexpr auto operator==(chain_token, chain_token) noexcept -> bool = default;
};

/// A checked descriptor chain: every readable descriptor comes before every writable one, every range is inside
/// guest memory, and the chain is no longer than the queue (or its indirect table). Filled by a queue's pop; the
/// descriptor storage is reused from one pop to the next, so a device that keeps one descriptor_chain per queue
/// allocates only while its chains grow.
class descriptor_chain {
 public:
  descriptor_chain() = default;
  /// Copies the buffers (not the spare storage: a chain reserved for a queue of 1024 holds 16 KiB).
  descriptor_chain(const descriptor_chain& other)
      : storage_(other.storage_.begin(), other.storage_.begin() + static_cast<std::ptrdiff_t>(other.size_)),
        size_{other.size_},
        readable_count_{other.readable_count_},
        readable_bytes_{other.readable_bytes_},
        writable_bytes_{other.writable_bytes_},
        token_{other.token_} {}
  /// Copies the buffers into this chain's storage, which grows only when it is too small.
  auto operator=(const descriptor_chain& other) -> descriptor_chain& {
    if (this != &other) {
      if (storage_.size() < other.size_) {
        storage_.resize(other.size_);
      }
      std::copy_n(other.storage_.begin(), other.size_, storage_.begin());
      size_ = other.size_;
      readable_count_ = other.readable_count_;
      readable_bytes_ = other.readable_bytes_;
      writable_bytes_ = other.writable_bytes_;
      token_ = other.token_;
    }
    return *this;
  }
  descriptor_chain(descriptor_chain&&) noexcept = default;
  auto operator=(descriptor_chain&&) noexcept -> descriptor_chain& = default;
  ~descriptor_chain() = default;

  /// The token to hand back to add_used.
  [[nodiscard]] inline auto token() const noexcept -> chain_token { return token_; }
  /// The device-readable buffers, in chain order.
  [[nodiscard]] inline auto readable() const noexcept -> std::span<const descriptor> {
    return {storage_.data(), readable_count_};
  }
  /// The device-writable buffers, in chain order.
  [[nodiscard]] inline auto writable() const noexcept -> std::span<const descriptor> {
    return {storage_.data() + readable_count_, size_ - readable_count_};
  }
  /// Every buffer, readable ones first.
  [[nodiscard]] inline auto descriptors() const noexcept -> std::span<const descriptor> {
    return {storage_.data(), size_};
  }
  /// The sum of the readable buffers' lengths (at most queue size × 2^32 − 1, so it cannot overflow).
  [[nodiscard]] inline auto readable_bytes() const noexcept -> std::uint64_t { return readable_bytes_; }
  /// The sum of the writable buffers' lengths.
  [[nodiscard]] inline auto writable_bytes() const noexcept -> std::uint64_t { return writable_bytes_; }

  /// Empties the chain (keeping its storage) and sets the token: for queues and tests that build chains.
  inline void reset(chain_token token) noexcept {
    token_ = token;
    size_ = 0;
    readable_count_ = 0;
    readable_bytes_ = 0;
    writable_bytes_ = 0;
  }
  /// Makes room for `n` buffers up front, keeping those stored. A chain is never longer than its queue, so a device
  /// that reserves the longest of its queues' sizes when it is activated never allocates in pop afterwards (and its
  /// first pops take the walk's fast path). Throws what std::vector does.
  inline void reserve(std::size_t n) {
    if (n > storage_.size()) {
      storage_.resize(n);
    }
  }
  /// How many buffers the chain holds without allocating.
  [[nodiscard]] inline auto capacity() const noexcept -> std::size_t { return storage_.size(); }
  /// Replaces the token and keeps the buffers: for a packed queue, which learns a chain's buffer id from its last
  /// descriptor, after the buffers were appended.
  inline void set_token(chain_token token) noexcept { token_ = token; }
  /// Appends a buffer. Contract: a readable buffer is never appended after a writable one (the queues check the
  /// guest's order and report errc::readable_after_writable before calling this).
  inline void append(const descriptor& d) {
    vmm::contract_check(d.writable || readable_count_ == size_, "a readable descriptor cannot follow a writable one");
    if (size_ == storage_.size()) [[unlikely]] {
      grow(size_ + 1);
    }
    storage_[size_++] = d;
    if (d.writable) {
      writable_bytes_ += d.length;
    } else {
      ++readable_count_;
      readable_bytes_ += d.length;
    }
  }

 private:
  friend class detail::chain_builder;

  /// Makes room for at least `n` buffers, keeping those stored.
  void grow(std::size_t n);

  // The storage: its size is the capacity, the chain is its first size_ entries (a pop writes them in place and
  // sets the counts once, at the end of the walk).
  std::vector<descriptor> storage_;
  std::size_t size_ = 0;
  std::size_t readable_count_ = 0;
  std::uint64_t readable_bytes_ = 0;
  std::uint64_t writable_bytes_ = 0;
  chain_token token_;
};

/// Reads a chain's readable buffers in order, as one stream of bytes. Errors of read_exact / read_obj:
/// errc::chain_too_short when fewer bytes remain than asked (nothing consumed), or the vmm.memory error.
class chain_reader {
 public:
  /// Reads `chain`'s readable part of `memory`. Both must outlive the reader.
  chain_reader(const memory::guest_memory& memory, const descriptor_chain& chain) noexcept;

  /// The readable bytes not consumed yet.
  [[nodiscard]] auto remaining() const noexcept -> std::uint64_t;
  /// Copies the next out.size() bytes into `out` and consumes them.
  [[nodiscard]] auto read_exact(std::span<std::byte> out) -> vmm::result<void>;
  /// The next sizeof(T) bytes as a T (little-endian fields: use vmm.memory's endian types).
  template <memory::byte_valued T>
  [[nodiscard]] auto read_obj() -> vmm::result<T> {
    std::array<std::byte, sizeof(T)> bytes{};
    if (auto r = read_exact(bytes); !r) {
      return std::unexpected(r.error());
    }
    return std::bit_cast<T>(bytes);
  }
  /// Consumes `count` bytes without reading them. Errors: errc::chain_too_short (nothing consumed).
  [[nodiscard]] auto skip(std::uint64_t count) -> vmm::result<void>;
  /// Appends host buffers for the next `count` readable bytes (for writev/io_uring) and consumes them.
  /// Errors: errc::chain_too_short, the vmm.memory error (errc::too_many_buffers past `max_buffers`).
  [[nodiscard]] auto take_io_buffers(std::uint64_t count, std::vector<sys::io_buffer>& out,
                                     std::size_t max_buffers = sys::max_io_buffers) -> vmm::result<void>;

 private:
  const memory::guest_memory* memory_;
  std::span<const descriptor> buffers_;
  std::size_t index_ = 0;
  std::uint64_t offset_ = 0;  // into buffers_[index_]
  std::uint64_t remaining_ = 0;
};

/// Writes a chain's writable buffers in order, as one stream of bytes, and counts what was written (the used
/// length to report). Errors as chain_reader (errc::chain_too_short when the writable part is too small).
class chain_writer {
 public:
  /// Writes `chain`'s writable part of `memory`. Both must outlive the writer.
  chain_writer(const memory::guest_memory& memory, const descriptor_chain& chain) noexcept;

  /// The writable bytes not written yet.
  [[nodiscard]] auto remaining() const noexcept -> std::uint64_t;
  /// The bytes written (or skipped) so far: the used length of the chain.
  [[nodiscard]] auto written() const noexcept -> std::uint64_t;
  /// Writes all of `in`.
  [[nodiscard]] auto write_all(std::span<const std::byte> in) -> vmm::result<void>;
  /// Writes a T.
  template <memory::byte_valued T>
  [[nodiscard]] auto write_obj(const T& value) -> vmm::result<void> {
    const auto bytes = std::bit_cast<std::array<std::byte, sizeof(T)>>(value);
    return write_all(bytes);
  }
  /// Moves past `count` bytes without writing them (they count as written).
  [[nodiscard]] auto skip(std::uint64_t count) -> vmm::result<void>;
  /// Appends host buffers for the next `count` writable bytes (for readv/io_uring; marked dirty) and counts them
  /// as written.
  [[nodiscard]] auto take_io_buffers(std::uint64_t count, std::vector<sys::io_buffer>& out,
                                     std::size_t max_buffers = sys::max_io_buffers) -> vmm::result<void>;

 private:
  const memory::guest_memory* memory_;
  std::span<const descriptor> buffers_;
  std::size_t index_ = 0;
  std::uint64_t offset_ = 0;
  std::uint64_t remaining_ = 0;
  std::uint64_t written_ = 0;
};

}  // namespace vmm::virtio::queue
