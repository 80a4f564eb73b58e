// write_run, read_run and read_store in a temporary directory: atomic writes that leave no temporary file, overwrite,
// failures named with their path (the store is a file, the temporary name is taken, the disk is full, the target is
// a directory), and a store scan that reports every bad file with its path while still returning the good ones.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

import std;
import vmm.sys;
import vmm.bench.results;

namespace results = vmm::bench::results;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view commit_a = "c0ffee0000000000000000000000000000000001";
constexpr std::string_view commit_b = "c0ffee0000000000000000000000000000000002";

auto sample_run(std::string_view machine, std::string_view commit, std::string_view profile) -> results::run {
  results::run r;
  r.machine = machine;
  r.profile = profile;
  r.complete = true;
  r.ctx.commit = commit;
  r.ctx.branch = "main";
  r.ctx.cpu_count = 2;
  r.ctx.load_average = {0.5, 0.25, 0.125};
  r.benchmarks = {{.executable = "bench_sys",
                   .name = "BM_sys_event_fd_round_trip",
                   .repetitions = {{.real_time = 812.5, .cpu_time = 810.0, .iterations = 1000, .counters = {}}}}};
  return r;
}

auto make_temp_dir() -> vmm::sys::temp_dir {
  return vmm::sys::temp_dir::create("vmm-results-test-").value();
}

void write_text(const fs::path& path, std::string_view text) {
  fs::create_directories(path.parent_path());
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << text;
  BOOST_TEST_REQUIRE(out.good());
}

// The file names in `dir`, sorted.
auto names_in(const fs::path& dir) -> std::vector<std::string> {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator{dir}) {
    names.push_back(entry.path().filename().string());
  }
  std::ranges::sort(names);
  return names;
}

// The name write_run gives its temporary file for `target` in this process.
auto temp_name_for(const fs::path& target) -> fs::path {
  return target.parent_path() / std::format(".{}.{}.tmp", target.filename().string(), ::getpid());
}

