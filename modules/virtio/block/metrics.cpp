module vmm.virtio.block;
import std;

namespace vmm::virtio::block {

auto cause_name(errc e) noexcept -> std::string_view {
  switch (e) {
    case errc::no_status_byte:
      return "no_status_byte";
    case errc::header_too_short:
      return "header_too_short";
    case errc::unsupported_type:
      return "unsupported_type";
    case errc::data_wrong_direction:
      return "data_wrong_direction";
    case errc::zero_length:
      return "zero_length";
    case errc::length_not_sector_multiple:
      return "length_not_sector_multiple";
    case errc::request_too_large:
      return "request_too_large";
    case errc::too_many_segments:
      return "too_many_segments";
    case errc::sector_out_of_range:
      return "sector_out_of_range";
    case errc::read_only:
      return "read_only";
    case errc::id_buffer_too_short:
      return "id_buffer_too_short";
    case errc::bad_segment_list:
      return "bad_segment_list";
    case errc::unsupported_segment_flags:
      return "unsupported_segment_flags";
    case errc::segment_too_large:
      return "segment_too_large";
    case errc::buffer_unmapped:
      return "buffer_unmapped";
    case errc::io_failed:
      return "io_failed";
    case errc::backend_full:
      return "backend_full";
    case errc::not_activated:
      return "not_activated";
    case errc::bad_activation:
      return "bad_activation";
  }
  return "unknown";
}

void block_metrics::count_error(std::error_code e) noexcept {
  auto i = static_cast<std::size_t>(errc::io_failed);
  if (e.category() == block_category() && e.value() >= 1 && static_cast<std::size_t>(e.value()) <= errors.size()) {
    i = static_cast<std::size_t>(e.value());
  }
  ++std::span{errors}[i - 1];
}

auto block_metrics::to_json() const -> std::string {
  std::string out = std::format(
      R"({{"reads":{},"writes":{},"flushes":{},"get_ids":{},"discards":{},"write_zeroes":{},)"
      R"("bytes_read":{},"bytes_written":{},"status_ok":{},"status_ioerr":{},"status_unsupp":{},"dropped":{},)"
      R"("queue_errors":{},"queue_events":{},"completion_events":{},"interrupts":{},"interrupt_errors":{},)"
      R"("config_writes_ignored":{},"errors":{{)",
      reads, writes, flushes, get_ids, discards, write_zeroes, bytes_read, bytes_written, status_ok, status_ioerr,
      status_unsupp, dropped, queue_errors, queue_events, completion_events, interrupts, interrupt_errors,
      config_writes_ignored);
  for (std::size_t i = 0; i < errors.size(); ++i) {
    // The names are identifiers: nothing to escape.
    std::format_to(std::back_inserter(out), R"({}"{}":{})", i == 0 ? "" : ",", cause_name(static_cast<errc>(i + 1)),
                   std::span{errors}[i]);
  }
  out += "}}";
  return out;
}

}  // namespace vmm::virtio::block
