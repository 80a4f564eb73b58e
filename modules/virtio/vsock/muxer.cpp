module vmm.virtio.vsock;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;

namespace vmm::virtio::vsock {
namespace {

constexpr std::uint64_t timer_token = 0;
constexpr std::uint64_t stream_listener_token = 1;
constexpr std::uint64_t seqpacket_listener_token = 2;
constexpr std::size_t events_per_round = 64;

auto would_block(const std::error_code& e) noexcept -> bool {
  return e == std::errc::resource_unavailable_try_again || e == std::errc::interrupted;
}

// The port of "CONNECT <port>" (decimal, 1 to 10 digits, at most 2^32 − 1, nothing around it), or nothing.
auto parse_connect(std::string_view line) -> std::optional<std::uint32_t> {
  constexpr std::string_view prefix = "CONNECT ";
  if (!line.starts_with(prefix)) {
    return std::nullopt;
  }
  const std::string_view digits = line.substr(prefix.size());
  std::uint32_t port = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty() || digits.front() == '+') {
    return std::nullopt;
  }
  return port;
}

}  // namespace

muxer::muxer(muxer_config config, sys::epoll epoll, sys::timer_fd timer, sys::unix_listener stream,
             sys::unix_listener seqpacket)
    : config_{std::move(config)},
      epoll_{std::move(epoll)},
      timer_{std::move(timer)},
      stream_listener_{std::move(stream)},
      seqpacket_listener_{std::move(seqpacket)} {
}

auto muxer::create(muxer_config config) -> vmm::result<std::unique_ptr<muxer>> {
  if (config.guest_cid < 3 || config.guest_cid > std::numeric_limits<std::uint32_t>::max() || config.uds_path.empty() ||
      config.connect_timeout <= std::chrono::milliseconds::zero() ||
      config.close_timeout <= std::chrono::milliseconds::zero()) {
    return vmm::failure(errc::invalid_config);
  }
  auto epoll = sys::epoll::create();
  if (!epoll) {
    return std::unexpected(epoll.error());
  }
  auto timer = sys::timer_fd::create(sys::timer_clock::monotonic, true);
  if (!timer) {
    return std::unexpected(timer.error());
  }
  if (auto r = epoll->add(timer->fd(), sys::event_set::readable, timer_token); !r) {
    return std::unexpected(r.error());
  }
  auto stream = sys::unix_listener::bind(config.uds_path, sys::socket_kind::stream);
  if (!stream) {
    return std::unexpected(stream.error());
  }
  auto seq_path = config.uds_path;
  seq_path += seqpacket_listener_suffix;
  auto seqpacket = sys::unix_listener::bind(seq_path, sys::socket_kind::seqpacket);
  if (!seqpacket) {
    return std::unexpected(seqpacket.error());
  }
  for (const auto* l : {&*stream, &*seqpacket}) {
    if (auto r = sys::set_nonblocking(l->fd(), true); !r) {
      return std::unexpected(r.error());
    }
  }
  if (auto r = epoll->add(stream->fd(), sys::event_set::readable, stream_listener_token); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = epoll->add(seqpacket->fd(), sys::event_set::readable, seqpacket_listener_token); !r) {
    return std::unexpected(r.error());
  }
  return std::unique_ptr<muxer>{
      new muxer{std::move(config), std::move(*epoll), std::move(*timer), std::move(*stream), std::move(*seqpacket)}};
}

void muxer::handle_tx(const memory::guest_memory& memory, const queue::descriptor_chain& chain) {
  auto h = read_tx_packet(memory, chain, config_.guest_cid, payload_);
  if (!h) {
    const auto& e = h.error();
    if (e == errc::header_too_short) {
      metrics_->dropped_header_short.add();
    } else if (e == errc::wrong_source_cid || e == errc::wrong_destination_cid) {
      metrics_->dropped_bad_cid.add();
    } else if (e == errc::payload_too_long || e == errc::payload_truncated) {
      metrics_->dropped_bad_len.add();
    } else {
      metrics_->dropped_unreadable.add();
    }
    return;
  }
  handle_packet(*h, payload_);
}

