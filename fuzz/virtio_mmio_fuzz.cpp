// Fuzzes vmm.virtio.mmio's transport with guest register sequences. Each operation is one input byte choosing what
// happens, followed by its operands:
//   0-2: a 4-byte register write at any register offset (0x00-0xfc), the value a status bit, a small number or
//        32 raw bits; 3: a 4-byte register read; 4: an access of any width (0-8 bytes) at any offset below 0x200,
//        read or write; 5: a configuration space access of 1, 2, 4 or 8 bytes; 6: a whole driver bring-up
//        (ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue setup with sizes and areas from the input, DRIVER_OK);
//   7: the device side: a used-buffer or config interrupt, config_changed, update_config.
// The transport sits in front of a fake device (two small queues, 16 bytes of configuration) over 64 KiB of guest
// memory, and after every operation the invariants are checked:
//   - MagicValue and Version read their constants; InterruptStatus holds only the two defined bits;
//   - the status holds only defined bits, its walk bits are a prefix of ACKNOWLEDGE, DRIVER, FEATURES_OK,
//     DRIVER_OK, DEVICE_NEEDS_RESET only with DRIVER_OK, and it changed only as the state machine allows (reset to
//     0, or the next walk bit added, FAILED added, or DEVICE_NEEDS_RESET added together with DRIVER_OK);
//   - with FEATURES_OK the driver's features include VERSION_1 and nothing unoffered, and never change;
//   - the device is active exactly when DRIVER_OK is set without DEVICE_NEEDS_RESET; it was activated with the
//     negotiated features and the ready queues' sizes;
//   - the queue configurations do not change from DRIVER_OK until reset (CVE-2026-5747);
//   - the device was reset once per counted reset.
// A mismatch calls __builtin_trap().
#include <cstddef>
#include <cstdint>

import std;
import vmm.sys;
import vmm.memory;
import vmm.device;
import vmm.virtio.queue;
import vmm.virtio.device;
import vmm.virtio.mmio;
import mmio_fakes;

namespace {

namespace mmio = vmm::virtio::mmio;
namespace vdev = vmm::virtio::device;
namespace vq = vmm::virtio::queue;
namespace status = vdev::status;
using mmio_fakes::bit;

constexpr int max_operations = 256;
constexpr std::uint32_t walk_bits = status::acknowledge | status::driver | status::features_ok | status::driver_ok;
constexpr std::uint32_t known_bits = walk_bits | status::failed | status::needs_reset;
constexpr std::array walk{status::acknowledge, status::driver, status::features_ok, status::driver_ok};
// Offered: VERSION_1, EVENT_IDX, INDIRECT_DESC, RING_PACKED and device bit 3.
constexpr std::uint64_t offer = bit(vq::feature::version_1) | bit(vq::feature::event_idx) |
                                bit(vq::feature::indirect_desc) | bit(vq::feature::ring_packed) | bit(3);

[[noreturn]] void mismatch(std::string_view what) {
  std::println(std::cerr, "virtio_mmio_fuzz: {}", what);
  __builtin_trap();
}

void check(bool ok, std::string_view what) {
  if (!ok) [[unlikely]] {
    mismatch(what);
  }
}

class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : bytes_{data, size} {}
  [[nodiscard]] auto empty() const -> bool { return bytes_.empty(); }
  auto u8() -> std::uint8_t {
    if (bytes_.empty()) {
      return 0;
    }
    const std::uint8_t b = bytes_.front();
    bytes_ = bytes_.subspan(1);
    return b;
  }
  auto u32() -> std::uint32_t {
    std::uint32_t v = 0;
    for (unsigned i = 0; i < 4; ++i) {
      v |= std::uint32_t{u8()} << (8U * i);
    }
    return v;
  }

 private:
  std::span<const std::uint8_t> bytes_;
};

auto shared_memory() -> std::shared_ptr<vmm::memory::atomic_guest_memory> {
  static const std::shared_ptr<vmm::memory::atomic_guest_memory> memory = mmio_fakes::make_memory();
  return memory;
}

class harness {
 public:
  explicit harness(bool refuse_activation)
      : device_{std::make_shared<mmio_fakes::fake_device>(
            mmio_fakes::fake_options{.type = vdev::device_id::net,
                                     .features = offer,
                                     .max_sizes = {8, 4},
                                     .config_size = 16,
                                     .refuse_activation = refuse_activation})},
        trigger_{std::make_shared<mmio_fakes::counting_trigger>()} {
    auto created = mmio::mmio_transport::create({.device = device_, .memory = shared_memory(), .interrupt = trigger_});
    check(created.has_value(), "create failed");
    transport_ = std::move(*created);
  }

