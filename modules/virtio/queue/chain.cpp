// vmm.virtio.queue: chain_reader and chain_writer, byte streams over a checked chain's readable and writable parts.
//
// Both cursors keep the whole position (buffer index, offset in it, bytes left) in three fields and work on a copy
// of them, committed only when an operation succeeded: a failing read, write, skip or take leaves the cursor where
// it was, so a device can answer with an error status and still know what it consumed.
module vmm.virtio.queue;
import std;
import vmm.sys;
import vmm.memory;

namespace vmm::virtio::queue {

void descriptor_chain::grow(std::size_t n) {
  // Doubling keeps appends amortised O(1); a chain is at most max_queue_size long, so this never overflows.
  storage_.resize(std::max({n, storage_.size() * 2, std::size_t{16}}));
}

namespace {

/// A position in a list of buffers, and the bytes after it.
struct cursor {
  std::size_t index = 0;
  std::uint64_t offset = 0;
  std::uint64_t remaining = 0;
};

/// Calls piece(address, bytes, done) for each contiguous piece of the next `count` bytes of `buffers` from `at`
/// (zero-length buffers are passed over) and moves `at` past them. `count` must not exceed at.remaining. Stops at
/// the first piece that fails and returns its error, with `at` where that piece began.
template <class Piece>
auto walk(std::span<const descriptor> buffers, cursor& at, std::uint64_t count, const Piece& piece)
    -> vmm::result<void> {
  std::uint64_t done = 0;
  while (done < count) {
    const descriptor& d = buffers[at.index];
    const std::uint64_t left_here = d.length - at.offset;
    if (left_here == 0) {
      ++at.index;
      at.offset = 0;
      continue;
    }
    const std::uint64_t n = std::min(left_here, count - done);
    // The sum cannot wrap: pop checked that address + length of every buffer fits in 64 bits.
    if (auto r = piece(memory::guest_address{d.address.raw() + at.offset}, n, done); !r) {
      return r;
    }
    at.offset += n;
    at.remaining -= n;
    done += n;
  }
  return {};
}

/// The cursor operation both streams share: refuses `count` > remaining (errc::chain_too_short), else walks a copy
/// of the position (index, offset, remaining) with `piece` and commits it only when every piece succeeded.
template <class Piece>
auto advance(std::span<const descriptor> buffers, std::size_t& index, std::uint64_t& offset, std::uint64_t& remaining,
             std::uint64_t count, const Piece& piece) -> vmm::result<void> {
  if (count > remaining) {
    return failure(errc::chain_too_short);
  }
  cursor at{.index = index, .offset = offset, .remaining = remaining};
  if (auto r = walk(buffers, at, count, piece); !r) {
    return r;
  }
  index = at.index;
  offset = at.offset;
  remaining = at.remaining;
  return {};
}

/// A piece visitor that touches nothing (skip).
constexpr auto no_access = [](memory::guest_address, std::uint64_t, std::uint64_t) -> vmm::result<void> {
  return {};
};

}  // namespace

chain_reader::chain_reader(const memory::guest_memory& memory, const descriptor_chain& chain) noexcept
    : memory_{&memory}, buffers_{chain.readable()}, remaining_{chain.readable_bytes()} {
}

auto chain_reader::remaining() const noexcept -> std::uint64_t {
  return remaining_;
}

auto chain_reader::read_exact(std::span<std::byte> out) -> vmm::result<void> {
  return advance(buffers_, index_, offset_, remaining_, out.size(),
                 [&](memory::guest_address a, std::uint64_t n, std::uint64_t done) {
                   return memory_->read_exact(a,
                                              out.subspan(static_cast<std::size_t>(done), static_cast<std::size_t>(n)));
                 });
}

auto chain_reader::skip(std::uint64_t count) -> vmm::result<void> {
  return advance(buffers_, index_, offset_, remaining_, count, no_access);
}

auto chain_reader::take_io_buffers(std::uint64_t count, std::vector<sys::io_buffer>& out, std::size_t max_buffers)
    -> vmm::result<void> {
  const std::size_t before = out.size();
  auto r = advance(buffers_, index_, offset_, remaining_, count,
                   [&](memory::guest_address a, std::uint64_t n, std::uint64_t) {
                     return memory_->append_io_buffers(a, n, memory::access::read, out, max_buffers);
                   });
  if (!r) {
    out.resize(before);
  }
  return r;
}

chain_writer::chain_writer(const memory::guest_memory& memory, const descriptor_chain& chain) noexcept
    : memory_{&memory}, buffers_{chain.writable()}, remaining_{chain.writable_bytes()} {
}

auto chain_writer::remaining() const noexcept -> std::uint64_t {
  return remaining_;
}

auto chain_writer::written() const noexcept -> std::uint64_t {
  return written_;
}

auto chain_writer::write_all(std::span<const std::byte> in) -> vmm::result<void> {
  auto r =
      advance(buffers_, index_, offset_, remaining_, in.size(),
              [&](memory::guest_address a, std::uint64_t n, std::uint64_t done) {
                return memory_->write_all(a, in.subspan(static_cast<std::size_t>(done), static_cast<std::size_t>(n)));
              });
  if (r) {
    written_ += in.size();
  }
  return r;
}

auto chain_writer::skip(std::uint64_t count) -> vmm::result<void> {
  auto r = advance(buffers_, index_, offset_, remaining_, count, no_access);
  if (r) {
    written_ += count;
  }
  return r;
}

auto chain_writer::take_io_buffers(std::uint64_t count, std::vector<sys::io_buffer>& out, std::size_t max_buffers)
    -> vmm::result<void> {
  const std::size_t before = out.size();
  auto r = advance(buffers_, index_, offset_, remaining_, count,
                   [&](memory::guest_address a, std::uint64_t n, std::uint64_t) {
                     return memory_->append_io_buffers(a, n, memory::access::write, out, max_buffers);
                   });
  if (r) {
    written_ += count;
  } else {
    out.resize(before);
  }
  return r;
}

}  // namespace vmm::virtio::queue