void muxer::handle_packet(const header& h, std::span<const std::byte> payload) {
  metrics_->tx_packets.add();
  metrics_->tx_payload_bytes.add(payload.size());
  if (auto ok = check_type_and_op(h, seqpacket_); !ok) {
    if (ok.error() == errc::unknown_type) {
      metrics_->bad_type.add();
    } else {
      metrics_->bad_op.add();
    }
    const std::uint64_t bad_key = key_of(h.dst_port, h.src_port);
    if (auto it = connections_.find(bad_key); it != connections_.end()) {
      it->second.conn->reset();  // the guest will drop its side on our reset: so does the device
      sync(bad_key);
    } else if (h.op != op::rst) {
      queue_reset(h);
    }
    return;
  }
  const std::uint64_t key = key_of(h.dst_port, h.src_port);
  if (auto it = connections_.find(key); it != connections_.end()) {
    it->second.conn->on_guest_packet(h, payload);
    sync(key);
    return;
  }
  if (h.op == op::request) {
    guest_connect(h);
    return;
  }
  if (h.op != op::rst) {
    metrics_->no_connection.add();
    queue_reset(h);
  }
}

void muxer::queue_reset(const header& to) {
  if (resets_.size() >= config_.max_pending_resets) {
    metrics_->resets_dropped.add();
    return;
  }
  // The reset names the packet's own type, unless that is no socket type at all (a guest's garbage): then stream,
  // the type every device supports (as Firecracker does), never a value the guest's driver cannot parse.
  const std::uint16_t type =
      to.type == socket_type::stream || to.type == socket_type::seqpacket ? to.type : socket_type::stream;
  resets_.push_back(header{.src_cid = host_cid,
                           .dst_cid = config_.guest_cid,
                           .src_port = to.dst_port,
                           .dst_port = to.src_port,
                           .len = 0,
                           .type = type,
                           .op = op::rst,
                           .flags = 0,
                           .buf_alloc = 0,
                           .fwd_cnt = 0});
}

void muxer::guest_connect(const header& h) {
  if (connections_.size() + handshakes_.size() >= config_.max_connections) {
    metrics_->guest_connect_failures.add();
    queue_reset(h);
    return;
  }
  auto path = config_.uds_path;
  path += std::format("_{}", h.dst_port);
  const auto kind = h.type == socket_type::seqpacket ? sys::socket_kind::seqpacket : sys::socket_kind::stream;
  auto socket = sys::unix_connect_nonblocking(path, kind);
  if (!socket) {
    metrics_->guest_connect_failures.add();
    queue_reset(h);
    return;
  }
  const std::uint64_t key = key_of(h.dst_port, h.src_port);
  record r{.conn = connection::guest_initiated(std::move(*socket), h, *metrics_), .token = next_token_++};
  token_to_key_.emplace(r.token, key);
  connections_.emplace(key, std::move(r));
  metrics_->guest_connects.add();
  sync(key);
}

void muxer::sync(std::uint64_t key) {
  auto it = connections_.find(key);
  if (it == connections_.end()) {
    return;
  }
  record& r = it->second;
  if (r.conn->state() == connection_state::closed && !r.conn->has_rx()) {
    erase(key);
    return;
  }
  const auto wanted = r.conn->wanted_events();
  if (wanted != r.registered) {
    vmm::result<void> done;
    if (r.registered == sys::event_set::none) {
      done = epoll_.add(r.conn->socket(), wanted, r.token);
    } else if (wanted == sys::event_set::none) {
      done = epoll_.remove(r.conn->socket());
    } else {
      done = epoll_.modify(r.conn->socket(), wanted, r.token);
    }
    if (!done) {  // the socket cannot be watched: the connection cannot work
      metrics_->socket_errors.add();
      if (r.registered != sys::event_set::none) {
        static_cast<void>(epoll_.remove(r.conn->socket()));
      }
      r.registered = sys::event_set::none;
      r.conn->reset();
    } else {
      r.registered = wanted;
    }
  }
  update_deadline(r);
  if (r.conn->has_rx() && !r.queued) {
    r.queued = true;
    rx_queue_.push_back(key);
  }
}

