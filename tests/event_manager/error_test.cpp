// vmm.event_manager's error category and messages, and the ops accessors.
#include <boost/test/unit_test.hpp>

#include <cerrno>

import std;
import vmm.sys;
import vmm.event_manager;
import vmm.testing;

namespace em = vmm::event_manager;
namespace sys = vmm::sys;
using vmm::testing::error_of;
using vmm::testing::os_error;

namespace {

// Every enumerator of em::errc, in declaration order. Keep in step with error.cppm.
constexpr std::array all_errors{
    em::errc::unknown_subscriber, em::errc::fd_already_registered, em::errc::fd_not_registered,
    em::errc::subscriber_busy,    em::errc::already_running,       em::errc::manager_gone,
    em::errc::remote_call_threw,  em::errc::subscriber_threw,      em::errc::too_many_subscribers,
};

}  // namespace

BOOST_AUTO_TEST_SUITE(event_manager_error)

BOOST_AUTO_TEST_CASE(category_is_named_after_the_module) {
  BOOST_TEST(std::string_view{em::event_manager_category().name()} == "vmm.event_manager");
  BOOST_TEST(&make_error_code(em::errc::manager_gone).category() == &em::event_manager_category());
}

BOOST_AUTO_TEST_CASE(every_error_has_its_own_non_empty_message) {
  std::set<std::string> messages;
  for (const auto e : all_errors) {
    const auto message = make_error_code(e).message();
    BOOST_TEST(!message.empty());
    messages.insert(message);
  }
  BOOST_TEST(messages.size() == all_errors.size());
}

BOOST_AUTO_TEST_CASE(unknown_value_gets_a_message_naming_it) {
  constexpr int unknown = 200;
  BOOST_TEST(em::event_manager_category().message(unknown).contains("200"));
}

BOOST_AUTO_TEST_CASE(errc_converts_to_error_code) {
  const std::error_code code = em::errc::fd_not_registered;
  BOOST_TEST(code == make_error_code(em::errc::fd_not_registered));
}

BOOST_AUTO_TEST_CASE(ops_name_the_subscriber_they_act_for) {
  struct self_aware {
    std::optional<em::subscriber_id>* seen;
    void init(em::event_ops& ops) { *seen = ops.subscriber(); }
    void process(const em::events&, em::event_ops&) {}
  };
  std::optional<em::subscriber_id> seen;
  auto manager = em::event_manager<self_aware>::create().value();
  const auto id = manager.add_subscriber(self_aware{&seen}).value();
  BOOST_TEST_REQUIRE(seen.has_value());
  BOOST_TEST((*seen == id));
}

BOOST_AUTO_TEST_CASE(modify_to_an_event_set_the_kernel_rejects_is_einval_and_keeps_the_registration) {
  struct modifier {
    sys::event_fd fd = sys::event_fd::create().value();
    std::error_code* outcome;
    void init(em::event_ops& ops) {
      ops.add({fd.fd(), sys::event_set::readable}).value();
      // EPOLLEXCLUSIVE may only be given to EPOLL_CTL_ADD.
      *outcome = error_of(ops.modify({fd.fd(), sys::event_set::readable | sys::event_set::exclusive}));
    }
    void process(const em::events&, em::event_ops&) {}
  };
  std::error_code outcome;
  auto manager = em::event_manager<modifier>::create().value();
  static_cast<void>(manager.add_subscriber(modifier{.outcome = &outcome}).value());
  BOOST_TEST(outcome == os_error(EINVAL));
  BOOST_TEST(manager.registration_count() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
