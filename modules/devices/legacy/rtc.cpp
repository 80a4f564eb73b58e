module vmm.devices.legacy;
import std;
import vmm.device;

namespace vmm::devices::legacy {
namespace {

constexpr std::uint8_t index_mask = 0x7f;
constexpr std::uint8_t nmi_disable = 0x80;
constexpr std::uint8_t status_a_default = 0x26;  // divider 010 (32.768 kHz time base), rate 0110 (1024 Hz)
constexpr std::uint8_t status_a_update_in_progress = 0x80;
constexpr std::uint8_t status_b_binary = 0x04;
constexpr std::uint8_t status_b_24_hour = 0x02;
constexpr std::uint8_t status_d_valid = 0x80;
constexpr std::uint8_t hours_pm = 0x80;
constexpr unsigned hours_per_half_day = 12;
constexpr unsigned years_per_century = 100;
constexpr int max_year = 9999;  // four BCD digits

struct broken_down_time {
  unsigned second;
  unsigned minute;
  unsigned hour;
  unsigned weekday;  // 1 = Sunday
  unsigned day;
  unsigned month;
  unsigned year;  // 0-9999
};

auto break_down(std::chrono::system_clock::time_point now) -> broken_down_time {
  using namespace std::chrono;
  const auto day = floor<days>(now);
  const year_month_day date{day};
  const hh_mm_ss time{floor<seconds>(now) - day};
  return {
      .second = static_cast<unsigned>(time.seconds().count()),
      .minute = static_cast<unsigned>(time.minutes().count()),
      .hour = static_cast<unsigned>(time.hours().count()),
      .weekday = weekday{day}.c_encoding() + 1,
      .day = static_cast<unsigned>(date.day()),
      .month = static_cast<unsigned>(date.month()),
      .year = static_cast<unsigned>(std::clamp(static_cast<int>(date.year()), 0, max_year)),
  };
}

}  // namespace

auto system_time_source::now() const -> std::chrono::system_clock::time_point {
  return std::chrono::system_clock::now();
}

auto fixed_time_source::now() const -> std::chrono::system_clock::time_point {
  return std::chrono::system_clock::time_point{std::chrono::system_clock::duration{rep_.load()}};
}

void fixed_time_source::set(std::chrono::system_clock::time_point time) noexcept {
  rep_.store(time.time_since_epoch().count());
}

rtc::rtc(rtc_options options) : clock_{std::move(options.clock)} {
  if (!clock_) {
    clock_ = std::make_shared<system_time_source>();
  }
  cmos_.at(rtc_register::status_a) = status_a_default;
  cmos_.at(rtc_register::status_b) = status_b_24_hour;
}

void rtc::read(vmm::device::bus_address /*base*/, std::uint64_t offset, std::span<std::byte> data) {
  if (data.size() != 1 || offset >= rtc_port_count) {
    std::ranges::fill(data, std::byte{0});
    invalid_accesses_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::scoped_lock lock{mutex_};
  data[0] = std::byte{offset == 0 ? index_ : read_register(index_)};
}

void rtc::write(vmm::device::bus_address /*base*/, std::uint64_t offset, std::span<const std::byte> data) {
  if (data.size() != 1 || offset >= rtc_port_count) {
    invalid_accesses_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto value = std::to_integer<std::uint8_t>(data[0]);
  const std::scoped_lock lock{mutex_};
  if (offset == 0) {
    index_ = value & index_mask;
    nmi_disabled_ = (value & nmi_disable) != 0;
    return;
  }
  write_register(index_, value);
}

auto rtc::nmi_disabled() const -> bool {
  const std::scoped_lock lock{mutex_};
  return nmi_disabled_;
}

auto rtc::metrics() const noexcept -> rtc_metrics {
  return {
      .ignored_writes = ignored_writes_.load(std::memory_order_relaxed),
      .invalid_accesses = invalid_accesses_.load(std::memory_order_relaxed),
  };
}

auto rtc::read_register(std::uint8_t index) const -> std::uint8_t {
  namespace reg = rtc_register;
  switch (index) {
    case reg::seconds:
      return encode(break_down(clock_->now()).second);
    case reg::minutes:
      return encode(break_down(clock_->now()).minute);
    case reg::hours: {
      const unsigned hour = break_down(clock_->now()).hour;
      if ((cmos_.at(reg::status_b) & status_b_24_hour) != 0) {
        return encode(hour);
      }
      const unsigned twelve_hour = hour % hours_per_half_day == 0 ? hours_per_half_day : hour % hours_per_half_day;
      return static_cast<std::uint8_t>(encode(twelve_hour) | (hour >= hours_per_half_day ? hours_pm : 0));
    }
    case reg::day_of_week:
      return encode(break_down(clock_->now()).weekday);
    case reg::day_of_month:
      return encode(break_down(clock_->now()).day);
    case reg::month:
      return encode(break_down(clock_->now()).month);
    case reg::year:
      return encode(break_down(clock_->now()).year % years_per_century);
    case reg::century:
      return encode(break_down(clock_->now()).year / years_per_century);
    case reg::status_a:
      return cmos_.at(reg::status_a) & static_cast<std::uint8_t>(~status_a_update_in_progress);
    case reg::status_c:
      return 0;
    case reg::status_d:
      return status_d_valid;
    default:
      return cmos_.at(index);
  }
}

void rtc::write_register(std::uint8_t index, std::uint8_t value) {
  namespace reg = rtc_register;
  switch (index) {
    case reg::seconds:
    case reg::minutes:
    case reg::hours:
    case reg::day_of_week:
    case reg::day_of_month:
    case reg::month:
    case reg::year:
    case reg::century:
    case reg::status_c:
    case reg::status_d:
      ignored_writes_.fetch_add(1, std::memory_order_relaxed);
      return;
    case reg::status_a:
      cmos_.at(index) = value & static_cast<std::uint8_t>(~status_a_update_in_progress);
      return;
    default:
      cmos_.at(index) = value;
      return;
  }
}

auto rtc::encode(unsigned value) const -> std::uint8_t {
  constexpr unsigned decimal = 10;
  constexpr unsigned nibble = 4;
  if ((cmos_.at(rtc_register::status_b) & status_b_binary) != 0) {
    return static_cast<std::uint8_t>(value);
  }
  return static_cast<std::uint8_t>(((value / decimal) << nibble) | (value % decimal));
}

}  // namespace vmm::devices::legacy
