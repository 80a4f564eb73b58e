module vmm.virtio.rng;
import std;

namespace vmm::virtio::rng {

auto rng_metrics::to_json() const -> std::string {
  return std::format(
      R"({{"requests":{},"bytes":{},"empty_requests":{},"capped_requests":{},"entropy_errors":{},)"
      R"("memory_errors":{},"invalid_chains":{},"queue_errors":{},"interrupts":{},"interrupt_errors":{},)"
      R"("ignored_config_writes":{}}})",
      requests, bytes, empty_requests, capped_requests, entropy_errors, memory_errors, invalid_chains, queue_errors,
      interrupts, interrupt_errors, ignored_config_writes);
}

}  // namespace vmm::virtio::rng
