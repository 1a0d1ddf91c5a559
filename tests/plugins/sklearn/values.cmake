# Python values × pickle protocols 0-5 × joblib codecs through `milo convert` and back, on both
# Python stacks (Debian's and the venv's). Skips (77) when an interpreter lacks numpy.
foreach(stack system venv)
  if(stack STREQUAL "system")
    set(_py ${MILO_SYSTEM_PYTHON})
  else()
    set(_py ${MILO_VENV_PYTHON})
  endif()
  add_test(NAME sklearn_values_roundtrip_${stack}
    COMMAND sh -c "if [ ! -x '${_py}' ]; then echo 'SKIPPED: ${_py} not found'; exit 77; fi; exec '${_py}' '${CMAKE_CURRENT_SOURCE_DIR}/values_roundtrip.py' '$<TARGET_FILE:milo_cli>' '${CMAKE_CURRENT_BINARY_DIR}/values_${stack}'")
  set_tests_properties(sklearn_values_roundtrip_${stack} PROPERTIES SKIP_RETURN_CODE 77
    TIMEOUT 900 LABELS sklearn)
endforeach()
