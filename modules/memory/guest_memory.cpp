module;
#include <cerrno>
module vmm.memory;
import std;
import vmm.sys;

namespace vmm::memory {
namespace {

// The end of [address, address + length) as "last address", or an error when the range is empty or wraps.
auto last_of(std::uint64_t address, std::uint64_t length) -> result<std::uint64_t> {
  if (length - 1 > std::numeric_limits<std::uint64_t>::max() - address) {
    return failure(errc::address_overflow);
  }
  return address + (length - 1);
}

// The error for a range whose first unusable byte lies in slot `s`: unmapped (no slot) or read-only (a write).
auto unusable_at(const detail::region_slot* s) -> std::unexpected<std::error_code> {
  return failure(s == nullptr ? errc::out_of_range : errc::read_only_region);
}

}  // namespace

auto guest_memory::create(std::vector<std::shared_ptr<const guest_region>> regions) -> result<guest_memory> {
  for (const auto& r : regions) {
    vmm::contract_check(r != nullptr, "guest_memory::create: null region");
  }
  std::ranges::sort(regions, {}, [](const auto& r) { return r->start(); });
  guest_memory m;
  m.slots_.reserve(regions.size());
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const auto& r = *regions[i];
    if (i > 0 && r.start() <= regions[i - 1]->last()) {
      return failure(errc::overlapping_regions);
    }
    m.slots_.push_back({.start = r.start().raw(),
                        .last = r.last().raw(),
                        .host = r.host_address(),
                        .bitmap = r.bitmap(),
                        .region = &r,
                        .writable = !r.read_only()});
    m.total_size_ += r.size();
  }
  m.regions_ = std::move(regions);
  return m;
}

auto guest_memory::anonymous(std::span<const guest_range> layout, const region_options& options)
    -> result<guest_memory> {
  std::vector<std::shared_ptr<const guest_region>> regions;
  regions.reserve(layout.size());
  for (const auto& range : layout) {
    auto r = guest_region::anonymous(range.start, range.size, options);
    if (!r) {
      return std::unexpected(r.error());
    }
    regions.push_back(std::move(*r));
  }
  return create(std::move(regions));
}

auto guest_memory::insert(std::shared_ptr<const guest_region> region) const -> result<guest_memory> {
  vmm::contract_check(region != nullptr, "guest_memory::insert: null region");
  auto regions = regions_;
  regions.push_back(std::move(region));
  return create(std::move(regions));
}

auto guest_memory::remove(guest_address start, std::uint64_t size) const -> result<memory_removal> {
  const auto it =
      std::ranges::find_if(regions_, [&](const auto& r) { return r->start() == start && r->size() == size; });
  if (it == regions_.end()) {
    return failure(errc::region_not_found);
  }
  auto taken = *it;
  auto regions = regions_;
  regions.erase(regions.begin() + (it - regions_.begin()));
  auto next = create(std::move(regions));
  if (!next) {
    return std::unexpected(next.error());  // unreachable: removing a region cannot create an overlap
  }
  return memory_removal{.memory = std::move(*next), .region = std::move(taken)};
}

auto guest_memory::prefix_length(std::uint64_t address, std::uint64_t length, access mode) const noexcept
    -> std::uint64_t {
  std::uint64_t done = 0;
  while (done < length) {
    const auto* s = find_slot(address + done);
    if (s == nullptr || (mode == access::write && !s->writable)) {
      break;
    }
    const std::uint64_t in_region = s->last - (address + done);  // bytes after this one in the region
    if (in_region >= length - done - 1) {
      return length;
    }
    done += in_region + 1;
  }
  return done;
}

template <class Visit>
auto guest_memory::for_each_piece(std::uint64_t address, std::uint64_t length, access mode, const Visit& visit) const
    -> result<void> {
  if (length == 0) {
    return {};
  }
  if (auto last = last_of(address, length); !last) {
    return std::unexpected(last.error());
  }
  if (const auto covered = prefix_length(address, length, mode); covered < length) {
    const auto* s = find_slot(address + covered);
    return unusable_at(s);
  }
  std::uint64_t done = 0;
  while (done < length) {
    const auto* s = find_slot(address + done);
    const std::uint64_t offset = address + done - s->start;
    const std::uint64_t n = std::min(length - done, s->last - (address + done) + 1);
    visit(*s, offset, n, done);
    done += n;
  }
  return {};
}

