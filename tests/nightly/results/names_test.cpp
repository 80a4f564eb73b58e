// The small pure functions: valid_name (machine and profile names), run_path (where a run lives in the store),
// regex_escape (benchmark names inside a filter regex) and to_nanoseconds (Google Benchmark's time units).
#include <boost/test/unit_test.hpp>

import std;
import vmm.bench.results;

namespace results = vmm::bench::results;

namespace {

auto run_of(std::string machine, std::string profile, std::string commit, bool dirty) -> results::run {
  results::run r;
  r.machine = std::move(machine);
  r.profile = std::move(profile);
  r.ctx.commit = std::move(commit);
  r.ctx.dirty = dirty;
  return r;
}

const std::filesystem::path store{"/srv/results"};

// Every character that is special in a POSIX extended regex (Google Benchmark's filter grammar) outside a bracket
// expression, plus the closing ']' and '}', which are literal there.
constexpr std::string_view every_special = "a+b(c)[d]{e}^$|.?*\\";

}  // namespace

BOOST_AUTO_TEST_SUITE(names)

BOOST_AUTO_TEST_CASE(valid_name_accepts_letters_digits_dot_underscore_and_dash) {
  BOOST_TEST(results::valid_name("ci-runner_1.eu"));
  BOOST_TEST(results::valid_name("a"));
  BOOST_TEST(results::valid_name("a..b"));
  BOOST_TEST(results::valid_name("0"));
}

BOOST_AUTO_TEST_CASE(valid_name_accepts_64_characters_and_rejects_65) {
  BOOST_TEST(results::valid_name(std::string(64, 'x')));
  BOOST_TEST(!results::valid_name(std::string(65, 'x')));
}

BOOST_AUTO_TEST_CASE(valid_name_rejects_empty_and_a_leading_dot) {
  BOOST_TEST(!results::valid_name(""));
  BOOST_TEST(!results::valid_name(".hidden"));
  BOOST_TEST(!results::valid_name(".."));
  BOOST_TEST(!results::valid_name("."));
}

BOOST_AUTO_TEST_CASE(valid_name_rejects_separators_spaces_and_non_ascii) {
  BOOST_TEST(!results::valid_name("a/b"));
  BOOST_TEST(!results::valid_name("../escape"));
  BOOST_TEST(!results::valid_name("a b"));
  BOOST_TEST(!results::valid_name("a\\b"));
  BOOST_TEST(!results::valid_name("caf\xc3\xa9"));
  BOOST_TEST(!results::valid_name(std::string_view{"a\0b", 3}));
  BOOST_TEST(!results::valid_name("a:b"));
}

BOOST_AUTO_TEST_CASE(run_path_is_machine_directory_then_commit_and_profile) {
  const auto path = results::run_path(store, run_of("runner-a", "nightly", "0123abcd", false));

  BOOST_TEST_REQUIRE(path.has_value(), path.error_or("ok"));
  BOOST_TEST(path->string() == "/srv/results/runner-a/0123abcd.nightly.json");
}

BOOST_AUTO_TEST_CASE(run_path_of_a_dirty_tree_has_the_dirty_suffix) {
  const auto path = results::run_path(store, run_of("runner-a", "pr", "0123abcd", true));

  BOOST_TEST_REQUIRE(path.has_value(), path.error_or("ok"));
  BOOST_TEST(path->string() == "/srv/results/runner-a/0123abcd-dirty.pr.json");
}

BOOST_AUTO_TEST_CASE(run_path_accepts_4_and_64_hex_digits) {
  BOOST_TEST(results::run_path(store, run_of("m", "p", "abcd", false)).has_value());
  BOOST_TEST(results::run_path(store, run_of("m", "p", std::string(64, 'f'), false)).has_value());
}

BOOST_AUTO_TEST_CASE(run_path_rejects_an_invalid_machine_name) {
  const auto path = results::run_path(store, run_of("../escape", "nightly", "0123abcd", false));

  BOOST_TEST(path.error_or("ok") == R"(machine name "../escape" is not 1 to 64 of [A-Za-z0-9._-])");
}

BOOST_AUTO_TEST_CASE(run_path_rejects_an_invalid_profile_name) {
  const auto path = results::run_path(store, run_of("runner-a", ".hidden", "0123abcd", false));

  BOOST_TEST(path.error_or("ok") == R"(profile name ".hidden" is not 1 to 64 of [A-Za-z0-9._-])");
}

