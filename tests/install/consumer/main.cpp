// Uses vmm.sys and vmm.memory from an installed cpp-vmm package: an eventfd counts to 42, and 42 goes through guest
// memory.
import std;
import vmm.sys;
import vmm.memory;

auto main() -> int {
  auto counter = vmm::sys::event_fd::create({.initial = 40});
  if (!counter) {
    std::println(std::cerr, "event_fd::create failed: {}", counter.error().message());
    return 1;
  }
  if (!counter->write(2)) {
    std::println(std::cerr, "event_fd::write failed");
    return 1;
  }
  const auto value = counter->read();
  if (!value) {
    std::println(std::cerr, "event_fd::read failed: {}", value.error().message());
    return 1;
  }
  std::println("vmm.sys consumer: eventfd counter {}", *value);

  namespace mem = vmm::memory;
  const std::array layout{mem::guest_range{.start = mem::guest_address{0x10000}, .size = 0x10000}};
  auto memory = mem::guest_memory::anonymous(layout);
  if (!memory || !memory->write_obj(mem::guest_address{0x10008}, mem::le64{*value})) {
    std::println(std::cerr, "guest memory failed");
    return 1;
  }
  const auto back = memory->read_obj<mem::le64>(mem::guest_address{0x10008});
  if (!back) {
    std::println(std::cerr, "read_obj failed: {}", back.error().message());
    return 1;
  }
  std::println("vmm.memory consumer: read back {}", back->value());
  return *value == 42 && back->value() == 42 ? 0 : 1;
}