void muxer::erase(std::uint64_t key) noexcept {
  auto it = connections_.find(key);
  if (it == connections_.end()) {
    return;
  }
  if (it->second.registered != sys::event_set::none) {
    static_cast<void>(epoll_.remove(it->second.conn->socket()));
  }
  token_to_key_.erase(it->second.token);
  if (it->second.timed != connection_state::established) {
    deadlines_.erase({it->second.deadline, it->second.token});
  }
  if (it->second.queued) {
    std::erase(rx_queue_, key);
  }
  connections_.erase(it);
}

auto muxer::has_rx() const noexcept -> bool {
  return !resets_.empty() || !rx_queue_.empty();
}

auto muxer::next_rx(header& h, std::vector<std::byte>& payload, std::size_t max_payload) -> bool {
  payload.clear();
  if (!resets_.empty()) {
    h = resets_.front();
    resets_.pop_front();
    metrics_->resets_sent.add();
    metrics_->rx_packets.add();
    return true;
  }
  // Each queued connection gets one turn: one that has data but cannot send it into `max_payload` (a tiny rx
  // buffer) is queued again by sync() and must not be asked again in this call.
  for (std::size_t turns = rx_queue_.size(); turns != 0 && !rx_queue_.empty(); --turns) {
    const std::uint64_t key = rx_queue_.front();
    rx_queue_.pop_front();
    auto it = connections_.find(key);
    if (it == connections_.end()) {
      continue;
    }
    it->second.queued = false;
    const bool produced = it->second.conn->next_rx(h, payload, max_payload);
    sync(key);
    if (produced) {
      metrics_->rx_packets.add();
      metrics_->rx_payload_bytes.add(payload.size());
      return true;
    }
  }
  return false;
}

auto muxer::fill_rx(const memory::guest_memory& memory, const queue::descriptor_chain& chain)
    -> vmm::result<std::uint32_t> {
  if (chain.writable_bytes() < header_size) {
    metrics_->rx_buffer_too_small.add();
    return vmm::failure(errc::rx_buffer_too_small);
  }
  const auto room =
      static_cast<std::size_t>(std::min<std::uint64_t>(chain.writable_bytes() - header_size, max_packet_payload));
  header h;
  if (!next_rx(h, payload_, room)) {
    return 0U;
  }
  return write_rx_packet(memory, chain, h, payload_);
}

auto muxer::process_events() -> vmm::result<std::size_t> {
  std::array<sys::ready_event, events_per_round> ready;
  auto n = epoll_.wait(ready, std::chrono::milliseconds{0});
  if (!n) {
    return std::unexpected(n.error());
  }
  for (const auto& event : std::span{ready}.first(*n)) {
    const std::uint64_t token = event.data();
    const auto events = event.events();
    if (token == timer_token) {
      static_cast<void>(timer_.wait());  // drain the expiration count (EAGAIN: a re-arm discarded it)
      armed_for_.reset();
      expire_deadlines();
      continue;
    }
    if (token == stream_listener_token) {
      accept_all(stream_listener_, sys::socket_kind::stream);
      continue;
    }
    if (token == seqpacket_listener_token) {
      accept_all(seqpacket_listener_, sys::socket_kind::seqpacket);
      continue;
    }
    if (handshakes_.contains(token)) {
      on_handshake(token);
      continue;
    }
    auto k = token_to_key_.find(token);
    if (k == token_to_key_.end()) {
      continue;  // removed earlier in this round
    }
    const std::uint64_t key = k->second;
    auto& conn = *connections_.at(key).conn;
    const auto failed = sys::event_set::error | sys::event_set::hang_up;
    if ((events & (sys::event_set::readable | failed)) != sys::event_set::none) {
      conn.on_readable();
    }
    if ((events & (sys::event_set::writable | failed)) != sys::event_set::none) {
      conn.on_writable();
    }
    sync(key);
  }
  return *n;
}

