# clang 19 with libc++ 19: the toolchain that builds C++23 named modules and `import std;` on Debian 12.
# The machine's default g++ 12 / clang 14 cannot. tools/bootstrap installs everything named here.
set(CMAKE_C_COMPILER clang-19)
set(CMAKE_CXX_COMPILER clang++-19)
set(CMAKE_CXX_COMPILER_CLANG_SCAN_DEPS clang-scan-deps-19)
set(CMAKE_CXX_FLAGS_INIT "-stdlib=libc++")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-stdlib=libc++ -fuse-ld=lld")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-stdlib=libc++ -fuse-ld=lld")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-stdlib=libc++ -fuse-ld=lld")

# Tools that go with this compiler (coverage, formatting).
set(VMM_LLVM_PROFDATA llvm-profdata-19 CACHE STRING "llvm-profdata matching the compiler")
set(VMM_LLVM_COV llvm-cov-19 CACHE STRING "llvm-cov matching the compiler")

# Google Benchmark built against libc++ by tools/bootstrap, in a cache shared by every checkout on the machine.
if(DEFINED ENV{VMM_CACHE_DIR})
  set(_vmm_cache "$ENV{VMM_CACHE_DIR}")
else()
  set(_vmm_cache "$ENV{HOME}/.cache/cpp-vmm")
endif()
list(APPEND CMAKE_PREFIX_PATH "${_vmm_cache}/benchmark-1.7.1-libcxx19")
