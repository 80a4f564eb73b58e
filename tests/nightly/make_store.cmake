# CTest fixture: a synthetic store (make_fixture_store) plus three files a real store can end up with and that every
# reader must report by path while still reading all the others: a truncated file, a file from a newer vmm-bench,
# and a valid run file in the wrong machine's directory.
#   cmake -D FIXTURE=<make_fixture_store> -D STORE=<dir> -P make_store.cmake
file(REMOVE_RECURSE "${STORE}")
execute_process(COMMAND "${FIXTURE}" "${STORE}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "make_fixture_store failed: ${rc}")
endif()
file(GLOB runs "${STORE}/runner-a/*.json")
list(GET runs 0 first)
file(READ "${first}" text)
string(SUBSTRING "${text}" 0 300 truncated)
file(WRITE "${STORE}/runner-a/0badc0de.nightly.json" "${truncated}")
string(REPLACE "\"schema_version\": 1" "\"schema_version\": 99" future "${text}")
file(WRITE "${STORE}/runner-a/feedface.nightly.json" "${future}")
file(MAKE_DIRECTORY "${STORE}/runner-c")
get_filename_component(name "${first}" NAME)
file(COPY_FILE "${first}" "${STORE}/runner-c/${name}")
# An interrupted write's temporary file is not a run at all and must be skipped silently.
file(WRITE "${STORE}/runner-a/.c0ffee.nightly.json.1234.tmp" "{")