auto guest_memory::contains_range(guest_address address, std::uint64_t length) const noexcept -> bool {
  if (length == 0) {
    return true;
  }
  if (!last_of(address.raw(), length)) {
    return false;
  }
  return prefix_length(address.raw(), length, access::read) == length;
}

auto guest_memory::get_slice(guest_address address, std::uint64_t length, access mode) const -> result<volatile_slice> {
  if (length != 0) {
    if (auto last = last_of(address.raw(), length); !last) {
      return std::unexpected(last.error());
    }
  }
  const auto* s = find_slot(address.raw());
  if (s == nullptr) {
    return failure(errc::out_of_range);
  }
  if (length != 0 && length - 1 > s->last - address.raw()) {
    return failure(contains_range(address, length) ? errc::crosses_region_boundary : errc::out_of_range);
  }
  return s->region->slice(region_address{address.raw() - s->start}, length, mode);
}

auto guest_memory::get_slices(guest_address address, std::uint64_t length, access mode) const
    -> result<std::vector<volatile_slice>> {
  std::vector<volatile_slice> out;
  auto ok = for_each_piece(address.raw(), length, mode,
                           [&](const detail::region_slot& s, std::uint64_t offset, std::uint64_t n, std::uint64_t) {
                             out.emplace_back(s.host + offset, static_cast<std::size_t>(n), mode, s.bitmap, offset);
                           });
  if (!ok) {
    return std::unexpected(ok.error());
  }
  return out;
}

auto guest_memory::append_io_buffers(guest_address address, std::uint64_t length, access mode,
                                     std::vector<sys::io_buffer>& out, std::size_t max_buffers) const -> result<void> {
  const std::size_t before = out.size();
  bool too_many = false;
  auto ok = for_each_piece(address.raw(), length, mode,
                           [&](const detail::region_slot& s, std::uint64_t offset, std::uint64_t n, std::uint64_t) {
                             if (out.size() >= max_buffers) {
                               too_many = true;
                               return;
                             }
                             out.push_back({.base = s.host + offset, .length = static_cast<std::size_t>(n)});
                           });
  if (!ok || too_many) {
    out.resize(before);
    return ok ? failure(errc::too_many_buffers) : std::unexpected(ok.error());
  }
  if (mode == access::write) {
    static_cast<void>(mark_dirty(address, length));  // cannot fail: the range was just checked
  }
  return {};
}

auto guest_memory::read(guest_address address, std::span<std::byte> out) const -> result<std::size_t> {
  if (out.empty()) {
    return 0;
  }
  if (auto last = last_of(address.raw(), out.size()); !last) {
    return std::unexpected(last.error());
  }
  const auto n = prefix_length(address.raw(), out.size(), access::read);
  if (n == 0) {
    return failure(errc::out_of_range);
  }
  static_cast<void>(read_exact_slow(address, out.first(static_cast<std::size_t>(n))));
  return static_cast<std::size_t>(n);
}

auto guest_memory::write(guest_address address, std::span<const std::byte> in) const -> result<std::size_t> {
  if (in.empty()) {
    return 0;
  }
  if (auto last = last_of(address.raw(), in.size()); !last) {
    return std::unexpected(last.error());
  }
  const auto n = prefix_length(address.raw(), in.size(), access::write);
  if (n == 0) {
    return unusable_at(find_slot(address.raw()));
  }
  static_cast<void>(write_all_slow(address, in.first(static_cast<std::size_t>(n))));
  return static_cast<std::size_t>(n);
}

auto guest_memory::read_exact_slow(guest_address address, std::span<std::byte> out) const -> result<void> {
  return for_each_piece(address.raw(), out.size(), access::read,
                        [&](const detail::region_slot& s, std::uint64_t offset, std::uint64_t n, std::uint64_t done) {
                          detail::copy_from_guest(out.data() + done, s.host + offset, static_cast<std::size_t>(n));
                        });
}

auto guest_memory::write_all_slow(guest_address address, std::span<const std::byte> in) const -> result<void> {
  return for_each_piece(address.raw(), in.size(), access::write,
                        [&](const detail::region_slot& s, std::uint64_t offset, std::uint64_t n, std::uint64_t done) {
                          detail::copy_to_guest(s.host + offset, in.data() + done, static_cast<std::size_t>(n));
                          if (s.bitmap != nullptr) {
                            s.bitmap->mark(offset, n);
                          }
                        });
}

