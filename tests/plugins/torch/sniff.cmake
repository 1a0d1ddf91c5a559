# C++ unit tests of the reader's pieces (no Python).
add_executable(torch_sniff_test torch_sniff_test.cpp)
target_link_libraries(torch_sniff_test PRIVATE milo_test_main milo_torch_core milo)
add_test(NAME torch_sniff_test COMMAND torch_sniff_test)
set_tests_properties(torch_sniff_test PROPERTIES LABELS torch)
