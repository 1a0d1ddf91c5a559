# Round trip of the whole corpus: the shared real models and the models generated with the
# newest onnx from PyPI (node/ and simple/ backend cases, dedicated fixtures).
add_executable(onnx_roundtrip_test ${CMAKE_CURRENT_LIST_DIR}/onnx_roundtrip_test.cpp
               ${CMAKE_CURRENT_LIST_DIR}/onnx_reverse.cpp)
target_link_libraries(onnx_roundtrip_test PRIVATE milo milo_test_main milo_onnx_import)
target_compile_definitions(onnx_roundtrip_test PRIVATE
  MILO_PLUGIN_OUTPUT_DIR="${MILO_PLUGIN_OUTPUT_DIR}" MILO_TEST_TMP_DIR="${CMAKE_CURRENT_BINARY_DIR}")
add_dependencies(onnx_roundtrip_test milo_onnx)
milo_onnx_fixture_test(onnx_roundtrip_fixtures COMMAND onnx_roundtrip_test)
set_tests_properties(onnx_roundtrip_fixtures PROPERTIES
  ENVIRONMENT "MILO_ONNX_CORPUS=${MILO_ONNX_FIXTURES_DIR}")
if(EXISTS ${MILO_ONNX_PYTHON})
  add_test(NAME onnx_roundtrip_generated COMMAND onnx_roundtrip_test)
  set_tests_properties(onnx_roundtrip_generated PROPERTIES
    ENVIRONMENT "MILO_ONNX_CORPUS=${MILO_ONNX_GENERATED_DIR}/backend:${MILO_ONNX_GENERATED_DIR}/dedicated"
    FIXTURES_REQUIRED "onnx_generate_node_models;onnx_make_fixtures")
endif()
