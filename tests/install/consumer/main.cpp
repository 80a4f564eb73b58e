// Uses vmm.sys from an installed cpp-vmm package: an eventfd counts to 42.
import std;
import vmm.sys;

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
  return *value == 42 ? 0 : 1;
}