auto paths_of(const results::store_contents& contents) -> std::vector<fs::path> {
  std::vector<fs::path> paths;
  for (const auto& [path, run] : contents.runs) {
    paths.push_back(path);
  }
  return paths;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(store)

BOOST_AUTO_TEST_CASE(write_run_writes_to_the_run_path_and_read_run_reads_it_back) {
  const auto dir = make_temp_dir();
  const auto run = sample_run("runner-a", commit_a, "nightly");

  const auto written = results::write_run(dir.path(), run);

  BOOST_TEST_REQUIRE(written.has_value(), written.error_or("ok"));
  BOOST_TEST(*written == dir.path() / "runner-a" / std::format("{}.nightly.json", commit_a));
  const auto read = results::read_run(*written);
  BOOST_TEST_REQUIRE(read.has_value(), read.error_or("ok"));
  BOOST_TEST((*read == run));
}

BOOST_AUTO_TEST_CASE(write_run_creates_missing_store_directories) {
  const auto dir = make_temp_dir();
  const auto store = dir.path() / "not" / "yet";

  const auto written = results::write_run(store, sample_run("runner-a", commit_a, "pr"));

  BOOST_TEST_REQUIRE(written.has_value(), written.error_or("ok"));
  BOOST_TEST(fs::is_regular_file(store / "runner-a" / std::format("{}.pr.json", commit_a)));
}

BOOST_AUTO_TEST_CASE(write_run_leaves_no_temporary_file) {
  const auto dir = make_temp_dir();

  const auto written = results::write_run(dir.path(), sample_run("runner-a", commit_a, "nightly"));

  BOOST_TEST_REQUIRE(written.has_value(), written.error_or("ok"));
  BOOST_TEST(names_in(dir.path() / "runner-a") == (std::vector{std::format("{}.nightly.json", commit_a)}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(write_run_writes_exactly_to_json) {
  const auto dir = make_temp_dir();
  const auto run = sample_run("runner-a", commit_a, "nightly");

  const auto written = results::write_run(dir.path(), run);

  BOOST_TEST_REQUIRE(written.has_value(), written.error_or("ok"));
  std::ifstream in{*written, std::ios::binary};
  const std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  BOOST_TEST(text == results::to_json(run));
}

BOOST_AUTO_TEST_CASE(write_run_overwrites_an_earlier_write_of_the_same_run) {
  const auto dir = make_temp_dir();
  auto run = sample_run("runner-a", commit_a, "nightly");
  run.complete = false;
  BOOST_TEST_REQUIRE(results::write_run(dir.path(), run).has_value());
  run.complete = true;
  run.benchmarks.push_back({.executable = "bench_sys", .name = "BM_sys_second", .repetitions = {}});

  const auto written = results::write_run(dir.path(), run);

  BOOST_TEST_REQUIRE(written.has_value(), written.error_or("ok"));
  const auto read = results::read_run(*written);
  BOOST_TEST_REQUIRE(read.has_value(), read.error_or("ok"));
  BOOST_TEST((*read == run));
  BOOST_TEST(names_in(dir.path() / "runner-a").size() == 1U);
}

BOOST_AUTO_TEST_CASE(write_run_of_a_run_without_a_valid_path_writes_nothing) {
  const auto dir = make_temp_dir();

  const auto written = results::write_run(dir.path(), sample_run("../escape", commit_a, "nightly"));

  BOOST_TEST(written.error_or("ok") == R"(machine name "../escape" is not 1 to 64 of [A-Za-z0-9._-])");
  BOOST_TEST(names_in(dir.path()).empty());
}

BOOST_AUTO_TEST_CASE(write_run_into_a_store_that_is_a_regular_file_names_the_directory) {
  const auto dir = make_temp_dir();
  const auto store = dir.path() / "store";
  write_text(store, "not a directory\n");

  const auto written = results::write_run(store, sample_run("runner-a", commit_a, "nightly"));

  BOOST_TEST(written.error_or("ok") ==
             std::format("{}: cannot create the directory: Not a directory", (store / "runner-a").string()));
}

BOOST_AUTO_TEST_CASE(write_run_when_the_temporary_file_cannot_be_created_names_it) {
  const auto dir = make_temp_dir();
  const auto target = dir.path() / "runner-a" / std::format("{}.nightly.json", commit_a);
  const auto temp = temp_name_for(target);
  fs::create_directories(temp);  // open(O_WRONLY) of a directory fails with EISDIR, even for root

  const auto written = results::write_run(dir.path(), sample_run("runner-a", commit_a, "nightly"));

  BOOST_TEST(written.error_or("ok") == std::format("{}: cannot create: Is a directory", temp.string()));
  BOOST_TEST(!fs::exists(target));
}

BOOST_AUTO_TEST_CASE(write_run_on_a_full_disk_names_the_temporary_file_and_removes_it) {
  const auto dir = make_temp_dir();
  const auto target = dir.path() / "runner-a" / std::format("{}.nightly.json", commit_a);
  const auto temp = temp_name_for(target);
  fs::create_directories(target.parent_path());
  fs::create_symlink("/dev/full", temp);  // every write to /dev/full fails with ENOSPC

  const auto written = results::write_run(dir.path(), sample_run("runner-a", commit_a, "nightly"));

  BOOST_TEST(written.error_or("ok") == std::format("{}: cannot write: No space left on device", temp.string()));
  BOOST_TEST(!fs::exists(fs::symlink_status(temp)));
  BOOST_TEST(!fs::exists(target));
}

BOOST_AUTO_TEST_CASE(write_run_onto_a_directory_names_the_target_and_removes_the_temporary_file) {
  const auto dir = make_temp_dir();
  const auto target = dir.path() / "runner-a" / std::format("{}.nightly.json", commit_a);
  write_text(target / "occupied", "");  // rename(2) of a file onto a directory fails with EISDIR

  const auto written = results::write_run(dir.path(), sample_run("runner-a", commit_a, "nightly"));

  BOOST_TEST(written.error_or("ok") == std::format("{}: cannot rename into place: Is a directory", target.string()));
  BOOST_TEST(names_in(dir.path() / "runner-a") == (std::vector{target.filename().string()}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(read_run_of_a_missing_file_names_it) {
  const auto dir = make_temp_dir();
  const auto path = dir.path() / "runner-a" / "abcd.pr.json";

  const auto read = results::read_run(path);

  BOOST_TEST(read.error_or("ok") == std::format("{}: cannot open the file", path.string()));
}

BOOST_AUTO_TEST_CASE(read_run_of_a_corrupt_file_names_it_and_the_reason) {
  const auto dir = make_temp_dir();
  const auto path = dir.path() / "runner-a" / "abcd.pr.json";
  write_text(path, R"({"schema": "cpp-vmm.bench.run", )");

  const auto read = results::read_run(path);

  BOOST_TEST(read.error_or("ok") == std::format("{}: not valid JSON (truncated or corrupt)", path.string()));
}

BOOST_AUTO_TEST_CASE(read_store_returns_every_run_sorted_by_path) {
  const auto dir = make_temp_dir();
  const auto b_nightly = results::write_run(dir.path(), sample_run("runner-b", commit_a, "nightly")).value();
  const auto a_pr = results::write_run(dir.path(), sample_run("runner-a", commit_b, "pr")).value();
  const auto a_nightly = results::write_run(dir.path(), sample_run("runner-a", commit_a, "nightly")).value();
  auto dirty = sample_run("runner-a", commit_a, "nightly");
  dirty.ctx.dirty = true;
  const auto a_dirty = results::write_run(dir.path(), dirty).value();

  const auto contents = results::read_store(dir.path());

  BOOST_TEST_REQUIRE(contents.has_value(), contents.error_or("ok"));
  BOOST_TEST(paths_of(*contents) == (std::vector{a_dirty, a_nightly, a_pr, b_nightly}),
             boost::test_tools::per_element());
  BOOST_TEST(contents->problems.empty());
  BOOST_TEST((contents->runs.at(0).second == dirty));
  BOOST_TEST(contents->runs.at(3).second.machine == "runner-b");
}

BOOST_AUTO_TEST_CASE(read_store_of_an_empty_store_returns_nothing) {
  const auto dir = make_temp_dir();

  const auto contents = results::read_store(dir.path());

  BOOST_TEST_REQUIRE(contents.has_value(), contents.error_or("ok"));
  BOOST_TEST(contents->runs.empty());
  BOOST_TEST(contents->problems.empty());
}

BOOST_AUTO_TEST_CASE(read_store_reports_a_truncated_file_and_returns_the_others) {
  const auto dir = make_temp_dir();
  const auto good = results::write_run(dir.path(), sample_run("runner-a", commit_a, "nightly")).value();
  const auto bad = dir.path() / "runner-a" / std::format("{}.nightly.json", commit_b);
  const auto text = results::to_json(sample_run("runner-a", commit_b, "nightly"));
  write_text(bad, std::string_view{text}.substr(0, text.size() / 2));

  const auto contents = results::read_store(dir.path());

  BOOST_TEST_REQUIRE(contents.has_value(), contents.error_or("ok"));
  BOOST_TEST(paths_of(*contents) == (std::vector{good}), boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(contents->problems.size() == 1U);
  BOOST_TEST(contents->problems[0].path == bad);
  BOOST_TEST(contents->problems[0].reason == std::format("{}: not valid JSON (truncated or corrupt)", bad.string()));
}

BOOST_AUTO_TEST_CASE(read_store_reports_a_future_schema_file_and_returns_the_others) {
  const auto dir = make_temp_dir();
  const auto good = results::write_run(dir.path(), sample_run("runner-a", commit_a, "nightly")).value();
  const auto future = dir.path() / "runner-a" / std::format("{}.nightly.json", commit_b);
  auto text = results::to_json(sample_run("runner-a", commit_b, "nightly"));
  const std::string_view version = R"("schema_version": 1,)";
  BOOST_TEST_REQUIRE(text.contains(version));
  text.replace(text.find(version), version.size(), R"("schema_version": 99,)");
  write_text(future, text);

  const auto contents = results::read_store(dir.path());

  BOOST_TEST_REQUIRE(contents.has_value(), contents.error_or("ok"));
  BOOST_TEST(paths_of(*contents) == (std::vector{good}), boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(contents->problems.size() == 1U);
  BOOST_TEST(contents->problems[0].path == future);
  BOOST_TEST(
      contents->problems[0].reason ==
      std::format("{}: schema_version 99 was written by a newer vmm-bench (this one reads up to 1)", future.string()));
}

BOOST_AUTO_TEST_CASE(read_store_reports_a_file_in_another_machines_directory) {
  const auto dir = make_temp_dir();
  const auto good = results::write_run(dir.path(), sample_run("runner-a", commit_a, "nightly")).value();
  const auto misplaced = dir.path() / "runner-b" / std::format("{}.nightly.json", commit_a);
  write_text(misplaced, results::to_json(sample_run("runner-a", commit_a, "nightly")));

  const auto contents = results::read_store(dir.path());

  BOOST_TEST_REQUIRE(contents.has_value(), contents.error_or("ok"));
  BOOST_TEST(paths_of(*contents) == (std::vector{good}), boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(contents->problems.size() == 1U);
  BOOST_TEST(contents->problems[0].path == misplaced);
  BOOST_TEST(contents->problems[0].reason ==
             std::format("{}: its machine, commit or profile does not match its path (expected {})", misplaced.string(),
                         good.string()));
}

BOOST_AUTO_TEST_CASE(read_store_reports_a_file_named_after_another_commit_or_profile) {
  const auto dir = make_temp_dir();
  const auto other_commit = dir.path() / "runner-a" / std::format("{}.nightly.json", commit_b);
  const auto other_profile = dir.path() / "runner-a" / std::format("{}.pr.json", commit_a);
  const auto not_dirty = dir.path() / "runner-a" / std::format("{}-dirty.nightly.json", commit_a);
  const auto text = results::to_json(sample_run("runner-a", commit_a, "nightly"));
  write_text(other_commit, text);
  write_text(other_profile, text);
  write_text(not_dirty, text);

  const auto contents = results::read_store(dir.path());

  BOOST_TEST_REQUIRE(contents.has_value(), contents.error_or("ok"));
  BOOST_TEST(contents->runs.empty());
  BOOST_TEST_REQUIRE(contents->problems.size() == 3U);
  // Sorted by path: commit_a-dirty..., commit_a.pr..., commit_b...
  BOOST_TEST(contents->problems[0].path == not_dirty);
  BOOST_TEST(contents->problems[1].path == other_profile);
  BOOST_TEST(contents->problems[2].path == other_commit);
  BOOST_TEST(contents->problems[2].reason.starts_with(other_commit.string() + ": "));
  BOOST_TEST(contents->problems[2].reason.contains("does not match its path"));
}

BOOST_AUTO_TEST_CASE(read_store_reports_a_directory_named_like_a_run_file) {
  const auto dir = make_temp_dir();
  const auto good = results::write_run(dir.path(), sample_run("runner-a", commit_a, "nightly")).value();
  const auto directory = dir.path() / "runner-a" / std::format("{}.pr.json", commit_a);
  fs::create_directories(directory);

  const auto contents = results::read_store(dir.path());

  BOOST_TEST_REQUIRE(contents.has_value(), contents.error_or("ok"));
  BOOST_TEST(paths_of(*contents) == (std::vector{good}), boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(contents->problems.size() == 1U);
  BOOST_TEST(contents->problems[0].path == directory);
  BOOST_TEST(contents->problems[0].reason.starts_with(directory.string() + ": "));
}

BOOST_AUTO_TEST_CASE(read_store_skips_dot_files_temporary_files_and_non_json_files) {
  const auto dir = make_temp_dir();
  const auto good = results::write_run(dir.path(), sample_run("runner-a", commit_a, "nightly")).value();
  const auto machine = dir.path() / "runner-a";
  write_text(machine / std::format(".{}.nightly.json.4242.tmp", commit_b), "{\"half\": ");
  write_text(machine / ".hidden.json", "garbage");
  write_text(machine / "notes.txt", "garbage");
  write_text(machine / std::format("{}.nightly.json.tmp", commit_b), "garbage");
  write_text(machine / "README", "garbage");

  const auto contents = results::read_store(dir.path());

  BOOST_TEST_REQUIRE(contents.has_value(), contents.error_or("ok"));
  BOOST_TEST(paths_of(*contents) == (std::vector{good}), boost::test_tools::per_element());
  BOOST_TEST(contents->problems.empty());
}

BOOST_AUTO_TEST_CASE(read_store_skips_top_level_files_and_dot_directories) {
  const auto dir = make_temp_dir();
  const auto good = results::write_run(dir.path(), sample_run("runner-a", commit_a, "nightly")).value();
  write_text(dir.path() / "README.json", "garbage");
  write_text(dir.path() / ".git" / "broken.json", "garbage");

  const auto contents = results::read_store(dir.path());

  BOOST_TEST_REQUIRE(contents.has_value(), contents.error_or("ok"));
  BOOST_TEST(paths_of(*contents) == (std::vector{good}), boost::test_tools::per_element());
  BOOST_TEST(contents->problems.empty());
}

BOOST_AUTO_TEST_CASE(read_store_of_a_missing_directory_names_it) {
  const auto dir = make_temp_dir();
  const auto store = dir.path() / "no-such-store";

  const auto contents = results::read_store(store);

  BOOST_TEST(!contents.has_value());
  BOOST_TEST((contents ? std::string{"ok"} : contents.error()) ==
             std::format("{}: the results store is not a directory", store.string()));
}

BOOST_AUTO_TEST_CASE(read_store_of_a_regular_file_names_it) {
  const auto dir = make_temp_dir();
  const auto store = dir.path() / "store.json";
  write_text(store, "{}");

  const auto contents = results::read_store(store);

  BOOST_TEST((contents ? std::string{"ok"} : contents.error()) ==
             std::format("{}: the results store is not a directory", store.string()));
}

BOOST_AUTO_TEST_SUITE_END()
