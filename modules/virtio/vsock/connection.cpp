module;
#include <cerrno>
module vmm.virtio.vsock;
import std;
import vmm.sys;

namespace vmm::virtio::vsock {
namespace {

// The device tells the guest about freed buffer space once half of it is free again (and whenever asked), so a
// guest streaming data rarely waits for credit and the device does not answer every packet with an update.
constexpr std::uint32_t credit_update_threshold = connection_buffer_size / 2;

auto would_block(const std::error_code& e) noexcept -> bool {
  return e == std::errc::resource_unavailable_try_again || e == std::errc::interrupted;
}

}  // namespace

connection::connection(sys::unique_fd socket, std::uint16_t type, std::uint64_t guest_cid, std::uint32_t local_port,
                       std::uint32_t peer_port, vsock::metrics& counters) noexcept
    : socket_{std::move(socket)},
      metrics_{&counters},
      guest_cid_{guest_cid},
      local_port_{local_port},
      peer_port_{peer_port},
      type_{type} {
}

auto connection::host_initiated(sys::unique_fd socket, std::uint16_t type, std::uint64_t guest_cid,
                                std::uint32_t local_port, std::uint32_t peer_port, std::vector<std::byte> pending,
                                vsock::metrics& counters) -> std::unique_ptr<connection> {
  std::unique_ptr<connection> c{new connection{std::move(socket), type, guest_cid, local_port, peer_port, counters}};
  c->pending_ = send_request;
  c->rx_buf_ = std::move(pending);
  return c;
}

auto connection::guest_initiated(sys::unique_fd socket, const header& request, vsock::metrics& counters)
    -> std::unique_ptr<connection> {
  std::unique_ptr<connection> c{
      new connection{std::move(socket), request.type, request.src_cid, request.dst_port, request.src_port, counters}};
  c->state_ = connection_state::established;
  c->pending_ = send_response;
  c->peer_buf_alloc_ = request.buf_alloc;
  c->peer_fwd_cnt_ = request.fwd_cnt;
  return c;
}

auto connection::peer_credit() const noexcept -> std::uint32_t {
  const std::uint32_t in_flight = rx_cnt_ - peer_fwd_cnt_;  // wraps like the guest's counters
  if (in_flight > peer_buf_alloc_) {
    return 0;  // the guest claims to have forwarded more than it received: give it nothing
  }
  return peer_buf_alloc_ - in_flight;
}

auto connection::tx_buffered() const noexcept -> std::size_t {
  return (tx_buf_.size() - tx_off_) + tx_msg_.size() + tx_msgs_bytes_;
}

auto connection::guest_knows() const noexcept -> bool {
  if (state_ == connection_state::connecting) {
    return (pending_ & send_request) == 0;
  }
  return state_ != connection_state::closed;
}

void connection::reset() noexcept {
  if (state_ == connection_state::closed || state_ == connection_state::closing) {
    return;
  }
  state_ = connection_state::closing;
  pending_ = send_rst;
  tx_buf_.clear();
  tx_off_ = 0;
  tx_msg_.clear();
  tx_msgs_.clear();
  tx_msgs_bytes_ = 0;
  rx_buf_.clear();
  rx_off_ = 0;
}

auto connection::make_header(std::uint16_t o) noexcept -> header {
  last_fwd_cnt_sent_ = fwd_cnt_;
  return header{.src_cid = host_cid,
                .dst_cid = guest_cid_,
                .src_port = local_port_,
                .dst_port = peer_port_,
                .len = 0,
                .type = type_,
                .op = o,
                .flags = 0,
                .buf_alloc = connection_buffer_size,
                .fwd_cnt = fwd_cnt_};
}

void connection::on_guest_packet(const header& h, std::span<const std::byte> payload) {
  if (state_ == connection_state::closing || state_ == connection_state::closed) {
    if (h.op == op::rst) {
      state_ = connection_state::closed;  // the guest reset first: no need to send ours
      pending_ = 0;
    }
    return;
  }
  peer_buf_alloc_ = h.buf_alloc;
  peer_fwd_cnt_ = h.fwd_cnt;
  credit_requested_ = false;
  if (h.op == op::rst) {
    metrics_->resets_received.add();
    state_ = connection_state::closed;
    pending_ = 0;
    return;
  }
  if (h.type != type_) {
    metrics_->protocol_errors.add();
    reset();
    return;
  }
  if (state_ == connection_state::connecting) {
    if (h.op == op::response) {
      state_ = connection_state::established;
      metrics_->host_connects.add();
      reply_ = std::format("OK {}\n", local_port_);
      flush();
      return;
    }
    metrics_->protocol_errors.add();
    reset();
    return;
  }
  switch (h.op) {
    case op::rw:
      accept_rw(h, payload);
      return;
    case op::credit_update:
      return;
    case op::credit_request:
      pending_ |= send_credit_update;
      return;
    case op::shutdown:
      peer_shutdown_ |= h.flags & shutdown_flag::both;
      if ((peer_shutdown_ & shutdown_flag::send) != 0) {
        tx_msg_.clear();  // a seqpacket message without its end-of-message packet never completes
      }
      flush();
      return;
    default:  // a second REQUEST or a RESPONSE on an established connection
      metrics_->protocol_errors.add();
      reset();
      return;
  }
}

void connection::accept_rw(const header& h, std::span<const std::byte> payload) {
  if ((peer_shutdown_ & shutdown_flag::send) != 0) {
    metrics_->protocol_errors.add();
    reset();
    return;
  }
  if (tx_buffered() + payload.size() > connection_buffer_size) {
    metrics_->credit_exceeded.add();
    reset();
    return;
  }
  if (type_ == socket_type::stream) {
    if (tx_off_ == tx_buf_.size() && reply_off_ == reply_.size()) {
      // Nothing is waiting: write straight from the packet and buffer only what the socket did not take.
      auto n = sys::send_with_fds(socket_, payload);
      if (!n && !would_block(n.error())) {
        metrics_->socket_errors.add();
        reset();
        return;
      }
      const std::size_t written = n.value_or(0);
      fwd_cnt_ += static_cast<std::uint32_t>(written);
      payload = payload.subspan(written);
    }
    tx_buf_.insert(tx_buf_.end(), payload.begin(), payload.end());
  } else {
    tx_msg_.insert(tx_msg_.end(), payload.begin(), payload.end());
    // An empty message is not passed on: the host would read it as end of stream.
    if ((h.flags & seq_flag::eom) != 0 && !tx_msg_.empty()) {
      tx_msgs_bytes_ += tx_msg_.size();
      tx_msgs_.push_back(std::move(tx_msg_));
      tx_msg_ = {};
    }
  }
  flush();
}

void connection::flush() {
  if (flush_reply() && flush_data()) {
    after_progress();
  }
}

auto connection::flush_reply() -> bool {
  while (reply_off_ < reply_.size()) {
    auto n = sys::send_with_fds(socket_, std::as_bytes(std::span{reply_}).subspan(reply_off_));
    if (!n) {
      static_cast<void>(socket_failed(n.error()));
      return false;  // guest data waits until the whole reply is out
    }
    reply_off_ += *n;
  }
  return true;
}

auto connection::flush_data() -> bool {
  if (type_ == socket_type::stream) {
    while (tx_off_ < tx_buf_.size()) {
      auto n = sys::send_with_fds(socket_, std::span{tx_buf_}.subspan(tx_off_));
      if (!n) {
        if (!socket_failed(n.error())) {
          return false;
        }
        break;
      }
      tx_off_ += *n;
      fwd_cnt_ += static_cast<std::uint32_t>(*n);
    }
    if (tx_off_ == tx_buf_.size()) {
      tx_buf_.clear();
      tx_off_ = 0;
    } else if (tx_off_ > connection_buffer_size / 2) {
      tx_buf_.erase(tx_buf_.begin(), tx_buf_.begin() + static_cast<std::ptrdiff_t>(tx_off_));
      tx_off_ = 0;
    }
    return true;
  }
  while (!tx_msgs_.empty()) {
    const auto& message = tx_msgs_.front();
    auto n = sys::send_with_fds(socket_, message);
    if (!n) {
      return socket_failed(n.error());
    }
    // A seqpacket socket takes a message whole or not at all.
    fwd_cnt_ += static_cast<std::uint32_t>(message.size());
    tx_msgs_bytes_ -= message.size();
    tx_msgs_.pop_front();
  }
  return true;
}

auto connection::socket_failed(const std::error_code& e) -> bool {
  if (would_block(e)) {
    return true;  // the socket is full: what is left waits for the next writable report
  }
  metrics_->socket_errors.add();
  reset();
  return false;
}

void connection::after_progress() {
  if (state_ != connection_state::established) {
    return;
  }
  if (fwd_cnt_ - last_fwd_cnt_sent_ >= credit_update_threshold) {
    pending_ |= send_credit_update;
  }
  const bool tx_drained = tx_buffered() == 0 && reply_off_ == reply_.size();
  if (!tx_drained) {
    return;
  }
  if ((peer_shutdown_ & shutdown_flag::send) != 0 && !socket_write_shut_) {
    socket_write_shut_ = true;
    // The host reads end of stream; a socket already gone is reported on its next read or write.
    static_cast<void>(sys::shutdown_socket(socket_, sys::shutdown_direction::write));
  }
  // Both directions are finished: the guest closed completely, or it stopped sending after the host did.
  if (peer_shutdown_ == shutdown_flag::both || ((peer_shutdown_ & shutdown_flag::send) != 0 && shutdown_sent_)) {
    reset();
  }
}

void connection::on_readable() {
  if (state_ != connection_state::established || local_eof_ || rx_remaining() != 0 ||
      (peer_shutdown_ & shutdown_flag::receive) != 0) {
    return;
  }
  const std::uint32_t credit = peer_credit();
  if (credit == 0) {
    return;
  }
  rx_buf_.resize(max_host_read);
  rx_off_ = 0;
  std::size_t got = 0;
  if (type_ == socket_type::stream) {
    auto n = sys::read(socket_, std::span{rx_buf_}.first(std::min<std::size_t>(credit, max_host_read)));
    if (!n) {
      rx_buf_.clear();
      if (!would_block(n.error())) {
        metrics_->socket_errors.add();
        reset();
      }
      return;
    }
    got = *n;
  } else {
    auto m = sys::recv_with_fds(socket_, rx_buf_);
    if (!m) {
      rx_buf_.clear();
      if (would_block(m.error())) {
        return;
      }
      if (m.error() == sys::errc::message_truncated) {
        metrics_->protocol_errors.add();
      } else {
        metrics_->socket_errors.add();
      }
      reset();
      return;
    }
    got = m->bytes;
  }
  rx_buf_.resize(got);
  if (got == 0) {
    local_eof_ = true;  // (for seqpacket, a zero-length message reads the same and ends the connection too)
  }
}

void connection::on_writable() {
  if (state_ == connection_state::established) {
    flush();
  }
}

auto connection::has_rx() const noexcept -> bool {
  if (pending_ != 0) {
    return true;
  }
  if (state_ != connection_state::established) {
    return false;
  }
  if (rx_remaining() != 0) {
    return peer_credit() != 0;
  }
  return local_eof_ && !shutdown_sent_;
}

auto connection::next_rx(header& h, std::vector<std::byte>& payload, std::size_t max_payload) -> bool {
  payload.clear();
  if ((pending_ & send_rst) != 0) {
    h = make_header(op::rst);
    pending_ = 0;
    state_ = connection_state::closed;
    metrics_->resets_sent.add();
    return true;
  }
  if ((pending_ & send_request) != 0) {
    pending_ &= static_cast<std::uint8_t>(~send_request);
    h = make_header(op::request);
    return true;
  }
  if ((pending_ & send_response) != 0) {
    pending_ &= static_cast<std::uint8_t>(~send_response);
    h = make_header(op::response);
    return true;
  }
  if (state_ == connection_state::established && rx_remaining() != 0) {
    const std::size_t n = std::min({rx_remaining(), static_cast<std::size_t>(peer_credit()), max_payload,
                                    static_cast<std::size_t>(max_packet_payload)});
    if (n != 0) {
      h = make_header(op::rw);
      if (type_ == socket_type::seqpacket && n == rx_remaining()) {
        h.flags = seq_flag::eom | seq_flag::eor;
      }
      const auto piece = std::span{rx_buf_}.subspan(rx_off_, n);
      payload.assign(piece.begin(), piece.end());
      rx_off_ += n;
      rx_cnt_ += static_cast<std::uint32_t>(n);
      if (rx_remaining() == 0) {
        rx_buf_.clear();
        rx_off_ = 0;
      }
      pending_ &= static_cast<std::uint8_t>(~send_credit_update);  // this header carries the update
      if (peer_credit() == 0 && !credit_requested_) {
        credit_requested_ = true;
        pending_ |= send_credit_request;
      }
      return true;
    }
  }
  if ((pending_ & send_credit_update) != 0) {
    pending_ &= static_cast<std::uint8_t>(~send_credit_update);
    h = make_header(op::credit_update);
    return true;
  }
  if ((pending_ & send_credit_request) != 0) {
    pending_ &= static_cast<std::uint8_t>(~send_credit_request);
    h = make_header(op::credit_request);
    return true;
  }
  if (state_ == connection_state::established && local_eof_ && !shutdown_sent_ && rx_remaining() == 0) {
    shutdown_sent_ = true;
    h = make_header(op::shutdown);
    h.flags = shutdown_flag::send;
    after_progress();  // the guest may already have stopped sending: then this connection is done
    return true;
  }
  return false;
}

auto connection::wanted_events() const noexcept -> sys::event_set {
  auto wanted = sys::event_set::none;
  if (state_ != connection_state::established) {
    return wanted;
  }
  if (!local_eof_ && rx_remaining() == 0 && (peer_shutdown_ & shutdown_flag::receive) == 0 && peer_credit() != 0) {
    wanted |= sys::event_set::readable;
  }
  if (tx_buffered() != 0 || reply_off_ != reply_.size()) {
    wanted |= sys::event_set::writable;
  }
  return wanted;
}

}  // namespace vmm::virtio::vsock
