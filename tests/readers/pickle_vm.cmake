# Safe pickle VM. make_pickle_cases.py writes real pickles (C and Python picklers, protocols
# 0-5, numpy arrays, hand-made Python 2 streams) with the graphs the VM must build into the
# build tree at test time; pickle_vm_test compares them and runs the must-fail and limit cases.
# pickle_vm_scale parses a ~48 MB RandomForestClassifier pickle (skipped without scikit-learn).
set(MILO_PICKLE_CASES_DIR ${CMAKE_CURRENT_BINARY_DIR}/pickle_vm_cases)

add_executable(pickle_vm_test ${CMAKE_CURRENT_LIST_DIR}/pickle_vm_test.cpp)
target_link_libraries(pickle_vm_test PRIVATE milo_test_main milo_readers
  nlohmann_json::nlohmann_json)
target_compile_definitions(pickle_vm_test PRIVATE MILO_PICKLE_CASES="${MILO_PICKLE_CASES_DIR}")

add_test(NAME pickle_vm_cases
  COMMAND ${MILO_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/make_pickle_cases.py
          ${MILO_PICKLE_CASES_DIR})
set_tests_properties(pickle_vm_cases PROPERTIES FIXTURES_SETUP pickle_vm_cases)
add_test(NAME pickle_vm_test COMMAND pickle_vm_test)
set_tests_properties(pickle_vm_test PROPERTIES FIXTURES_REQUIRED pickle_vm_cases)

add_test(NAME pickle_vm_scale
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/pickle_vm_scale.sh ${MILO_SYSTEM_PYTHON}
          ${CMAKE_CURRENT_LIST_DIR}/make_pickle_cases.py $<TARGET_FILE:pickle_vm_test>
          ${CMAKE_CURRENT_BINARY_DIR}/pickle_vm_forest.pkl)
set_tests_properties(pickle_vm_scale PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
