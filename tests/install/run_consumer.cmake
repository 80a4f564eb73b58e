# Installs the build at BUILD_DIR into WORK_DIR/prefix, then builds and runs the consumer project against it.
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "install.consumer: step '${name}' failed (${result}):\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

step(install "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(expected lib/cmake/vmm/vmm-config.cmake lib/cmake/vmm/vmm-import-std.cmake include/vmm/sys/sys.cppm
    include/vmm/memory/memory.cppm)
  if(NOT EXISTS "${prefix}/${expected}")
    message(FATAL_ERROR "install.consumer: the install has no ${expected}")
  endif()
endforeach()

step(configure "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE}" -B "${WORK_DIR}/build" -G Ninja
  "-DCMAKE_PREFIX_PATH=${prefix}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  "-DCMAKE_CXX_COMPILER_CLANG_SCAN_DEPS=${CXX_SCAN_DEPS}"
  "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
  "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}"
  "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
step(build "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
step(run "${WORK_DIR}/build/consumer")
message(STATUS "${last_output}")
if(NOT last_output MATCHES "vmm.sys consumer: eventfd counter 42\nvmm.memory consumer: read back 42")
  message(FATAL_ERROR "install.consumer: unexpected output from the consumer: ${last_output}")
endif()
