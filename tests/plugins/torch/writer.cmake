# The writer: torch_writer_test (writer_test.py) — real torch.save files through the reader and
# back, documents built with the Python adapter, must-fail documents; all through `milo convert`
# and checked with Debian's torch (python3-torch).
set(_torch_w_skip "if ! '${MILO_TORCH_PYTHON}' -c 'import torch' 2>/dev/null; then echo 'SKIPPED: no torch for ${MILO_TORCH_PYTHON}'; exit 77; fi;")
# Python loads libmilo through ctypes here, which a sanitizer build cannot serve (the ASan
# runtime must come first in the process); the adapters' own tests are skipped there too.
if(NOT MILO_SANITIZE AND NOT MILO_FUZZ)
  add_test(NAME torch_writer_test
    COMMAND sh -c "${_torch_w_skip} exec '${MILO_TORCH_PYTHON}' '${CMAKE_CURRENT_SOURCE_DIR}/writer_test.py' '$<TARGET_FILE:milo_cli>' '$<TARGET_FILE:milo>' '${CMAKE_CURRENT_BINARY_DIR}/writer' '${PROJECT_SOURCE_DIR}/adapters/python'")
  set_tests_properties(torch_writer_test PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS torch)
endif()

