// The CMOS RTC with an injected time: BCD and binary, 24- and 12-hour, the century register, status registers A-D,
// CMOS RAM storage, the NMI bit and index masking.
#include <boost/test/unit_test.hpp>

import std;
import vmm.devices.legacy;
import legacy_fakes;

namespace legacy = vmm::devices::legacy;
namespace reg = legacy::rtc_register;
using legacy_fakes::in;
using legacy_fakes::out;
using namespace std::chrono;

namespace {

// Friday 2027-03-19 21:07:45 UTC: every field differs, and the hour is after noon.
const sys_seconds friday_evening = sys_days{year{2027} / March / 19} + hours{21} + minutes{7} + seconds{45};

struct rig {
  std::shared_ptr<legacy::fixed_time_source> clock = std::make_shared<legacy::fixed_time_source>(friday_evening);
  legacy::rtc cmos{{.clock = clock}};

  [[nodiscard]] auto read(std::uint8_t index) -> std::uint8_t {
    out(cmos, 0, index);
    return in(cmos, 1);
  }
  void write(std::uint8_t index, std::uint8_t value) {
    out(cmos, 0, index);
    out(cmos, 1, value);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(rtc_clock)

BOOST_AUTO_TEST_CASE(time_reads_in_bcd_by_default) {
  rig r;
  BOOST_TEST(r.read(reg::seconds) == 0x45U);
  BOOST_TEST(r.read(reg::minutes) == 0x07U);
  BOOST_TEST(r.read(reg::hours) == 0x21U);
  BOOST_TEST(r.read(reg::day_of_week) == 0x06U);  // Friday; Sunday is 1
  BOOST_TEST(r.read(reg::day_of_month) == 0x19U);
  BOOST_TEST(r.read(reg::month) == 0x03U);
  BOOST_TEST(r.read(reg::year) == 0x27U);
  BOOST_TEST(r.read(reg::century) == 0x20U);
}

BOOST_AUTO_TEST_CASE(time_reads_in_binary_with_dm_bit) {
  rig r;
  r.write(reg::status_b, 0x06);  // binary, 24-hour
  BOOST_TEST(r.read(reg::seconds) == 45U);
  BOOST_TEST(r.read(reg::minutes) == 7U);
  BOOST_TEST(r.read(reg::hours) == 21U);
  BOOST_TEST(r.read(reg::day_of_month) == 19U);
  BOOST_TEST(r.read(reg::year) == 27U);
  BOOST_TEST(r.read(reg::century) == 20U);
}

BOOST_AUTO_TEST_CASE(twelve_hour_mode_sets_pm_bit_in_bcd_and_binary) {
  rig r;
  r.write(reg::status_b, 0x00);  // BCD, 12-hour
  BOOST_TEST(r.read(reg::hours) == (0x80U | 0x09U));
  r.write(reg::status_b, 0x04);  // binary, 12-hour
  BOOST_TEST(r.read(reg::hours) == (0x80U | 9U));
}

BOOST_AUTO_TEST_CASE(twelve_hour_mode_shows_midnight_and_noon_as_12) {
  rig r;
  r.write(reg::status_b, 0x00);
  r.clock->set(sys_days{year{2027} / March / 19});
  BOOST_TEST(r.read(reg::hours) == 0x12U);  // 12 AM
  r.clock->set(sys_days{year{2027} / March / 19} + hours{12});
  BOOST_TEST(r.read(reg::hours) == (0x80U | 0x12U));  // 12 PM
  r.clock->set(sys_days{year{2027} / March / 19} + hours{11});
  BOOST_TEST(r.read(reg::hours) == 0x11U);  // 11 AM
}

BOOST_AUTO_TEST_CASE(reads_follow_the_time_source) {
  rig r;
  r.clock->set(sys_days{year{1999} / December / 31} + hours{23} + minutes{59} + seconds{59});
  BOOST_TEST(r.read(reg::year) == 0x99U);
  BOOST_TEST(r.read(reg::century) == 0x19U);
  BOOST_TEST(r.read(reg::day_of_week) == 0x06U);
  r.clock->set(sys_days{year{2000} / January / 2});
  BOOST_TEST(r.read(reg::year) == 0x00U);
  BOOST_TEST(r.read(reg::century) == 0x20U);
  BOOST_TEST(r.read(reg::day_of_week) == 0x01U);  // Sunday
}

BOOST_AUTO_TEST_CASE(host_clock_is_the_default_source) {
  legacy::rtc cmos;
  const auto before = floor<days>(system_clock::now());
  out(cmos, 0, reg::status_b);
  out(cmos, 1, 0x06);
  out(cmos, 0, reg::day_of_month);
  const unsigned day = in(cmos, 1);
  const auto after = floor<days>(system_clock::now());
  BOOST_TEST((day == static_cast<unsigned>(year_month_day{before}.day()) ||
              day == static_cast<unsigned>(year_month_day{after}.day())));
}

BOOST_AUTO_TEST_CASE(clock_writes_are_ignored_and_counted) {
  rig r;
  r.write(reg::seconds, 0x00);
  r.write(reg::hours, 0x01);
  BOOST_TEST(r.read(reg::seconds) == 0x45U);
  BOOST_TEST(r.read(reg::hours) == 0x21U);
  BOOST_TEST(r.cmos.metrics().ignored_writes == 2U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rtc_registers)

BOOST_AUTO_TEST_CASE(status_registers_after_power_on) {
  rig r;
  BOOST_TEST(r.read(reg::status_a) == 0x26U);  // UIP clear
  BOOST_TEST(r.read(reg::status_b) == 0x02U);  // 24-hour, BCD
  BOOST_TEST(r.read(reg::status_c) == 0x00U);
  BOOST_TEST(r.read(reg::status_d) == 0x80U);  // valid RAM and time
}

BOOST_AUTO_TEST_CASE(update_in_progress_never_reads_set) {
  rig r;
  r.write(reg::status_a, 0xff);
  BOOST_TEST(r.read(reg::status_a) == 0x7fU);
}

BOOST_AUTO_TEST_CASE(status_c_and_d_are_read_only) {
  rig r;
  r.write(reg::status_c, 0xff);
  r.write(reg::status_d, 0x00);
  BOOST_TEST(r.read(reg::status_c) == 0x00U);
  BOOST_TEST(r.read(reg::status_d) == 0x80U);
}

BOOST_AUTO_TEST_CASE(alarm_registers_and_cmos_ram_store_bytes) {
  rig r;
  r.write(reg::seconds_alarm, 0x30);
  r.write(reg::minutes_alarm, 0x31);
  r.write(reg::hours_alarm, 0x32);
  r.write(0x0e, 0xa1);
  r.write(0x7f, 0xa2);
  BOOST_TEST(r.read(reg::seconds_alarm) == 0x30U);
  BOOST_TEST(r.read(reg::minutes_alarm) == 0x31U);
  BOOST_TEST(r.read(reg::hours_alarm) == 0x32U);
  BOOST_TEST(r.read(0x0e) == 0xa1U);
  BOOST_TEST(r.read(0x7f) == 0xa2U);
  BOOST_TEST(r.read(0x40) == 0x00U);
}

BOOST_AUTO_TEST_CASE(nmi_disable_bit_is_masked_off_the_index) {
  rig r;
  out(r.cmos, 0, 0x80 | reg::seconds);
  BOOST_TEST(in(r.cmos, 1) == 0x45U);
  BOOST_TEST(r.cmos.nmi_disabled());
  BOOST_TEST(in(r.cmos, 0) == reg::seconds);
  out(r.cmos, 0, reg::seconds);
  BOOST_TEST(!r.cmos.nmi_disabled());
}

BOOST_AUTO_TEST_SUITE_END()
