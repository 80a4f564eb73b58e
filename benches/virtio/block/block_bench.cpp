// 4 KiB block request throughput through vmm::virtio::block::request_engine on a tmpfs file (/dev/shm), with the
// synchronous file_backend and the io_uring backend, against plain pread/pwrite of the same 4 KiB blocks of the
// same file. One iteration is a batch of 32 requests, each a checked descriptor chain (header, one 4 KiB data
// buffer, status) over guest memory: all 32 are parsed and started, the io_uring backend submits them with one
// io_uring_enter, and then all are collected. items_per_second is requests per second, so a case's ratio to its
// baseline is the device's cost per request (parsing, the checks, the backend, the status write). Rates are taken
// over wall-clock time (UseRealTime): io_uring may finish work on kernel worker threads, which the calling thread's
// CPU time would not count.
//
// Cases:
//   BM_virtio_block_read_4k/sync          32 reads per iteration, file_backend (preadv each).           [pr]
//   BM_virtio_block_read_4k/uring         32 reads per iteration, uring_backend, one submit per batch.  [pr]
//   BM_virtio_block_write_4k/sync         32 writes per iteration, file_backend (pwritev each).
//   BM_virtio_block_write_4k/uring        32 writes per iteration, uring_backend.
//   BM_virtio_block_baseline_pread_4k     32 pread(2) of 4 KiB into one host buffer.                    [pr]
//   BM_virtio_block_baseline_pwrite_4k    32 pwrite(2) of 4 KiB from one host buffer.
// The io_uring cases are skipped (SkipWithError) where io_uring_setup is refused.
#include <benchmark/benchmark.h>

#include <unistd.h>

import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import vmm.virtio.block;

namespace {

namespace blk = vmm::virtio::block;
namespace vq = vmm::virtio::queue;
using vmm::memory::guest_address;

constexpr std::size_t batch = 32;
constexpr std::int64_t batch_items = batch;
constexpr std::uint32_t block = 4096;
constexpr std::int64_t block_bytes = block;
constexpr std::uint64_t disk_bytes = 64ULL << 20U;  // 64 MiB: 16384 blocks, visited in order
constexpr std::uint64_t blocks = disk_bytes / block;
// Guest memory: headers at 0x1000 (16 bytes each), statuses at 0x2000, data from 0x10000 (one block per slot).
constexpr std::uint64_t memory_size = 1ULL << 20U;

enum class kind : std::uint8_t { sync, uring };

auto make_disk() -> vmm::sys::temp_file {
  auto file = vmm::sys::temp_file::create("vmm-blk-bench-", "/dev/shm");
  if (!file) {
    file = vmm::sys::temp_file::create("vmm-blk-bench-");
  }
  // Written once so every page exists (reads of a hole would only map the zero page).
  const std::vector<std::byte> chunk(1 << 20, std::byte{0x42});
  for (std::uint64_t off = 0; off < disk_bytes; off += chunk.size()) {
    static_cast<void>(vmm::sys::write(file->fd(), chunk));
  }
  return std::move(*file);
}

void run_requests(benchmark::State& state, kind k, std::uint32_t type) {
  const auto disk = make_disk();
  auto fd = blk::open_image(disk.path(), false);
  std::unique_ptr<blk::block_backend> backend;
  if (k == kind::sync) {
    backend = *blk::file_backend::create(std::move(*fd), false);
  } else {
    auto u = blk::uring_backend::create(std::move(*fd), false, blk::uring_backend::default_depth);
    if (!u) {
      state.SkipWithError(("io_uring_setup refused: " + u.error().message()).c_str());
      return;
    }
    backend = std::move(*u);
  }
  const std::array layout{vmm::memory::guest_range{.start = guest_address{0}, .size = memory_size}};
  const auto memory = std::make_shared<const vmm::memory::guest_memory>(*vmm::memory::guest_memory::anonymous(layout));
  blk::block_metrics metrics;
  const blk::request_policy policy{.capacity_sectors = disk_bytes / blk::sector_size,
                                   .read_only = false,
                                   .discard = true,
                                   .write_zeroes = true,
                                   .limits = {}};
  blk::request_engine engine{*backend, policy, blk::block_device::serial_bytes("bench"), metrics};

  std::vector<vq::descriptor_chain> chains(batch);
  for (std::size_t i = 0; i < batch; ++i) {
    const guest_address header{0x1000 + (i * 16)};
    chains[i].reset({.id = static_cast<std::uint16_t>(i), .slots = 1});
    chains[i].append({.address = header, .length = 16, .writable = false});
    chains[i].append(
        {.address = guest_address{0x10000 + (i * block)}, .length = block, .writable = type == blk::request_type::in});
    chains[i].append({.address = guest_address{0x2000 + i}, .length = 1, .writable = true});
  }
  std::vector<blk::finished_chain> done;
  done.reserve(batch);
  std::uint64_t next = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i) {
      const blk::request_header h{.type = vmm::memory::le32{type},
                                  .reserved = {},
                                  .sector = vmm::memory::le64{(next % blocks) * (block / blk::sector_size)}};
      ++next;
      static_cast<void>(memory->write_obj(guest_address{0x1000 + (i * 16)}, h));
      engine.submit(memory, chains[i]);
    }
    static_cast<void>(engine.flush());
    done.clear();
    while (done.size() < batch) {
      engine.collect(done);
    }
    if (std::ranges::any_of(done, [](const blk::finished_chain& f) { return f.status != blk::status::ok; })) {
      state.SkipWithError("a request failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch_items);
  state.SetBytesProcessed(state.iterations() * batch_items * block_bytes);
}

void run_baseline(benchmark::State& state, bool write) {
  const auto disk = make_disk();
  std::vector<std::byte> buffer(block, std::byte{0x17});
  std::uint64_t next = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i) {
      const auto offset = static_cast<::off_t>((next % blocks) * block);
      ++next;
      const ::ssize_t n = write ? ::pwrite(disk.fd().get(), buffer.data(), block, offset)
                                : ::pread(disk.fd().get(), buffer.data(), block, offset);
      if (n != static_cast<::ssize_t>(block)) {
        state.SkipWithError("short transfer");
        return;
      }
    }
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetItemsProcessed(state.iterations() * batch_items);
  state.SetBytesProcessed(state.iterations() * batch_items * block_bytes);
}

void BM_virtio_block_baseline_pread_4k(benchmark::State& state) {
  run_baseline(state, false);
}
void BM_virtio_block_baseline_pwrite_4k(benchmark::State& state) {
  run_baseline(state, true);
}

[[maybe_unused]] const bool registered = [] {
  benchmark::RegisterBenchmark("BM_virtio_block_read_4k/sync", [](benchmark::State& s) {
    run_requests(s, kind::sync, blk::request_type::in);
  })->UseRealTime();
  benchmark::RegisterBenchmark("BM_virtio_block_read_4k/uring", [](benchmark::State& s) {
    run_requests(s, kind::uring, blk::request_type::in);
  })->UseRealTime();
  benchmark::RegisterBenchmark("BM_virtio_block_write_4k/sync", [](benchmark::State& s) {
    run_requests(s, kind::sync, blk::request_type::out);
  })->UseRealTime();
  benchmark::RegisterBenchmark("BM_virtio_block_write_4k/uring", [](benchmark::State& s) {
    run_requests(s, kind::uring, blk::request_type::out);
  })->UseRealTime();
  return true;
}();

}  // namespace

BENCHMARK(BM_virtio_block_baseline_pread_4k)->UseRealTime();
BENCHMARK(BM_virtio_block_baseline_pwrite_4k)->UseRealTime();
