# In-house estimators (plugins/sklearn/README.md): a plugin that claims dangerous and
# allowlisted names is never handed their objects, on the way in or out; an ordinary in-house
# class is (inhouse_claims_test.py). The fraud scorer example has its own tests
# (docs/examples/fraud_scorer). Needs no numpy: the pickles are written opcode by opcode.
add_library(milo_test_sklearn_claims MODULE ${PROJECT_SOURCE_DIR}/tests/test_plugins/sklearn_claims_plugin.cpp)
target_link_libraries(milo_test_sklearn_claims PRIVATE milo_sklearn_headers)
target_link_options(milo_test_sklearn_claims PRIVATE
  "LINKER:--version-script=${MILO_PLUGIN_VERSION_SCRIPT}")
set_target_properties(milo_test_sklearn_claims PROPERTIES PREFIX "" CXX_VISIBILITY_PRESET hidden
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/test_plugins)
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  add_test(NAME sklearn_inhouse_claims_test
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/inhouse_claims_test.py
            $<TARGET_FILE:milo_cli> $<TARGET_FILE:milo_test_sklearn_claims>
            ${CMAKE_CURRENT_BINARY_DIR}/inhouse_claims)
  set_tests_properties(sklearn_inhouse_claims_test PROPERTIES TIMEOUT 120 LABELS sklearn
    ENVIRONMENT "MILO_PLUGIN_PATH=")
endif()
