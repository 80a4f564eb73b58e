# Helpers that give every component the same shape (see ../shared/STYLE.md, "Names move together"):
#   vmm_add_module(<c> INTERFACE <files> [SOURCES <files>] [DEPENDS <targets>] [LIBS <libs>])
#   vmm_add_test(<c> SOURCES <files> [DEPENDS <targets>] [LABELS <labels>] [SINGLE_THREADED])
#   vmm_add_bench(<c> SOURCES <files> [DEPENDS <targets>])
# Component "memory" → module vmm.memory, target vmm_memory, alias vmm::memory, executables test_memory and
# bench_memory. Dotted components ("virtio.queue") map dots to underscores in target names.

include_guard(GLOBAL)
include(GNUInstallDirs)

set(VMM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/vmm")

# Warnings for the project's own targets only: libc++'s std.cppm is compiled with the global flags and clang warns
# on it ("'std' is a reserved name for a module"), so -Werror must never reach CMAKE_CXX_FLAGS.
add_library(vmm_warnings INTERFACE)
target_compile_options(vmm_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough -Wmissing-noreturn
  $<$<BOOL:${VMM_WERROR}>:-Werror>)

function(_vmm_target_name out component)
  string(REPLACE "." "_" flat "${component}")
  set(${out} "vmm_${flat}" PARENT_SCOPE)
endfunction()

function(vmm_add_module component)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "INTERFACE;SOURCES;DEPENDS;LIBS")
  if(NOT arg_INTERFACE)
    message(FATAL_ERROR "vmm_add_module(${component}): INTERFACE files are required")
  endif()
  _vmm_target_name(target "${component}")
  string(REPLACE "." "_" export_name "${component}")
  add_library(${target} STATIC)
  add_library(vmm::${export_name} ALIAS ${target})
  target_sources(${target}
    PUBLIC FILE_SET CXX_MODULES BASE_DIRS "${CMAKE_CURRENT_SOURCE_DIR}" FILES ${arg_INTERFACE}
    PRIVATE ${arg_SOURCES})
  target_compile_features(${target} PUBLIC cxx_std_23)
  target_link_libraries(${target} PUBLIC ${arg_DEPENDS} ${arg_LIBS} PRIVATE $<BUILD_INTERFACE:vmm_warnings>)
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
  install(TARGETS ${target} EXPORT vmm-targets
    ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    FILE_SET CXX_MODULES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/vmm/${component}")
  set_property(GLOBAL APPEND PROPERTY VMM_MODULES ${component})
endfunction()

# Registers every Boost.Test case of an executable as its own CTest test, by listing the cases after each build
# (like gtest_discover_tests), so ctest's counts and failures name individual cases.
function(_vmm_discover_boost_tests target labels)
  set(ctest_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_tests.cmake")
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND "${CMAKE_COMMAND}" -D "EXECUTABLE=$<TARGET_FILE:${target}>" -D "OUTPUT=${ctest_file}"
            -D "TARGET=${target}" -D "LABELS=${labels}" -D "WORKDIR=${CMAKE_CURRENT_BINARY_DIR}"
            -P "${PROJECT_SOURCE_DIR}/cmake/vmm_boost_test_discover.cmake"
    BYPRODUCTS "${ctest_file}"
    VERBATIM)
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${ctest_file}")
endfunction()

function(vmm_add_test component)
  cmake_parse_arguments(PARSE_ARGV 1 arg "SINGLE_THREADED" "" "SOURCES;DEPENDS;LABELS")
  string(REPLACE "." "_" flat "${component}")
  set(target test_${flat})
  # A ThreadSanitizer build (VMM_THREADED_TESTS_ONLY) has nothing to find in a suite whose code never meets another
  # thread, so it leaves those out.
  if(arg_SINGLE_THREADED AND VMM_THREADED_TESTS_ONLY)
    return()
  endif()
  add_executable(${target} ${arg_SOURCES})
  # vmm_boost_test_main (tests/support) is the Boost.Test framework and main(), compiled once per build tree.
  target_link_libraries(${target} PRIVATE ${arg_DEPENDS} vmm_boost_test_main $<BUILD_INTERFACE:vmm_warnings>)
  # Boost 1.74's header-only Boost.Test still uses std::unary_function, removed from libc++'s C++23 mode.
  target_compile_definitions(${target} PRIVATE _LIBCPP_ENABLE_CXX17_REMOVED_UNARY_BINARY_FUNCTION)
  target_compile_features(${target} PRIVATE cxx_std_23)
  _vmm_discover_boost_tests(${target} "${component};${arg_LABELS}")
endfunction()

function(vmm_add_bench component)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;DEPENDS")
  string(REPLACE "." "_" flat "${component}")
  set(target bench_${flat})
  add_executable(${target} ${arg_SOURCES})
  target_link_libraries(${target} PRIVATE ${arg_DEPENDS} benchmark::benchmark_main $<BUILD_INTERFACE:vmm_warnings>)
  target_compile_features(${target} PRIVATE cxx_std_23)
  # Every bench also runs as a short smoke test, so a bench that crashes or asserts fails the test command.
  add_test(NAME ${target}.smoke COMMAND ${target} --benchmark_min_time=0.01 --benchmark_repetitions=1)
  set_tests_properties(${target}.smoke PROPERTIES LABELS "bench-smoke;${component}" TIMEOUT 300)
endfunction()

# vmm_add_fuzz(<name> SOURCES <files> [DEPENDS <targets>] [CORPUS <dir>] [SECONDS <n>])
# A libFuzzer target fuzz_<name> (built only with VMM_BUILD_FUZZERS, in the fuzz preset), and a CTest test that runs
# it for SECONDS (default $ENV{VMM_FUZZ_SECONDS}, else 20) starting from the seed CORPUS; new inputs it finds go to
# the build tree, never into the source tree. A crash, leak, sanitizer report or timeout fails the test and leaves
# the reproducer (crash-*, leak-*, timeout-*) in the test's working directory.
function(vmm_add_fuzz name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "CORPUS;SECONDS" "SOURCES;DEPENDS")
  set(target fuzz_${name})
  add_executable(${target} ${arg_SOURCES})
  target_link_libraries(${target} PRIVATE ${arg_DEPENDS} $<BUILD_INTERFACE:vmm_warnings>)
  target_compile_features(${target} PRIVATE cxx_std_23)
  # Debian's libFuzzer runtime is built against libstdc++; the code under test uses libc++ (../shared/TOOLCHAIN.md).
  target_link_options(${target} PRIVATE -fsanitize=fuzzer -l:libstdc++.so.6)
  if(DEFINED arg_SECONDS)
    set(seconds ${arg_SECONDS})
  elseif(DEFINED ENV{VMM_FUZZ_SECONDS})
    set(seconds $ENV{VMM_FUZZ_SECONDS})
  else()
    set(seconds 20)
  endif()
  set(work "${CMAKE_CURRENT_BINARY_DIR}/${target}-run")
  file(MAKE_DIRECTORY "${work}/corpus")
  add_test(NAME ${target} COMMAND ${target} -max_total_time=${seconds} -timeout=10 -rss_limit_mb=2048
           -print_final_stats=1 "${work}/corpus" "${arg_CORPUS}"
           WORKING_DIRECTORY "${work}")
  math(EXPR limit "${seconds} + 120")
  set_tests_properties(${target} PROPERTIES LABELS "fuzz" TIMEOUT ${limit})
endfunction()
