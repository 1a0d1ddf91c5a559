# Trust policy (sdk/readers/src/trust_policy.cpp and its trust_allowlist_*.inc files).
# trust_policy_check_<stack> runs the allowlist generator in --check mode under each Python
# stack: it fails when the committed lists lack anything that stack generates or anything real
# pickles of fitted estimators use, and writes those pickles and their globals for
# trust_policy_test, which asserts that classify() trusts every one of them with its usage, as
# the Python side sees them and as the pickle VM reports them.
set(MILO_TRUST_GENERATOR ${PROJECT_SOURCE_DIR}/plugins/sklearn/tools/gen_sklearn_allowlist.py)
set(MILO_TRUST_LISTS ${PROJECT_SOURCE_DIR}/sdk/readers/src)
set(MILO_TRUST_GLOBALS_DIR ${CMAKE_CURRENT_BINARY_DIR}/trust_globals)
file(MAKE_DIRECTORY ${MILO_TRUST_GLOBALS_DIR})

add_executable(trust_policy_test ${CMAKE_CURRENT_LIST_DIR}/trust_policy_test.cpp)
target_link_libraries(trust_policy_test PRIVATE milo_test_main milo_readers)
target_include_directories(trust_policy_test PRIVATE ${PROJECT_SOURCE_DIR}/sdk/include)

set(_trust_stacks system)
add_test(NAME trust_policy_check_system
  COMMAND ${MILO_SYSTEM_PYTHON} ${MILO_TRUST_GENERATOR} --check ${MILO_TRUST_LISTS}
          --globals-out ${MILO_TRUST_GLOBALS_DIR}/system.tsv
          --pickles-out ${MILO_TRUST_GLOBALS_DIR}/system)
set_tests_properties(trust_policy_check_system PROPERTIES FIXTURES_SETUP trust_globals)
if(EXISTS ${MILO_VENV_PYTHON})
  list(APPEND _trust_stacks venv)
  add_test(NAME trust_policy_check_venv
    COMMAND ${MILO_VENV_PYTHON} ${MILO_TRUST_GENERATOR} --check ${MILO_TRUST_LISTS}
            --globals-out ${MILO_TRUST_GLOBALS_DIR}/venv.tsv
            --pickles-out ${MILO_TRUST_GLOBALS_DIR}/venv)
  set_tests_properties(trust_policy_check_venv PROPERTIES FIXTURES_SETUP trust_globals)
endif()
list(JOIN _trust_stacks "," _trust_stacks_csv)
target_compile_definitions(trust_policy_test PRIVATE
  MILO_TRUST_GLOBALS_DIR="${MILO_TRUST_GLOBALS_DIR}" MILO_TRUST_STACKS="${_trust_stacks_csv}")

add_test(NAME trust_policy_test COMMAND trust_policy_test)
set_tests_properties(trust_policy_test PROPERTIES FIXTURES_REQUIRED trust_globals)
