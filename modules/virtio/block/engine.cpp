module vmm.virtio.block;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;

namespace vmm::virtio::block {

request_engine::request_engine(block_backend& backend, const request_policy& policy,
                               const std::array<std::byte, id_bytes>& serial, block_metrics& metrics,
                               std::size_t queues)
    : backend_{&backend},
      policy_{policy},
      serial_{serial},
      metrics_{&metrics},
      slots_(max_in_flight * std::max<std::size_t>(queues, 1)) {
  free_.reserve(slots_.size());
  for (auto i = static_cast<std::uint32_t>(slots_.size()); i > 0; --i) {
    free_.push_back(i - 1);
  }
}

auto request_engine::ops_needed_max() const noexcept -> std::size_t {
  const std::uint32_t ranges = std::max(policy_.limits.max_discard_seg, policy_.limits.max_write_zeroes_seg);
  return std::max<std::size_t>(ranges, 1);
}

auto request_engine::can_accept() const noexcept -> bool {
  return !free_.empty() && backend_->free_slots() >= ops_needed_max();
}

void request_engine::submit(std::shared_ptr<const memory::guest_memory> memory, const queue::descriptor_chain& chain,
                            std::uint16_t queue) {
  vmm::contract_check(can_accept(), "request_engine::submit without a free slot");
  vmm::contract_check(memory != nullptr, "request_engine::submit without guest memory");
  const std::uint32_t index = free_.back();
  free_.pop_back();
  pending& p = slots_[index];
  p.token = chain.token();
  p.queue = queue;
  p.ops_left = 0;
  p.data_bytes = 0;
  p.writable_bytes = chain.writable_bytes();
  p.error = {};
  p.abandoned = false;
  p.memory = std::move(memory);

  auto parsed = parse_request(*p.memory, chain, policy_, request_);
  p.status_address = request_.status_address;
  if (!parsed) {
    metrics_->count_error(parsed.error());
    if (!request_.has_status) {
      p.op = operation::flush;
      p.error = parsed.error();
      p.status_address = {};
      ++metrics_->dropped;
      ready_.push_back(
          {.token = p.token, .used_length = 0, .status = status::ioerr, .queue = p.queue, .dropped = true});
      p.memory.reset();
      free_.push_back(index);
      return;
    }
    p.op = request_.op;
    p.error = parsed.error();
    finish(p, index);
    return;
  }
  p.op = request_.op;
  p.data_bytes = request_.data_bytes;
  switch (p.op) {
    case operation::read:
      ++metrics_->reads;
      break;
    case operation::write:
      ++metrics_->writes;
      break;
    case operation::flush:
      ++metrics_->flushes;
      break;
    case operation::get_id:
      ++metrics_->get_ids;
      break;
    case operation::discard:
      ++metrics_->discards;
      break;
    case operation::write_zeroes:
      ++metrics_->write_zeroes;
      break;
  }
  if (p.op == operation::get_id) {
    if (auto r = write_stream(*p.memory, request_.writable, 0, serial_); !r) {
      p.error = r.error();
      metrics_->count_error(r.error());
    }
    finish(p, index);
    return;
  }
  start(index, request_);
}

void request_engine::start(std::uint32_t index, const block_request& request) {
  pending& p = slots_[index];
  p.buffers.assign(request.buffers.begin(), request.buffers.end());
  auto issue = [&](const io_operation& op) {
    if (auto r = backend_->submit(op); !r) {
      p.error = r.error();  // cannot happen after can_accept(); answered as an I/O error all the same
      metrics_->count_error(r.error());
      return;
    }
    ++p.ops_left;
  };
  switch (p.op) {
    case operation::read:
    case operation::write:
      issue({.kind = p.op == operation::read ? io_kind::read : io_kind::write,
             .offset = request.sector * sector_size,
             .length = request.data_bytes,
             .buffers = p.buffers,
             .cookie = index});
      break;
    case operation::flush:
      issue({.kind = io_kind::flush, .offset = 0, .length = 0, .buffers = {}, .cookie = index});
      break;
    case operation::discard:
    case operation::write_zeroes:
      for (const sector_range& r : request.ranges) {
        if (r.num_sectors == 0) {
          continue;  // nothing to do (fallocate would refuse an empty range)
        }
        // Write-zeroes with the unmap flag may deallocate (config.write_zeroes_may_unmap): a hole reads as zero.
        const bool punch = p.op == operation::discard || r.unmap;
        issue({.kind = punch ? io_kind::discard : io_kind::write_zeroes,
               .offset = r.sector * sector_size,
               .length = std::uint64_t{r.num_sectors} * sector_size,
               .buffers = {},
               .cookie = index});
      }
      break;
    case operation::get_id:
      break;
  }
  if (p.ops_left == 0) {
    finish(p, index);
  }
}

namespace {

// The prefix of the writable part a finished request wrote (see finished_chain::used_length).
auto used_length_of(operation op, std::uint8_t status, std::uint64_t writable_bytes) -> std::uint32_t {
  if (status == status::ok && op == operation::read) {
    return static_cast<std::uint32_t>(writable_bytes);  // data (≤ the transfer limit) and status
  }
  if (status == status::ok && op == operation::get_id) {
    return static_cast<std::uint32_t>(writable_bytes == id_bytes + 1 ? id_bytes + 1 : id_bytes);
  }
  return writable_bytes == 1 ? 1 : 0;
}

}  // namespace

void request_engine::count_finished(const pending& p, std::uint8_t status) noexcept {
  if (status == status::unsupp) {
    ++metrics_->status_unsupp;
  } else if (status != status::ok) {
    ++metrics_->status_ioerr;
  } else {
    ++metrics_->status_ok;
    if (p.op == operation::read) {
      metrics_->bytes_read += p.data_bytes;
    } else if (p.op == operation::write) {
      metrics_->bytes_written += p.data_bytes;
    }
  }
}

void request_engine::finish(pending& p, std::uint32_t index) {
  if (!p.abandoned) {
    const std::uint8_t status = p.error ? status_for(p.error) : status::ok;
    finished_chain done{.token = p.token, .status = status, .queue = p.queue};
    if (p.memory->write_obj<std::uint8_t>(p.status_address, status)) {
      count_finished(p, status);
      done.used_length = used_length_of(p.op, status, p.writable_bytes);
    } else {
      done.dropped = true;  // the status byte left guest memory since it was checked (memory hot-unplug)
      ++metrics_->dropped;
      metrics_->count_error(make_error_code(errc::buffer_unmapped));
    }
    ready_.push_back(done);
  }
  p.memory.reset();
  p.buffers.clear();
  free_.push_back(index);
}

auto request_engine::flush() -> vmm::result<void> {
  return backend_->flush_submissions();
}

void request_engine::collect(std::vector<finished_chain>& out) {
  completions_.clear();
  backend_->reap(completions_);
  for (const io_completion& c : completions_) {
    if (c.cookie >= slots_.size()) {
      continue;
    }
    const auto index = static_cast<std::uint32_t>(c.cookie);
    pending& p = slots_[index];
    if (p.ops_left == 0) {
      continue;  // not in flight (cannot happen: every operation carries its slot)
    }
    if (c.error && !p.error) {
      p.error = c.error;
      metrics_->count_error(make_error_code(errc::io_failed));
    }
    if (--p.ops_left == 0) {
      finish(p, index);
    }
  }
  out.insert(out.end(), ready_.begin(), ready_.end());
  ready_.clear();
}

void request_engine::abandon() noexcept {
  for (pending& p : slots_) {
    p.abandoned = true;
  }
  ready_.clear();
}

}  // namespace vmm::virtio::block