auto guest_memory::mark_dirty(guest_address address, std::uint64_t length) const -> result<void> {
  return for_each_piece(address.raw(), length, access::read,
                        [&](const detail::region_slot& s, std::uint64_t offset, std::uint64_t n, std::uint64_t) {
                          if (s.bitmap != nullptr) {
                            s.bitmap->mark(offset, n);
                          }
                        });
}

namespace {

// Drops the first `n` bytes from a list of buffers (after a short transfer).
void advance(std::vector<sys::io_buffer>& buffers, std::size_t& first, std::size_t n) {
  while (n > 0 && first < buffers.size()) {
    auto& b = buffers[first];
    const std::size_t step = std::min(n, b.length);
    b.base = static_cast<std::byte*>(b.base) + step;
    b.length -= step;
    n -= step;
    if (b.length == 0) {
      ++first;
    }
  }
}

// At most sys::max_io_buffers of `buffers` from `first`, for one readv/writev.
auto batch(const std::vector<sys::io_buffer>& buffers, std::size_t first) -> std::span<const sys::io_buffer> {
  return std::span{buffers}.subspan(first, std::min(buffers.size() - first, sys::max_io_buffers));
}

}  // namespace

auto guest_memory::read_from(guest_address address, sys::borrowed_fd fd, std::uint64_t length) const
    -> result<std::size_t> {
  if (length == 0) {
    return 0;
  }
  if (auto last = last_of(address.raw(), length); !last) {
    return std::unexpected(last.error());
  }
  const auto n = prefix_length(address.raw(), length, access::write);
  if (n == 0) {
    return unusable_at(find_slot(address.raw()));
  }
  std::vector<sys::io_buffer> buffers;
  static_cast<void>(
      for_each_piece(address.raw(), n, access::write,
                     [&](const detail::region_slot& s, std::uint64_t offset, std::uint64_t len, std::uint64_t) {
                       buffers.push_back({.base = s.host + offset, .length = static_cast<std::size_t>(len)});
                     }));
  auto got = sys::readv(fd, batch(buffers, 0));
  if (!got) {
    return std::unexpected(got.error());
  }
  static_cast<void>(mark_dirty(address, *got));
  return *got;
}

auto guest_memory::read_exact_from(guest_address address, sys::borrowed_fd fd, std::uint64_t length) const
    -> result<void> {
  std::vector<sys::io_buffer> buffers;
  if (auto ok = append_io_buffers(address, length, access::write, buffers, std::numeric_limits<std::size_t>::max());
      !ok) {
    return ok;
  }
  std::size_t first = 0;
  while (first < buffers.size()) {
    auto got = sys::readv(fd, batch(buffers, first));
    if (!got) {
      if (got.error() == std::errc::interrupted) {
        continue;
      }
      return std::unexpected(got.error());
    }
    if (*got == 0) {
      return failure(errc::unexpected_eof);
    }
    advance(buffers, first, *got);
  }
  return {};
}

auto guest_memory::write_to(guest_address address, sys::borrowed_fd fd, std::uint64_t length) const
    -> result<std::size_t> {
  if (length == 0) {
    return 0;
  }
  if (auto last = last_of(address.raw(), length); !last) {
    return std::unexpected(last.error());
  }
  const auto n = prefix_length(address.raw(), length, access::read);
  if (n == 0) {
    return failure(errc::out_of_range);
  }
  std::vector<sys::io_buffer> buffers;
  static_cast<void>(append_io_buffers(address, n, access::read, buffers, std::numeric_limits<std::size_t>::max()));
  return sys::writev(fd, batch(buffers, 0));
}

auto guest_memory::write_all_to(guest_address address, sys::borrowed_fd fd, std::uint64_t length) const
    -> result<void> {
  std::vector<sys::io_buffer> buffers;
  if (auto ok = append_io_buffers(address, length, access::read, buffers, std::numeric_limits<std::size_t>::max());
      !ok) {
    return ok;
  }
  std::size_t first = 0;
  while (first < buffers.size()) {
    auto put = sys::writev(fd, batch(buffers, first));
    if (!put) {
      if (put.error() == std::errc::interrupted) {
        continue;
      }
      return std::unexpected(put.error());
    }
    if (*put == 0) {
      return failure(errc::unexpected_eof);
    }
    advance(buffers, first, *put);
  }
  return {};
}

}  // namespace vmm::memory
