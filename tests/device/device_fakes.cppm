// device_fakes — test devices for test_device: a device that records every access and answers reads with a
// pattern of its identity and the offset, so a test can tell which device got an access and where.
export module device_fakes;
import std;
import vmm.device;

export namespace device_fakes {

/// What byte `i` of a read at `offset` from the device numbered `id` holds.
[[nodiscard]] inline auto pattern(std::uint8_t id, std::uint64_t offset, std::size_t i) -> std::byte {
  return static_cast<std::byte>((id * 16U) + ((offset + i) & 0xfU));
}

/// One access a device saw.
struct access {
  bool is_write = false;
  std::uint64_t base = 0;
  std::uint64_t offset = 0;
  std::vector<std::byte> bytes;  // what was written, or how many bytes were read (zeroes)

  friend auto operator==(const access&, const access&) -> bool = default;
};

/// A thread-safe device that records its accesses and reads as pattern(id, offset, i).
class recording_device final : public vmm::device::bus_device {
 public:
  explicit recording_device(std::uint8_t id) : id_{id} {}

  void read(vmm::device::bus_address base, std::uint64_t offset, std::span<std::byte> data) override {
    for (std::size_t i = 0; i < data.size(); ++i) {
      data[i] = pattern(id_, offset, i);
    }
    const std::scoped_lock lock{mutex_};
    accesses_.push_back(
        {.is_write = false, .base = base.value, .offset = offset, .bytes = std::vector<std::byte>(data.size())});
  }

  void write(vmm::device::bus_address base, std::uint64_t offset, std::span<const std::byte> data) override {
    const std::scoped_lock lock{mutex_};
    accesses_.push_back({.is_write = true,
                         .base = base.value,
                         .offset = offset,
                         .bytes = std::vector<std::byte>(data.begin(), data.end())});
  }

  [[nodiscard]] auto accesses() const -> std::vector<access> {
    const std::scoped_lock lock{mutex_};
    return accesses_;
  }

  [[nodiscard]] auto id() const -> std::uint8_t { return id_; }

 private:
  std::uint8_t id_;
  mutable std::mutex mutex_;
  std::vector<access> accesses_;
};

/// A shared recording_device.
[[nodiscard]] inline auto make_recorder(std::uint8_t id) -> std::shared_ptr<recording_device> {
  return std::make_shared<recording_device>(id);
}

}  // namespace device_fakes
