module vmm.virtio.vsock;
import std;

namespace vmm::virtio::vsock {

auto metrics::to_json() const -> std::string {
  const std::array<std::pair<std::string_view, const counter*>, 28> fields{{
      {"tx_packets", &tx_packets},
      {"tx_payload_bytes", &tx_payload_bytes},
      {"rx_packets", &rx_packets},
      {"rx_payload_bytes", &rx_payload_bytes},
      {"dropped_header_short", &dropped_header_short},
      {"dropped_bad_cid", &dropped_bad_cid},
      {"dropped_bad_len", &dropped_bad_len},
      {"dropped_unreadable", &dropped_unreadable},
      {"bad_type", &bad_type},
      {"bad_op", &bad_op},
      {"no_connection", &no_connection},
      {"credit_exceeded", &credit_exceeded},
      {"protocol_errors", &protocol_errors},
      {"resets_sent", &resets_sent},
      {"resets_received", &resets_received},
      {"resets_dropped", &resets_dropped},
      {"guest_connects", &guest_connects},
      {"guest_connect_failures", &guest_connect_failures},
      {"host_connects", &host_connects},
      {"handshake_failures", &handshake_failures},
      {"socket_errors", &socket_errors},
      {"connect_timeouts", &connect_timeouts},
      {"close_timeouts", &close_timeouts},
      {"handshake_timeouts", &handshake_timeouts},
      {"transport_resets", &transport_resets},
      {"event_buffer_errors", &event_buffer_errors},
      {"rx_buffer_too_small", &rx_buffer_too_small},
      {"config_writes_ignored", &config_writes_ignored},
  }};
  std::string out = "{";
  std::string_view separator;
  for (const auto& [name, value] : fields) {
    out += std::format("{}\"{}\": {}", separator, name, value->get());
    separator = ", ";
  }
  out += "}";
  return out;
}

}  // namespace vmm::virtio::vsock