  auto read32(std::uint64_t offset) const -> std::uint32_t {
    std::array<std::byte, 4> data{};
    transport_->read(mmio_fakes::window_base, offset, data);
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < data.size(); ++i) {
      v |= std::to_integer<std::uint32_t>(data[i]) << (8U * i);
    }
    return v;
  }

  void write32(std::uint64_t offset, std::uint32_t value) const {
    std::array<std::byte, 4> data{};
    for (std::size_t i = 0; i < data.size(); ++i) {
      data[i] = static_cast<std::byte>((value >> (8U * i)) & 0xffU);
    }
    transport_->write(mmio_fakes::window_base, offset, data);
  }

  void register_write(input& in) const {
    const std::uint64_t offset = std::uint64_t{in.u8() % 64U} * 4;
    const std::uint8_t kind = in.u8();
    std::uint32_t value = 0;
    switch (kind % 4) {
      case 0:  // the current status plus one bit (what a driver does), or a raw status bit
        value = (kind & 4U) != 0 ? read32(mmio::reg::status) | (1U << (in.u8() % 8)) : 1U << (in.u8() % 8);
        break;
      case 1:
        value = in.u8();
        break;
      case 2:
        value = 0;
        break;
      default:
        value = in.u32();
        break;
    }
    write32(offset, value);
  }

  void odd_access(input& in) const {
    const std::uint64_t offset = ((std::uint64_t{in.u8()} << 8U) | in.u8()) % 0x200;
    const std::size_t width = in.u8() % 9U;
    std::array<std::byte, 8> data{};
    data.fill(std::byte{0xee});
    const std::span<std::byte> span{data.data(), width};
    if ((in.u8() & 1U) != 0) {
      transport_->write(mmio_fakes::window_base, offset, span);
      return;
    }
    transport_->read(mmio_fakes::window_base, offset, span);
    if (offset < mmio::reg::config && (width != 4 || offset % 4 != 0)) {
      check(std::ranges::all_of(span, [](std::byte b) { return b == std::byte{0}; }), "bad access read non-zero");
    }
  }

  void config_access(input& in) const {
    constexpr std::array<std::size_t, 4> widths{1, 2, 4, 8};
    const std::uint64_t offset = mmio::reg::config + (in.u8() % 32U);
    std::array<std::byte, 8> data{};
    const std::span<std::byte> span{data.data(), widths.at(in.u8() % 4U)};
    if ((in.u8() & 1U) != 0) {
      span[0] = std::byte{in.u8()};
      transport_->write(mmio_fakes::window_base, offset, span);
    } else {
      transport_->read(mmio_fakes::window_base, offset, span);
    }
  }

  void bring_up(input& in) const {
    write32(mmio::reg::status, 0);
    write32(mmio::reg::status, status::acknowledge);
    write32(mmio::reg::status, status::acknowledge | status::driver);
    const std::uint8_t choice = in.u8();
    // Mostly what was offered (with or without the packed ring), sometimes anything.
    const std::uint64_t features = (choice & 0x80U) != 0 ? (std::uint64_t{in.u32()} << 32U) | in.u32()
                                                         : offer & ~(std::uint64_t{choice & 0x0fU} << 28U);
    write32(mmio::reg::driver_features_sel, 0);
    write32(mmio::reg::driver_features, static_cast<std::uint32_t>(features));
    write32(mmio::reg::driver_features_sel, 1);
    write32(mmio::reg::driver_features, static_cast<std::uint32_t>(features >> 32U));
    write32(mmio::reg::status, read32(mmio::reg::status) | status::features_ok);
    const std::uint32_t queues = in.u8() % 4U;  // 0-2 queues set up, 3: one past the last too
    for (std::uint32_t q = 0; q < queues; ++q) {
      write32(mmio::reg::queue_sel, q);
      write32(mmio::reg::queue_num, 1U << (in.u8() % 5U));   // 1-16: some above the maximum
      const std::uint64_t skew = in.u8() % 4U == 0 ? 2 : 0;  // sometimes misaligned
      const std::uint8_t where = in.u8();
      // Sometimes at the end of memory (too short for the table) or above 4 GiB (outside it).
      const std::uint64_t base = (where & 0x80U) != 0 ? mmio_fakes::memory_size - 0x10 : mmio_fakes::descriptor_area(q);
      write32(mmio::reg::queue_desc_low, static_cast<std::uint32_t>(base + skew));
      write32(mmio::reg::queue_desc_high, (where & 0x40U) != 0 ? 0xffff'ffffU : 0U);
      write32(mmio::reg::queue_driver_low, static_cast<std::uint32_t>(mmio_fakes::driver_area(q)));
      write32(mmio::reg::queue_device_low, static_cast<std::uint32_t>(mmio_fakes::device_area(q)));
      write32(mmio::reg::queue_ready, (where & 0x20U) != 0 ? 0U : 1U);
    }
    write32(mmio::reg::status, read32(mmio::reg::status) | status::driver_ok);
  }

  void device_side(input& in) const {
    switch (in.u8() % 4) {
      case 0:
        static_cast<void>(transport_->interrupt()->signal(vdev::interrupt_cause::used_buffer));
        break;
      case 1:
        static_cast<void>(transport_->interrupt()->signal(vdev::interrupt_cause::config_change));
        break;
      case 2:
        transport_->config_changed();
        break;
      default: {
        const std::byte value{in.u8()};
        transport_->update_config([&] { device_->set_config_byte(0, value); });
        break;
      }
    }
  }

  // Checks every invariant after an operation; `previous` is the status before it, and `single_write` says whether
  // the operation wrote the status at most once (a bring-up resets first and then walks every step).
  void check_invariants(std::uint32_t previous, bool single_write) {
    check(read32(mmio::reg::magic_value) == mmio::magic, "magic changed");
    check(read32(mmio::reg::version) == mmio::version, "version changed");
    check((read32(mmio::reg::interrupt_status) & ~mmio::interrupt_mask) == 0, "undefined interrupt bit");
    const std::uint32_t s = read32(mmio::reg::status);
    check(s == transport_->status(), "status register and status() differ");
    check((s & ~known_bits) == 0, "undefined status bit");
    bool prefix = true;
    bool gap = false;
    for (const std::uint32_t b : walk) {
      gap = gap || (s & b) == 0;
      prefix = prefix && !(gap && (s & b) != 0);
    }
    check(prefix, "status walk bits are not a prefix");
    check((s & status::needs_reset) == 0 || (s & status::driver_ok) != 0, "NEEDS_RESET without DRIVER_OK");
    if (single_write) {
      check_transition(previous, s);
    } else {
      previous = 0;  // the bring-up started with a reset
    }

    const std::uint64_t features = transport_->driver_features();
    if ((s & status::features_ok) != 0) {
      check(vq::has_feature(features, vq::feature::version_1), "FEATURES_OK without VERSION_1");
      check((features & ~transport_->offered_features()) == 0, "FEATURES_OK with unoffered features");
      check((previous & status::features_ok) == 0 || features == negotiated_, "features changed after FEATURES_OK");
      negotiated_ = features;
    }

    const bool running = (s & status::driver_ok) != 0 && (s & status::needs_reset) == 0;
    check(transport_->active() == running, "active() disagrees with the status");
    const std::vector<vq::queue_config> configs = transport_->queue_configs();
    if ((s & status::driver_ok) != 0) {
      if ((previous & status::driver_ok) == 0) {
        frozen_ = configs;
        check_activation(s, configs, features);
      }
      check(configs == frozen_, "queue configuration changed after DRIVER_OK");
    }
    check(device_->resets() == transport_->metrics().resets, "device resets differ from the counted resets");
  }

  [[nodiscard]] auto status() const -> std::uint32_t { return transport_->status(); }

 private:
  static void check_transition(std::uint32_t previous, std::uint32_t s) {
    if (s == previous || s == 0) {
      return;
    }
    check((s & previous) == previous, "status lost bits without a reset");
    const std::uint32_t added = s & ~previous;
    std::uint32_t next = 0;
    for (const std::uint32_t b : walk) {
      if ((previous & b) == 0) {
        next = b;
        break;
      }
    }
    const bool step = added == next && (previous & (status::failed | status::needs_reset)) == 0;
    const bool failed_step = added == (status::driver_ok | status::needs_reset) && next == status::driver_ok &&
                             (previous & status::failed) == 0;
    check(added == status::failed || step || failed_step, "status changed in a way the state machine forbids");
  }

  void check_activation(std::uint32_t s, const std::vector<vq::queue_config>& configs, std::uint64_t features) {
    if ((s & status::needs_reset) != 0) {
      return;
    }
    const auto activations = device_->activations();
    check(!activations.empty(), "DRIVER_OK without an activation");
    const mmio_fakes::activation_record& a = activations.back();
    check(a.features == features, "activation features differ from the negotiated ones");
    check(a.queue_sizes.size() <= configs.size(), "more queues activated than exist");
    for (std::size_t i = 0; i < a.queue_sizes.size(); ++i) {
      check(configs[i].ready && a.queue_sizes[i] == configs[i].size, "activated queue differs from its config");
      check(a.packed[i] == vq::has_feature(features, vq::feature::ring_packed), "wrong queue layout");
    }
  }

  std::shared_ptr<mmio_fakes::fake_device> device_;
  std::shared_ptr<mmio_fakes::counting_trigger> trigger_;
  std::shared_ptr<mmio::mmio_transport> transport_;
  std::vector<vq::queue_config> frozen_;
  std::uint64_t negotiated_ = 0;
};

}  // namespace

extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) -> int {
  input in{data, size};
  harness h{(in.u8() & 1U) != 0};  // the first byte: does the device refuse activation
  for (int op = 0; op < max_operations && !in.empty(); ++op) {
    const std::uint32_t previous = h.status();
    const std::uint8_t kind = in.u8() % 8;
    switch (kind) {
      case 0:
      case 1:
      case 2:
        h.register_write(in);
        break;
      case 3:
        static_cast<void>(h.read32(std::uint64_t{in.u8() % 64U} * 4));
        break;
      case 4:
        h.odd_access(in);
        break;
      case 5:
        h.config_access(in);
        break;
      case 6:
        h.bring_up(in);
        break;
      default:
        h.device_side(in);
        break;
    }
    h.check_invariants(previous, kind != 6);
  }
  return 0;
}