void muxer::accept_all(const sys::unix_listener& listener, sys::socket_kind kind) {
  for (;;) {
    auto socket = listener.accept();
    if (!socket) {
      return;  // EAGAIN: none left (any other error: the next readiness report retries)
    }
    if (connections_.size() + handshakes_.size() >= config_.max_connections || !sys::set_nonblocking(*socket, true)) {
      metrics_->handshake_failures.add();
      continue;  // closed here
    }
    const std::uint64_t token = next_token_++;
    if (!epoll_.add(*socket, sys::event_set::readable, token)) {
      metrics_->handshake_failures.add();
      continue;
    }
    const auto deadline = clock::now() + config_.connect_timeout;
    handshakes_.emplace(token, handshake{.socket = std::move(*socket), .kind = kind, .line = {}, .deadline = deadline});
    schedule(token, deadline);
  }
}

void muxer::drop_handshake(std::uint64_t token) noexcept {
  auto it = handshakes_.find(token);
  if (it == handshakes_.end()) {
    return;
  }
  static_cast<void>(epoll_.remove(it->second.socket));
  deadlines_.erase({it->second.deadline, token});
  handshakes_.erase(it);
}

void muxer::fail_handshake(std::uint64_t token) noexcept {
  drop_handshake(token);
  metrics_->handshake_failures.add();
}

void muxer::on_handshake(std::uint64_t token) {
  auto& hs = handshakes_.at(token);
  std::array<std::byte, max_connect_line> buffer{};
  std::size_t got = 0;
  if (hs.kind == sys::socket_kind::stream) {
    auto n = sys::read(hs.socket, std::span{buffer}.first(max_connect_line - hs.line.size()));
    if (!n) {
      if (!would_block(n.error())) {
        fail_handshake(token);
      }
      return;
    }
    got = *n;
  } else {
    auto m = sys::recv_with_fds(hs.socket, buffer);
    if (!m) {
      if (!would_block(m.error())) {
        fail_handshake(token);  // includes a message longer than any CONNECT line
      }
      return;
    }
    got = m->bytes;
  }
  if (got == 0) {
    fail_handshake(token);  // closed before its CONNECT line
    return;
  }
  const auto received = std::span{buffer}.first(got);
  for (const std::byte b : received) {
    hs.line.push_back(static_cast<char>(b));
  }
  const auto newline = hs.line.find('\n');
  if (newline == std::string::npos) {
    if (hs.kind == sys::socket_kind::seqpacket || hs.line.size() >= max_connect_line) {
      fail_handshake(token);
    }
    return;
  }
  const auto port = parse_connect(std::string_view{hs.line}.substr(0, newline));
  const bool seq = hs.kind == sys::socket_kind::seqpacket;
  if (!port || (seq && (!seqpacket_ || newline + 1 != hs.line.size()))) {
    fail_handshake(token);
    return;
  }
  std::vector<std::byte> leftover;
  for (const char c : std::string_view{hs.line}.substr(newline + 1)) {
    leftover.push_back(static_cast<std::byte>(c));
  }
  sys::unique_fd socket = std::move(hs.socket);
  static_cast<void>(epoll_.remove(socket));
  deadlines_.erase({hs.deadline, token});
  handshakes_.erase(token);
  const std::uint32_t local = allocate_local_port();
  const std::uint64_t key = key_of(local, *port);
  record r{.conn = connection::host_initiated(std::move(socket), seq ? socket_type::seqpacket : socket_type::stream,
                                              config_.guest_cid, local, *port, std::move(leftover), *metrics_),
           .token = next_token_++};
  token_to_key_.emplace(r.token, key);
  connections_.emplace(key, std::move(r));
  sync(key);
}

