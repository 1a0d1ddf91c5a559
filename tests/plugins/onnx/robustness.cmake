# Robustness of the ONNX importer (onnx_robustness_test.cpp): truncated and bit-flipped real
# models, recursion and size bombs, malformed wire data, invalid UTF-8. Links milo_onnx_import
# only for the ONNX headers and libonnx_proto (protobuf is the test's oracle); the importer
# under test is the plugin, loaded through the registry.
add_executable(onnx_robustness_test onnx_robustness_test.cpp)
target_link_libraries(onnx_robustness_test PRIVATE milo milo_test_main milo_onnx_import)
target_compile_definitions(onnx_robustness_test PRIVATE
  MILO_ONNX_PLUGIN="$<TARGET_FILE:milo_onnx>"
  MILO_ONNX_FIXTURES_DIR="${MILO_ONNX_FIXTURES_DIR}")
add_dependencies(onnx_robustness_test milo_onnx)
milo_onnx_fixture_test(onnx_robustness_test COMMAND onnx_robustness_test)
