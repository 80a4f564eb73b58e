# The one place that enables `import std;` (experimental in CMake 4.3), and the language settings that must match
# between cpp-vmm and every project importing its modules.
#
# CMake gates `import std` behind a UUID that changes with every CMake release. It must be set before the first
# project() call, so both this repository and outside consumers include this file first:
#   include(<prefix>/lib/cmake/vmm/vmm-import-std.cmake)   # installed copy
#   project(my_vmm LANGUAGES CXX)
# When cpp-vmm moves to a new CMake, update the version check and the UUID here (see CMake's
# Help/dev/experimental.rst for the value), and nowhere else.
if(CMAKE_VERSION VERSION_LESS 4.3 OR CMAKE_VERSION VERSION_GREATER_EQUAL 4.4)
  message(FATAL_ERROR
    "cpp-vmm's import-std switch is for CMake 4.3.x; this is CMake ${CMAKE_VERSION}. "
    "Run tools/bootstrap and use the CMake it installs (tools/toolchain/node_modules/.bin/cmake).")
endif()
set(CMAKE_EXPERIMENTAL_CXX_IMPORT_STD "451f2fe2-a8a2-47c3-bc32-94786d8fc91b")
set(CMAKE_CXX_MODULE_STD ON)

# A module's compiled interface (BMI) can only be imported by code built with the same language mode. cpp-vmm's
# exported targets say C++23 without GNU extensions, and each consumer compiles its own `std` module with its own
# setting, so both sides must agree: strict C++23.
set(CMAKE_CXX_EXTENSIONS OFF)
