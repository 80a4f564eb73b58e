module vmm.virtio.net;
import std;

namespace vmm::virtio::net {

auto net_metrics::to_json() const -> std::string {
  const std::array<std::pair<std::string_view, std::uint64_t>, 20> fields{{
      {"tx_frames", tx_frames},
      {"tx_bytes", tx_bytes},
      {"tx_malformed", tx_malformed},
      {"tx_memory_errors", tx_memory_errors},
      {"tx_tap_errors", tx_tap_errors},
      {"tx_invalid_chains", tx_invalid_chains},
      {"rx_frames", rx_frames},
      {"rx_bytes", rx_bytes},
      {"rx_buffers", rx_buffers},
      {"rx_dropped", rx_dropped},
      {"rx_memory_errors", rx_memory_errors},
      {"rx_bad_buffers", rx_bad_buffers},
      {"rx_short_frames", rx_short_frames},
      {"rx_tap_errors", rx_tap_errors},
      {"rx_invalid_chains", rx_invalid_chains},
      {"rx_blocked", rx_blocked},
      {"queue_errors", queue_errors},
      {"interrupts", interrupts},
      {"interrupt_errors", interrupt_errors},
      {"ignored_config_writes", ignored_config_writes},
  }};
  std::string out = "{";
  for (const auto& [key, value] : fields) {
    if (out.size() > 1) {
      out += ',';
    }
    out += std::format(R"("{}":{})", key, value);
  }
  out += '}';
  return out;
}

}  // namespace vmm::virtio::net
