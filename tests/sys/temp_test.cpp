// temp_file and temp_dir: unique names, permissions, close-on-exec, removal on destruction, persist, and moves.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <fcntl.h>

import std;
import vmm.sys;
import vmm.testing;

using vmm::testing::os_error;
namespace sys = vmm::sys;
using vmm::testing::bytes;
using vmm::testing::error_of;
using vmm::testing::is_close_on_exec;
namespace fs = std::filesystem;

namespace {

// mkostemp and mkdtemp replace the template's trailing XXXXXX with six characters.
constexpr std::size_t unique_suffix_length = 6;

constexpr fs::perms owner_read_write = fs::perms::owner_read | fs::perms::owner_write;

auto permissions_of(const fs::path& path) -> fs::perms {
  return fs::status(path).permissions();
}

auto contents_of(const fs::path& path) -> std::string {
  std::ifstream in{path, std::ios::binary};
  return std::string{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sys_temp)

// --- temp_file ---

BOOST_AUTO_TEST_CASE(file_is_created_in_the_default_temp_directory) {
  const auto file = sys::temp_file::create();
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  BOOST_TEST(file->path().parent_path() == fs::temp_directory_path());
  BOOST_TEST(fs::is_regular_file(file->path()));
}

BOOST_AUTO_TEST_CASE(default_prefix_is_vmm_dash) {
  const auto file = sys::temp_file::create();
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  BOOST_TEST(file->path().filename().string().starts_with("vmm-"));
}

BOOST_AUTO_TEST_CASE(file_is_created_in_the_given_directory) {
  const auto dir = sys::temp_dir::create();
  BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
  const auto file = sys::temp_file::create("inner-", dir->path());
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  BOOST_TEST(file->path().parent_path() == dir->path());
  BOOST_TEST(fs::is_regular_file(file->path()));
}

BOOST_AUTO_TEST_CASE(file_name_is_the_prefix_followed_by_a_unique_suffix) {
  const auto file = sys::temp_file::create("disk-image-");
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  const auto name = file->path().filename().string();
  BOOST_TEST(name.starts_with("disk-image-"));
  BOOST_TEST(name.size() == std::string_view{"disk-image-"}.size() + unique_suffix_length);
}

BOOST_AUTO_TEST_CASE(empty_prefix_gives_a_name_of_only_the_unique_suffix) {
  const auto dir = sys::temp_dir::create();
  BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
  const auto file = sys::temp_file::create("", dir->path());
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  BOOST_TEST(file->path().filename().string().size() == unique_suffix_length);
}

BOOST_AUTO_TEST_CASE(two_files_with_the_same_prefix_get_different_names) {
  const auto first = sys::temp_file::create("same-");
  const auto second = sys::temp_file::create("same-");
  BOOST_TEST_REQUIRE((first.has_value() && second.has_value()));
  BOOST_TEST(first->path() != second->path());
}

BOOST_AUTO_TEST_CASE(file_is_removed_on_destruction) {
  fs::path path;
  {
    const auto file = sys::temp_file::create();
    BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
    path = file->path();
    BOOST_TEST(fs::exists(path));
  }
  BOOST_TEST(!fs::exists(path));
}

BOOST_AUTO_TEST_CASE(descriptor_is_closed_on_destruction) {
  int raw = -1;
  {
    const auto file = sys::temp_file::create();
    BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
    raw = file->fd().get();
    BOOST_TEST(sys::is_open(file->fd()));
  }
  BOOST_TEST(!sys::is_open(sys::borrowed_fd{raw}));
}

BOOST_AUTO_TEST_CASE(file_has_mode_0600) {
  const auto file = sys::temp_file::create();
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  BOOST_TEST((permissions_of(file->path()) == owner_read_write));
}

BOOST_AUTO_TEST_CASE(file_descriptor_is_close_on_exec) {
  const auto file = sys::temp_file::create();
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  BOOST_TEST(is_close_on_exec(file->fd()));
}

BOOST_AUTO_TEST_CASE(new_file_is_empty) {
  const auto file = sys::temp_file::create();
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  BOOST_TEST(fs::file_size(file->path()) == 0U);
}

BOOST_AUTO_TEST_CASE(bytes_written_through_fd_land_in_the_file) {
  const auto file = sys::temp_file::create();
  BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
  BOOST_TEST_REQUIRE(sys::write(file->fd(), bytes("payload")).value() == 7U);
  BOOST_TEST(contents_of(file->path()) == "payload");
}

BOOST_AUTO_TEST_CASE(persist_keeps_the_file_after_destruction) {
  const auto dir = sys::temp_dir::create();  // removes the kept file at the end, even if a check fails
  BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
  fs::path original;
  fs::path kept;
  {
    auto file = sys::temp_file::create("kept-", dir->path());
    BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
    BOOST_TEST_REQUIRE(sys::write(file->fd(), bytes("keep me")).value() == 7U);
    original = file->path();
    kept = file->persist();
    BOOST_TEST(file->path() == original);  // still reported after persist()
  }
  BOOST_TEST(kept == original);
  BOOST_TEST(contents_of(kept) == "keep me");
}

BOOST_AUTO_TEST_CASE(persisted_file_still_closes_its_descriptor) {
  const auto dir = sys::temp_dir::create();
  BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
  int raw = -1;
  {
    auto file = sys::temp_file::create("kept-", dir->path());
    BOOST_TEST_REQUIRE(file.has_value(), vmm::testing::describe(file));
    raw = file->fd().get();
    static_cast<void>(file->persist());
  }
  BOOST_TEST(!sys::is_open(sys::borrowed_fd{raw}));
}

BOOST_AUTO_TEST_CASE(move_construction_transfers_the_file) {
  auto source = sys::temp_file::create();
  BOOST_TEST_REQUIRE(source.has_value(), vmm::testing::describe(source));
  const auto path = source->path();
  const int raw = source->fd().get();
  const sys::temp_file target{std::move(*source)};
  BOOST_TEST(target.path() == path);
  BOOST_TEST(target.fd().get() == raw);
  BOOST_TEST(source->path().empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  BOOST_TEST(!source->fd().valid());
}

BOOST_AUTO_TEST_CASE(destroying_the_moved_from_file_does_not_delete_the_file) {
  std::optional<sys::temp_file> target;
  {
    auto source = sys::temp_file::create();
    BOOST_TEST_REQUIRE(source.has_value(), vmm::testing::describe(source));
    target.emplace(std::move(*source));
  }  // the moved-from source is destroyed here
  BOOST_TEST(fs::exists(target->path()));
  BOOST_TEST(sys::is_open(target->fd()));
}

BOOST_AUTO_TEST_CASE(move_assignment_removes_the_file_it_replaces) {
  auto target = sys::temp_file::create();
  auto source = sys::temp_file::create();
  BOOST_TEST_REQUIRE((target.has_value() && source.has_value()));
  const auto replaced_path = target->path();
  const int replaced_fd = target->fd().get();
  const auto moved_path = source->path();
  *target = std::move(*source);
  BOOST_TEST(!fs::exists(replaced_path));
  BOOST_TEST(!sys::is_open(sys::borrowed_fd{replaced_fd}));
  BOOST_TEST(target->path() == moved_path);
  BOOST_TEST(fs::exists(moved_path));
}

BOOST_AUTO_TEST_CASE(move_assigned_file_is_removed_when_its_new_owner_dies) {
  fs::path moved_path;
  {
    auto target = sys::temp_file::create();
    auto source = sys::temp_file::create();
    BOOST_TEST_REQUIRE((target.has_value() && source.has_value()));
    moved_path = source->path();
    *target = std::move(*source);
  }
  BOOST_TEST(!fs::exists(moved_path));
}

// --- temp_dir ---

BOOST_AUTO_TEST_CASE(directory_is_created_in_the_default_temp_directory) {
  const auto dir = sys::temp_dir::create();
  BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
  BOOST_TEST(dir->path().parent_path() == fs::temp_directory_path());
  BOOST_TEST(fs::is_directory(dir->path()));
  BOOST_TEST(dir->path().filename().string().starts_with("vmm-"));
}

BOOST_AUTO_TEST_CASE(directory_is_created_in_the_given_parent_with_the_prefix) {
  const auto parent = sys::temp_dir::create();
  BOOST_TEST_REQUIRE(parent.has_value(), vmm::testing::describe(parent));
  const auto dir = sys::temp_dir::create("sockets-", parent->path());
  BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
  BOOST_TEST(dir->path().parent_path() == parent->path());
  BOOST_TEST(dir->path().filename().string().starts_with("sockets-"));
  BOOST_TEST(dir->path().filename().string().size() == std::string_view{"sockets-"}.size() + unique_suffix_length);
}

BOOST_AUTO_TEST_CASE(directory_has_mode_0700) {
  const auto dir = sys::temp_dir::create();
  BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
  BOOST_TEST((permissions_of(dir->path()) == fs::perms::owner_all));
}

BOOST_AUTO_TEST_CASE(empty_directory_is_removed_on_destruction) {
  fs::path path;
  {
    const auto dir = sys::temp_dir::create();
    BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
    path = dir->path();
  }
  BOOST_TEST(!fs::exists(path));
}

BOOST_AUTO_TEST_CASE(directory_is_removed_with_nested_files_and_subdirectories) {
  fs::path path;
  {
    const auto dir = sys::temp_dir::create();
    BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
    path = dir->path();
    fs::create_directories(path / "a" / "b");
    std::ofstream{path / "top.txt"} << "top";
    std::ofstream{path / "a" / "b" / "deep.txt"} << "deep";
    BOOST_TEST_REQUIRE(fs::exists(path / "a" / "b" / "deep.txt"));
  }
  BOOST_TEST(!fs::exists(path));
}

BOOST_AUTO_TEST_CASE(directory_move_construction_transfers_ownership) {
  auto source = sys::temp_dir::create();
  BOOST_TEST_REQUIRE(source.has_value(), vmm::testing::describe(source));
  const auto path = source->path();
  std::optional<sys::temp_dir> target;
  target.emplace(std::move(*source));
  BOOST_TEST(source->path().empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  BOOST_TEST(target->path() == path);
  BOOST_TEST(fs::is_directory(path));
  target.reset();
  BOOST_TEST(!fs::exists(path));
}

BOOST_AUTO_TEST_CASE(directory_move_assignment_removes_the_directory_it_replaces) {
  auto target = sys::temp_dir::create();
  auto source = sys::temp_dir::create();
  BOOST_TEST_REQUIRE((target.has_value() && source.has_value()));
  const auto replaced_path = target->path();
  const auto moved_path = source->path();
  *target = std::move(*source);
  BOOST_TEST(!fs::exists(replaced_path));
  BOOST_TEST(target->path() == moved_path);
  BOOST_TEST(fs::is_directory(moved_path));
}

// --- bad input ---

BOOST_AUTO_TEST_CASE(file_prefix_with_a_slash_is_an_invalid_name) {
  const auto file = sys::temp_file::create("sub/dir-");
  BOOST_TEST(error_of(file) == make_error_code(sys::errc::invalid_name));
}

BOOST_AUTO_TEST_CASE(file_prefix_with_a_nul_byte_is_an_invalid_name) {
  constexpr std::string_view with_nul{"abc\0def", 7};
  const auto file = sys::temp_file::create(with_nul);
  BOOST_TEST(error_of(file) == make_error_code(sys::errc::invalid_name));
}

BOOST_AUTO_TEST_CASE(directory_prefix_with_a_slash_or_nul_is_an_invalid_name) {
  constexpr std::string_view with_nul{"abc\0def", 7};
  BOOST_TEST(error_of(sys::temp_dir::create("sub/dir-")) == make_error_code(sys::errc::invalid_name));
  BOOST_TEST(error_of(sys::temp_dir::create(with_nul)) == make_error_code(sys::errc::invalid_name));
}

BOOST_AUTO_TEST_CASE(file_in_a_missing_directory_returns_enoent) {
  const auto dir = sys::temp_dir::create();
  BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
  const auto file = sys::temp_file::create("x-", dir->path() / "missing");
  BOOST_TEST(error_of(file) == os_error(ENOENT));
}

BOOST_AUTO_TEST_CASE(directory_in_a_missing_parent_returns_enoent) {
  const auto dir = sys::temp_dir::create();
  BOOST_TEST_REQUIRE(dir.has_value(), vmm::testing::describe(dir));
  const auto nested = sys::temp_dir::create("x-", dir->path() / "missing");
  BOOST_TEST(error_of(nested) == os_error(ENOENT));
}

BOOST_AUTO_TEST_CASE(file_under_a_regular_file_returns_enotdir) {
  const auto plain = sys::temp_file::create();
  BOOST_TEST_REQUIRE(plain.has_value(), vmm::testing::describe(plain));
  const auto file = sys::temp_file::create("x-", plain->path());
  BOOST_TEST(error_of(file) == os_error(ENOTDIR));
}

BOOST_AUTO_TEST_SUITE_END()