BOOST_AUTO_TEST_CASE(run_path_rejects_upper_case_and_non_hex_commits) {
  BOOST_TEST(results::run_path(store, run_of("m", "p", "ABCD", false)).error_or("ok") ==
             R"(commit "ABCD" is not 4 to 64 lower-case hex digits)");
  BOOST_TEST(results::run_path(store, run_of("m", "p", "0123xyz", false)).error_or("ok") ==
             R"(commit "0123xyz" is not 4 to 64 lower-case hex digits)");
}

BOOST_AUTO_TEST_CASE(run_path_rejects_commits_shorter_than_4_or_longer_than_64) {
  BOOST_TEST(results::run_path(store, run_of("m", "p", "abc", false)).error_or("ok") ==
             R"(commit "abc" is not 4 to 64 lower-case hex digits)");
  BOOST_TEST(results::run_path(store, run_of("m", "p", "", false)).error_or("ok") ==
             R"(commit "" is not 4 to 64 lower-case hex digits)");
  BOOST_TEST(results::run_path(store, run_of("m", "p", std::string(65, 'a'), false)).error_or("ok") ==
             std::format(R"(commit "{}" is not 4 to 64 lower-case hex digits)", std::string(65, 'a')));
}

// Google Benchmark compiles filters as POSIX extended, where "\\]" and "\\}" are invalid escapes: ']' and '}' stay.
BOOST_AUTO_TEST_CASE(regex_escape_puts_a_backslash_before_every_special_character) {
  BOOST_TEST(results::regex_escape(every_special) == R"(a\+b\(c\)\[d]\{e}\^\$\|\.\?\*\\)");
}

BOOST_AUTO_TEST_CASE(regex_escape_leaves_ordinary_names_alone) {
  BOOST_TEST(results::regex_escape("BM_x/8/real_time") == "BM_x/8/real_time");
  BOOST_TEST(results::regex_escape("BM_x<int>/threads:2") == "BM_x<int>/threads:2");
  BOOST_TEST(results::regex_escape("") == "");
}

BOOST_AUTO_TEST_CASE(an_escaped_name_matches_itself_literally) {
  const std::string special{every_special};
  const std::string name{"BM_x/8/real_time"};

  BOOST_TEST(std::regex_match(special, std::regex{results::regex_escape(special), std::regex::extended}));
  BOOST_TEST(std::regex_match(name, std::regex{results::regex_escape(name), std::regex::extended}));
}

BOOST_AUTO_TEST_CASE(an_escaped_name_matches_nothing_else) {
  // Unescaped, "." would match any character and "+" would repeat.
  BOOST_TEST(
      !std::regex_match(std::string{"BM_axb"}, std::regex{results::regex_escape("BM_a.b"), std::regex::extended}));
  BOOST_TEST(!std::regex_match(std::string{"aab"}, std::regex{results::regex_escape("a+b"), std::regex::extended}));
  BOOST_TEST(
      !std::regex_match(std::string{"BM_x"}, std::regex{results::regex_escape("BM_x|BM_y"), std::regex::extended}));
}

BOOST_AUTO_TEST_CASE(an_escaped_name_works_inside_a_google_benchmark_filter) {
  // The shape vmm-bench gives Google Benchmark: ^(name1|name2)$.
  const std::regex filter{std::format("^({}|{})$", results::regex_escape("BM_a(1)"), results::regex_escape("BM_b+")),
                          std::regex::extended};

  BOOST_TEST(std::regex_match(std::string{"BM_a(1)"}, filter));
  BOOST_TEST(std::regex_match(std::string{"BM_b+"}, filter));
  BOOST_TEST(!std::regex_match(std::string{"BM_a1"}, filter));
  BOOST_TEST(!std::regex_match(std::string{"BM_bb"}, filter));
}

BOOST_AUTO_TEST_CASE(to_nanoseconds_converts_every_google_benchmark_unit) {
  BOOST_TEST(results::to_nanoseconds(1.5, "ns").value_or(-1.0) == 1.5);
  BOOST_TEST(results::to_nanoseconds(1.5, "us").value_or(-1.0) == 1500.0);
  BOOST_TEST(results::to_nanoseconds(2.25, "ms").value_or(-1.0) == 2250000.0);
  BOOST_TEST(results::to_nanoseconds(0.5, "s").value_or(-1.0) == 500000000.0);
  BOOST_TEST(results::to_nanoseconds(0.0, "s").value_or(-1.0) == 0.0);
}

BOOST_AUTO_TEST_CASE(to_nanoseconds_of_another_unit_is_nullopt) {
  BOOST_TEST(!results::to_nanoseconds(1.0, "min").has_value());
  BOOST_TEST(!results::to_nanoseconds(1.0, "").has_value());
  BOOST_TEST(!results::to_nanoseconds(1.0, "NS").has_value());
  BOOST_TEST(!results::to_nanoseconds(1.0, "µs").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
