# The reader: fixtures written by Debian's torch at test time (make_checkpoints.py), converted
# with `milo convert` and checked through the Python adapter (torch_checkpoints_test.py); the
# sklearn adversarial corpus wrapped as <archive>/data.pkl (torch_adversarial_test.py).
set(_torch_dir ${CMAKE_CURRENT_BINARY_DIR}/reader)
set(_torch_skip "if ! '${MILO_TORCH_PYTHON}' -c 'import torch' 2>/dev/null; then echo 'SKIPPED: no torch for ${MILO_TORCH_PYTHON}'; exit 77; fi;")
add_test(NAME torch_checkpoints_fixtures
  COMMAND sh -c "${_torch_skip} exec '${MILO_TORCH_PYTHON}' '${CMAKE_CURRENT_SOURCE_DIR}/make_checkpoints.py' '${_torch_dir}/fixtures'")
set_tests_properties(torch_checkpoints_fixtures PROPERTIES FIXTURES_SETUP torch_checkpoints
  SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS torch)
# Python loads libmilo through ctypes here, which a sanitizer build cannot serve (the ASan
# runtime must come first in the process); the adapters' own tests are skipped there too.
if(NOT MILO_SANITIZE AND NOT MILO_FUZZ)
  add_test(NAME torch_checkpoints_test
    COMMAND sh -c "${_torch_skip} exec '${MILO_TORCH_PYTHON}' '${CMAKE_CURRENT_SOURCE_DIR}/torch_checkpoints_test.py' '$<TARGET_FILE:milo_cli>' '$<TARGET_FILE:milo>' '${_torch_dir}/fixtures' '${_torch_dir}/work'")
  set_tests_properties(torch_checkpoints_test PROPERTIES FIXTURES_REQUIRED torch_checkpoints
    SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS torch)
endif()

# Sanitizer builds reserve terabytes of address space: no RLIMIT_AS there.
set(_torch_adv_flags "")
if(MILO_SANITIZE)
  set(_torch_adv_flags " --no-memory-limit")
endif()
add_test(NAME torch_adversarial
  COMMAND sh -c "${_torch_skip} exec '${MILO_TORCH_PYTHON}' '${CMAKE_CURRENT_SOURCE_DIR}/torch_adversarial_test.py' '$<TARGET_FILE:milo_cli>' '${PROJECT_SOURCE_DIR}/tests/plugins/sklearn/make_adversarial.py' '${_torch_dir}/adversarial'${_torch_adv_flags}")
set_tests_properties(torch_adversarial PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900
  LABELS "torch;adversarial")
