# Runs one command and checks both its exit status and its output, which add_test alone cannot do (a
# PASS_REGULAR_EXPRESSION makes CTest ignore the exit status).
#   cmake -D "CMD=prog@@arg1@@arg2" -D EXIT=<status> [-D "MATCH=<regex>"] [-D "NO_MATCH=<regex>"] -P expect.cmake
# Arguments are separated by @@ because regexes and filters need ';' and '|'.
string(REPLACE "@@" ";" command "${CMD}")
execute_process(COMMAND ${command} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(NOT "${rc}" STREQUAL "${EXIT}")
  message(FATAL_ERROR "exit status ${rc}, expected ${EXIT}\n--- output ---\n${all}")
endif()
if(DEFINED MATCH AND NOT all MATCHES "${MATCH}")
  message(FATAL_ERROR "output does not match \"${MATCH}\"\n--- output ---\n${all}")
endif()
if(DEFINED NO_MATCH AND all MATCHES "${NO_MATCH}")
  message(FATAL_ERROR "output matches \"${NO_MATCH}\", which it must not\n--- output ---\n${all}")
endif()
message(STATUS "exit ${rc} as expected\n${all}")
