# joblib reader: make_joblib_cases.py writes real joblib files at test time (Debian's joblib,
# and the venv's when it has joblib) into the build tree; joblib_reader_test reads them back and
# compares every array with the bytes joblib wrote.
find_package(ZLIB REQUIRED)  # the test compresses damaged streams itself
set(MILO_JOBLIB_CASES_DIR ${CMAKE_CURRENT_BINARY_DIR}/joblib_cases)

add_executable(joblib_reader_test ${CMAKE_CURRENT_LIST_DIR}/joblib_reader_test.cpp)
target_link_libraries(joblib_reader_test PRIVATE milo_test_main milo_readers
  nlohmann_json::nlohmann_json ZLIB::ZLIB)
target_compile_definitions(joblib_reader_test PRIVATE
  MILO_JOBLIB_CASES="${MILO_JOBLIB_CASES_DIR}")

add_test(NAME joblib_cases_system
  COMMAND ${MILO_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/make_joblib_cases.py
          ${MILO_JOBLIB_CASES_DIR}/system)
set_tests_properties(joblib_cases_system PROPERTIES FIXTURES_SETUP joblib_cases)
if(EXISTS ${MILO_VENV_PYTHON})
  # --allow-skip: without joblib in the venv the manifest only says why
  add_test(NAME joblib_cases_venv
    COMMAND ${MILO_VENV_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/make_joblib_cases.py
            ${MILO_JOBLIB_CASES_DIR}/venv --allow-skip)
  set_tests_properties(joblib_cases_venv PROPERTIES FIXTURES_SETUP joblib_cases)
endif()
add_test(NAME joblib_reader_test COMMAND joblib_reader_test)
set_tests_properties(joblib_reader_test PROPERTIES FIXTURES_REQUIRED joblib_cases)
