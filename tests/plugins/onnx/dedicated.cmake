# Dedicated fixtures: make_onnx_fixtures.py writes real models covering each corner of the
# plugin's mapping (and models that must fail) with expected.json; onnx_dedicated_test checks
# them through the real plugin. generate_node_models.py writes the ONNX backend test-case models
# that the corpus tests read. Both generators need the project venv (scripts/python_env.sh):
# without it the tests report themselves skipped (77). Other tests depend on the generated
# folders with FIXTURES_REQUIRED "onnx_make_fixtures;onnx_generate_node_models".
set(MILO_ONNX_DEDICATED_DIR "${MILO_ONNX_GENERATED_DIR}/dedicated")
set(MILO_ONNX_BACKEND_DIR "${MILO_ONNX_GENERATED_DIR}/backend")
# sh -c SCRIPT PYTHON COMMAND...: runs COMMAND when the venv's python exists, else skips.
string(CONCAT _onnx_if_venv "if [ ! -x \"$0\" ]; then "
       "echo \"SKIPPED: $0 is missing (run scripts/python_env.sh)\"; exit 77; fi; exec \"$@\"")

add_test(NAME onnx_make_fixtures
         COMMAND sh -c "${_onnx_if_venv}" ${MILO_ONNX_PYTHON} ${MILO_ONNX_PYTHON}
                 ${CMAKE_CURRENT_SOURCE_DIR}/make_onnx_fixtures.py ${MILO_ONNX_DEDICATED_DIR})
set_tests_properties(onnx_make_fixtures PROPERTIES
  FIXTURES_SETUP onnx_make_fixtures SKIP_RETURN_CODE 77)

add_test(NAME onnx_generate_node_models
         COMMAND sh -c "${_onnx_if_venv}" ${MILO_ONNX_PYTHON} ${MILO_ONNX_PYTHON}
                 ${CMAKE_CURRENT_SOURCE_DIR}/generate_node_models.py ${MILO_ONNX_BACKEND_DIR})
set_tests_properties(onnx_generate_node_models PROPERTIES
  FIXTURES_SETUP onnx_generate_node_models SKIP_RETURN_CODE 77)

add_executable(onnx_dedicated_test onnx_dedicated_test.cpp)
target_link_libraries(onnx_dedicated_test PRIVATE milo milo_test_main nlohmann_json::nlohmann_json)
target_compile_definitions(onnx_dedicated_test PRIVATE
  MILO_PLUGIN_OUTPUT_DIR="${MILO_PLUGIN_OUTPUT_DIR}"
  MILO_ONNX_DEDICATED_DEFAULT="${MILO_ONNX_DEDICATED_DIR}")
add_dependencies(onnx_dedicated_test milo_onnx)
add_test(NAME onnx_dedicated_test
         COMMAND sh -c "${_onnx_if_venv}" ${MILO_ONNX_PYTHON} $<TARGET_FILE:onnx_dedicated_test>)
set_tests_properties(onnx_dedicated_test PROPERTIES
  FIXTURES_REQUIRED onnx_make_fixtures SKIP_RETURN_CODE 77
  ENVIRONMENT "MILO_ONNX_DEDICATED_DIR=${MILO_ONNX_DEDICATED_DIR}")