auto muxer::allocate_local_port() noexcept -> std::uint32_t {
  for (;;) {
    const std::uint32_t candidate = next_local_port_;
    next_local_port_ =
        next_local_port_ == std::numeric_limits<std::uint32_t>::max() ? first_local_port : next_local_port_ + 1;
    const bool used = std::ranges::any_of(
        connections_, [&](const auto& entry) { return static_cast<std::uint32_t>(entry.first >> 32U) == candidate; });
    if (!used) {
      return candidate;  // found within max_connections + 1 tries: at most that many ports are in use
    }
  }
}

void muxer::reset_all() noexcept {
  for (auto& [key, r] : connections_) {
    if (r.registered != sys::event_set::none) {
      static_cast<void>(epoll_.remove(r.conn->socket()));
    }
  }
  for (auto& [token, hs] : handshakes_) {
    static_cast<void>(epoll_.remove(hs.socket));
  }
  connections_.clear();
  token_to_key_.clear();
  handshakes_.clear();
  rx_queue_.clear();
  resets_.clear();
  deadlines_.clear();
  static_cast<void>(timer_.disarm());  // also discards an expiration not read yet; cannot fail on a valid timerfd
  armed_for_.reset();
}

void muxer::update_deadline(record& r) {
  const auto state = r.conn->state();
  if (state == r.timed) {
    return;  // a deadline runs from entering the state, not from the last packet
  }
  if (r.timed != connection_state::established) {
    deadlines_.erase({r.deadline, r.token});
  }
  r.timed = connection_state::established;
  if (state == connection_state::connecting || state == connection_state::closing) {
    r.timed = state;
    r.deadline =
        clock::now() + (state == connection_state::connecting ? config_.connect_timeout : config_.close_timeout);
    schedule(r.token, r.deadline);
  }
}

void muxer::schedule(std::uint64_t token, clock::time_point when) {
  deadlines_.emplace(when, token);
  if (armed_for_ && *armed_for_ <= when) {
    return;  // the timer fires earlier and re-arms for what is due next then
  }
  // An absolute monotonic deadline (steady_clock is CLOCK_MONOTONIC). It cannot fail for a positive time; if it
  // did, this deadline would wait for the next one armed.
  if (timer_.arm_at(when.time_since_epoch())) {
    armed_for_ = when;
  }
}

void muxer::expire_deadlines() {
  const auto now = clock::now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const std::uint64_t token = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    if (auto k = token_to_key_.find(token); k != token_to_key_.end()) {
      expire(k->second);
    } else if (handshakes_.contains(token)) {
      drop_handshake(token);
      metrics_->handshake_timeouts.add();
    }
  }
  if (!deadlines_.empty()) {
    const auto next = deadlines_.begin()->first;
    if (timer_.arm_at(next.time_since_epoch())) {
      armed_for_ = next;
    }
  }
}

void muxer::expire(std::uint64_t key) {
  auto& r = connections_.at(key);
  const auto& conn = *r.conn;
  r.timed = connection_state::established;  // its deadline is gone from deadlines_ already
  if (conn.state() == connection_state::connecting) {
    metrics_->connect_timeouts.add();
  } else {
    metrics_->close_timeouts.add();
  }
  if (conn.guest_knows()) {
    // The guest's view of the connection ends with this reset, sent standalone (a later RESPONSE for it gets a
    // reset too, as a packet for no connection).
    queue_reset(header{.src_cid = config_.guest_cid,
                       .dst_cid = host_cid,
                       .src_port = conn.peer_port(),
                       .dst_port = conn.local_port(),
                       .len = 0,
                       .type = conn.type(),
                       .op = op::rst,
                       .flags = 0,
                       .buf_alloc = 0,
                       .fwd_cnt = 0});
  }
  erase(key);  // closes the host socket
}

auto muxer::find(std::uint32_t local, std::uint32_t peer) const noexcept -> const connection* {
  auto it = connections_.find(key_of(local, peer));
  return it == connections_.end() ? nullptr : it->second.conn.get();
}

}  // namespace vmm::virtio::vsock
