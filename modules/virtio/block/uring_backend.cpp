module;
#include <cerrno>
#include <fcntl.h>
#include <linux/falloc.h>
#include <liburing.h>
#include <sys/uio.h>
module vmm.virtio.block;
import std;
import vmm.sys;

namespace vmm::virtio::block {

struct uring_state {
  ::io_uring ring{};
};

namespace {

constexpr unsigned max_depth = 4096;

// The expected result of a completed operation: the bytes of a read or write, 0 for the others.
auto expected_result(io_kind kind, std::uint64_t length) -> std::uint64_t {
  return kind == io_kind::read || kind == io_kind::write ? length : 0;
}

// Prepares `sqe` as a READV or WRITEV of `buffers` at `offset` of `fd` (the caller tags it with its slot).
void prepare_transfer(::io_uring_sqe* sqe, int fd, io_kind kind, std::span<const sys::io_buffer> buffers,
                      std::uint64_t offset) {
  // io_buffer has struct iovec's layout (checked in vmm.sys), and the array and the memory it describes stay valid
  // until the completion is reaped (the caller's for the first round, the slot's own copy after a short transfer).
  const auto* iov = reinterpret_cast<const ::iovec*>(buffers.data());  // NOLINT(*-reinterpret-cast)
  const auto nr = static_cast<unsigned>(buffers.size());
  // SAFETY: prepares the entry in place; the iovecs and the memory they describe stay valid until reaped.
  if (kind == io_kind::read) {
    ::io_uring_prep_readv(sqe, fd, iov, nr, offset);
  } else {
    ::io_uring_prep_writev(sqe, fd, iov, nr, offset);
  }
}

}  // namespace

uring_backend::uring_backend(sys::unique_fd fd, std::uint64_t size, bool read_only, unsigned depth, sys::event_fd event,
                             std::unique_ptr<uring_state> ring)
    : fd_{std::move(fd)},
      size_{size},
      read_only_{read_only},
      event_{std::move(event)},
      ring_{std::move(ring)},
      slots_(depth) {
  free_.reserve(depth);
  for (std::uint32_t i = depth; i > 0; --i) {
    free_.push_back(i - 1);
  }
}

auto uring_backend::create(sys::unique_fd fd, bool read_only, unsigned depth)
    -> vmm::result<std::unique_ptr<uring_backend>> {
  if (depth == 0 || depth > max_depth) {
    return os_failure(EINVAL);
  }
  auto st = sys::status(fd);
  if (!st) {
    return std::unexpected(st.error());
  }
  auto event = sys::event_fd::create({.nonblocking = true});
  if (!event) {
    return std::unexpected(event.error());
  }
  auto state = std::make_unique<uring_state>();
  // SAFETY: io_uring_queue_init maps the submission and completion rings into `state->ring`, which lives (at a
  // fixed address, behind the unique_ptr) until io_uring_queue_exit in the destructor. It returns -errno.
  // COOP_TASKRUN: completions are processed when this thread next enters the kernel, instead of interrupting it
  // (without it, the device thread's epoll_wait returns EINTR whenever a completion's task work arrives). Kernels
  // before 5.19 refuse the flag with EINVAL: then the ring is made without it.
  int e = ::io_uring_queue_init(depth, &state->ring, IORING_SETUP_COOP_TASKRUN);
  if (e == -EINVAL) {
    e = ::io_uring_queue_init(depth, &state->ring, 0);
  }
  if (e < 0) {
    return os_failure(-e);
  }
  // SAFETY: registers an eventfd this object owns for as long as the ring; the kernel signals it per completion.
  if (e = ::io_uring_register_eventfd(&state->ring, event->fd().get()); e < 0) {
    ::io_uring_queue_exit(&state->ring);
    return os_failure(-e);
  }
  // Constructed here: the constructor is private, so make_unique cannot reach it.
  return std::unique_ptr<uring_backend>{
      new uring_backend{std::move(fd), st->size, read_only, depth, std::move(*event), std::move(state)}};
}

uring_backend::~uring_backend() {
  // Operations still in the kernel write into buffers whose owners are going away: wait for each of them.
  // SAFETY: submits what was prepared but not submitted, so every counted operation reaches the kernel.
  static_cast<void>(::io_uring_submit(&ring_->ring));
  while (in_flight_ > 0) {
    ::io_uring_cqe* cqe = nullptr;
    // SAFETY: waits for one completion of this ring; `cqe` points into the mapped completion ring until seen.
    if (::io_uring_wait_cqe(&ring_->ring, &cqe) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    ::io_uring_cqe_seen(&ring_->ring, cqe);
    --in_flight_;
  }
  // SAFETY: unmaps the rings and closes the ring's descriptor; nothing uses them afterwards.
  ::io_uring_queue_exit(&ring_->ring);
}

auto uring_backend::free_slots() const noexcept -> std::size_t {
  return free_.size();
}

auto uring_backend::submit(const io_operation& op) -> vmm::result<void> {
  if (free_.empty()) {
    return vmm::failure(errc::backend_full);
  }
  // SAFETY: takes the next free submission entry of this ring (nullptr when the ring is full), owned by the ring.
  ::io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_->ring);
  if (sqe == nullptr) {
    return vmm::failure(errc::backend_full);
  }
  const std::uint32_t index = free_.back();
  free_.pop_back();
  slot& s = slots_[index];
  s.kind = op.kind;
  s.offset = op.offset;
  s.length = op.length;
  s.cookie = op.cookie;
  s.buffers = {};
  s.rest.clear();
  const int fd = fd_.get();
  switch (op.kind) {
    case io_kind::read:
    case io_kind::write:
      s.length = 0;
      for (const auto& b : op.buffers) {
        s.length += b.length;
      }
      s.buffers = op.buffers;
      prepare_transfer(sqe, fd, op.kind, op.buffers, op.offset);
      break;
    case io_kind::flush:
      // SAFETY: prepares an fdatasync of this backend's descriptor; no memory is involved.
      ::io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
      break;
    case io_kind::discard:
    case io_kind::write_zeroes: {
      const int mode =
          FALLOC_FL_KEEP_SIZE | (op.kind == io_kind::discard ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
      // SAFETY: prepares a fallocate of this backend's descriptor; no memory is involved. The range was checked
      // against the capacity, so both values fit off_t.
      ::io_uring_prep_fallocate(sqe, fd, mode, static_cast<::off_t>(op.offset), static_cast<::off_t>(op.length));
      break;
    }
  }
  ::io_uring_sqe_set_data64(sqe, index);
  ++in_flight_;
  return {};
}

auto uring_backend::flush_submissions() -> vmm::result<void> {
  for (;;) {
    // SAFETY: hands the prepared entries to the kernel with one io_uring_enter; returns -errno.
    const int n = ::io_uring_submit(&ring_->ring);
    if (n >= 0) {
      return {};
    }
    if (n != -EINTR) {
      return os_failure(-n);
    }
  }
}

auto uring_backend::resubmit(std::uint32_t index, std::uint64_t moved) -> bool {
  slot& s = slots_[index];
  if (s.rest.empty()) {
    s.rest.assign(s.buffers.begin(), s.buffers.end());  // the caller's array is not ours to change
  }
  const auto left = advance_buffers(s.rest, moved);
  s.rest.erase(s.rest.begin(), s.rest.begin() + (std::ssize(s.rest) - std::ssize(left)));
  s.offset += moved;
  s.length -= moved;
  // SAFETY: as in submit(). Each slot has at most one entry queued or in the kernel, and the ring has an entry per
  // slot, so one is free here; nullptr is handled all the same.
  ::io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_->ring);
  if (sqe == nullptr) {
    return false;
  }
  prepare_transfer(sqe, fd_.get(), s.kind, s.rest, s.offset);
  ::io_uring_sqe_set_data64(sqe, index);
  return true;
}

void uring_backend::reap(std::vector<io_completion>& out) {
  // The eventfd only says "look": drain it (EAGAIN when nothing was signalled) and read the completion ring.
  static_cast<void>(event_.read());
  bool resubmitted = false;
  ::io_uring_cqe* cqe = nullptr;
  // SAFETY: peeks at the next completion of this ring without waiting; `cqe` is valid until io_uring_cqe_seen.
  while (::io_uring_peek_cqe(&ring_->ring, &cqe) == 0 && cqe != nullptr) {
    const auto index = static_cast<std::uint32_t>(cqe->user_data);
    const int res = cqe->res;
    ::io_uring_cqe_seen(&ring_->ring, cqe);
    if (index >= slots_.size()) {
      continue;  // not ours (cannot happen: every entry carries a slot index)
    }
    slot& s = slots_[index];
    std::error_code error;
    if (res == -EOPNOTSUPP && s.kind == io_kind::write_zeroes) {
      // The file system has no ZERO_RANGE (tmpfs): write the zeroes here, synchronously.
      error = detail::write_zero_bytes(fd_, s.offset, s.length);
    } else if (res < 0) {
      error = {-res, std::system_category()};
    } else if (const auto moved = static_cast<std::uint64_t>(res); moved < expected_result(s.kind, s.length)) {
      // A short transfer. Nothing moved: the file ends before the range (it shrank under the device). Else the
      // rest goes again, from where this one stopped; each round moves at least a byte, so the rounds end.
      if (moved > 0 && resubmit(index, moved)) {
        resubmitted = true;
        continue;
      }
      error = make_error_code(errc::io_failed);
    }
    out.push_back({.cookie = s.cookie, .error = error});
    s.buffers = {};
    s.rest.clear();
    free_.push_back(index);
    --in_flight_;
  }
  if (resubmitted) {
    // A failed submission leaves the entries queued: the next flush_submissions (or the destructor) hands them in.
    static_cast<void>(flush_submissions());
  }
}

}  // namespace vmm::virtio::block
