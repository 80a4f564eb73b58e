// Loading a bzImage's protected-mode kernel into guest memory from its file, against a plain pread loop that reads
// the same bytes of the same file to the same place. The target: the loader takes at most 1.2x the raw
// read's time (its extra work is the header parse, the checks and one fstat).
//
// The image is Debian's cloud kernel from $VMM_KERNEL_DIR (default ~/.cache/cpp-vmm/kernel/vmlinuz, fetched by
// tools/fetch-test-kernel) when it is there; otherwise a synthetic bzImage of the same size (14 MiB kernel) in a
// memfd. The label says which. The file is read once before timing, so both cases read from the page cache; guest
// memory (128 MiB, one anonymous region) is written once before timing, so no page faults are measured.
// Cases (one iteration loads one kernel; bytes_per_second counts the kernel's bytes):
//   BM_loader_bzimage_load  vmm::loader::load_bzimage(memory, fd) at the kernel's pref_address.
//   BM_loader_raw_read      pread(2) of the kernel bytes, 1 MiB at a time, into the region's host memory there.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <unistd.h>

import std;
import vmm.sys;
import vmm.memory;
import vmm.loader;

namespace {

namespace mem = vmm::memory;
namespace ld = vmm::loader;

constexpr std::uint64_t guest_size = std::uint64_t{128} << 20U;
constexpr std::size_t synthetic_kernel_size = 14 * 1024 * 1024;
constexpr std::size_t raw_chunk = 1024 * 1024;

template <class T>
void put(std::vector<std::byte>& out, std::size_t offset, T value) {
  const auto bytes = std::bit_cast<std::array<std::byte, sizeof(T)>>(value);
  std::ranges::copy(bytes, out.begin() + static_cast<std::ptrdiff_t>(offset));
}

// A protocol 2.15 bzImage with 39 setup sectors (as Debian's) and a 14 MiB kernel of varied bytes.
auto synthetic_bzimage() -> std::vector<std::byte> {
  constexpr std::size_t setup = 40 * 512;
  std::vector<std::byte> image(setup + synthetic_kernel_size);
  for (std::size_t i = 0; i < image.size(); ++i) {
    image[i] = static_cast<std::byte>((i * 131U) >> 3U);
  }
  put(image, 0x1f1, std::uint8_t{39});
  put(image, 0x1f4, static_cast<std::uint32_t>(synthetic_kernel_size / 16));
  put(image, 0x202, std::uint32_t{0x53726448});
  put(image, 0x206, std::uint16_t{0x020f});
  put(image, 0x211, std::uint8_t{1});
  put(image, 0x230, std::uint32_t{0x200000});
  put(image, 0x234, std::uint8_t{1});
  put(image, 0x235, std::uint8_t{21});
  put(image, 0x236, std::uint16_t{3});
  put(image, 0x258, std::uint64_t{0x1000000});
  put(image, 0x260, std::uint32_t{0x3400000});
  return image;
}

struct fixture {
  vmm::sys::unique_fd fd;
  std::string label;
  mem::guest_memory memory;
  ld::bzimage_header header;
};

auto open_image() -> std::pair<vmm::sys::unique_fd, std::string> {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any benchmark thread starts.
  const char* dir = std::getenv("VMM_KERNEL_DIR");
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  const char* home = std::getenv("HOME");
  const std::filesystem::path path =
      dir != nullptr && *dir != '\0'
          ? std::filesystem::path{dir} / "vmlinuz"
          : std::filesystem::path{home != nullptr ? home : "/"} / ".cache/cpp-vmm/kernel/vmlinuz";
  vmm::sys::unique_fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.valid()) {
    return {std::move(fd), "debian-cloud-vmlinuz"};
  }
  auto memfd = vmm::sys::create_memfd("synthetic-bzimage");
  if (!memfd) {
    return {};
  }
  const auto image = synthetic_bzimage();
  std::size_t done = 0;
  while (done < image.size()) {
    auto wrote = vmm::sys::write(memfd->borrow(), std::span{image}.subspan(done));
    if (!wrote) {
      return {};
    }
    done += *wrote;
  }
  return {std::move(*memfd), "synthetic-14MiB"};
}

auto make_fixture() -> fixture* {
  static auto* made = []() -> fixture* {
    auto [fd, label] = open_image();
    if (!fd.valid()) {
      return nullptr;
    }
    std::vector<std::byte> head(ld::bzimage_header_span);
    const auto status = vmm::sys::status(fd.borrow());
    if (!status || ::pread(fd.get(), head.data(), head.size(), 0) != static_cast<::ssize_t>(head.size())) {
      return nullptr;
    }
    auto header = ld::parse_bzimage_header(head, status->size);
    const std::array ranges{mem::guest_range{.start = mem::guest_address{0}, .size = guest_size}};
    auto memory = mem::guest_memory::anonymous(ranges);
    if (!header || !memory) {
      return nullptr;
    }
    std::memset(memory->regions().front()->host_address(), 0x5a, guest_size);
    // Warm the page cache.
    if (!ld::load_bzimage(*memory, fd.borrow())) {
      return nullptr;
    }
    return new fixture{.fd = std::move(fd), .label = std::move(label), .memory = std::move(*memory), .header = *header};
  }();
  return made;
}

void BM_loader_bzimage_load(benchmark::State& state) {
  auto* f = make_fixture();
  if (f == nullptr) {
    state.SkipWithError("no bzImage and no memfd for a synthetic one");
    return;
  }
  for (auto _ : state) {
    auto load = ld::load_bzimage(f->memory, f->fd.borrow());
    if (!load) {
      state.SkipWithError("load_bzimage failed");
      return;
    }
    benchmark::DoNotOptimize(load->entry_64);
  }
  state.SetLabel(f->label);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(f->header.kernel_size));
}
BENCHMARK(BM_loader_bzimage_load)->Unit(benchmark::kMillisecond);

void BM_loader_raw_read(benchmark::State& state) {
  auto* f = make_fixture();
  if (f == nullptr) {
    state.SkipWithError("no bzImage and no memfd for a synthetic one");
    return;
  }
  std::byte* target = f->memory.regions().front()->host_address() + f->header.pref_address.raw();
  const std::size_t size = f->header.kernel_size;
  const auto start = static_cast<::off_t>(f->header.setup_size);
  for (auto _ : state) {
    std::size_t done = 0;
    while (done < size) {
      const ::ssize_t got =
          ::pread(f->fd.get(), target + done, std::min(raw_chunk, size - done), start + static_cast<::off_t>(done));
      if (got <= 0) {
        state.SkipWithError("pread failed");
        return;
      }
      done += static_cast<std::size_t>(got);
    }
    benchmark::ClobberMemory();
  }
  state.SetLabel(f->label);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(size));
}
BENCHMARK(BM_loader_raw_read)->Unit(benchmark::kMillisecond);

}  // namespace
