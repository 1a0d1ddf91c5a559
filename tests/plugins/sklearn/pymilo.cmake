# PyMilo JSON files through the "pymilo" transporter of milo_sklearn.so (plugins/sklearn/README.md,
# "PyMilo JSON"):
#   pymilo_fixtures_test  .venv-debian (scikit-learn 1.2.1, the fixtures' version, plus pymilo):
#                         every fixture of /work/shared/fixtures/pymilo converted by `milo
#                         convert` (C++) to JSON/YAML/protobuf documents, loaded by milo.load,
#                         compared attribute by attribute and output by output (bit-exact) with
#                         PyMilo's own import on the same stack and with expected_outputs.json;
#                         the invalid files must fail. Fails when pymilo is missing.
#   pymilo_sweep_venv     (slow) every estimator PyMilo supports, fitted, exported by PyMilo,
#   pymilo_sweep_debian   converted by the C++ reader, compared with PyMilo's own import:
#                         .venv (sklearn 1.9.1) and .venv-debian (sklearn 1.2.1).
set(MILO_PYMILO_FIXTURES "/work/shared/fixtures/pymilo" CACHE PATH "PyMilo JSON fixtures")
set(_pm_dir ${CMAKE_CURRENT_BINARY_DIR}/pymilo)
file(MAKE_DIRECTORY ${_pm_dir}/tmp)
set(_pm_env
    "PYTHONPATH=${PROJECT_SOURCE_DIR}/adapters/python"
    "MILO_LIBRARY=$<TARGET_LINKER_FILE:milo>"
    "MILO_PLUGIN_PATH="
    "PYTHONNOUSERSITE=1"
    "PYTHONPYCACHEPREFIX=${_pm_dir}/pycache"
    "TMPDIR=${_pm_dir}/tmp")
set(_pm_skip "if [ ! -d '${MILO_PYMILO_FIXTURES}' ]; then echo 'SKIPPED: no fixtures'; exit 77; fi;")
# Python loads libmilo through ctypes here, which a sanitizer build cannot serve (the ASan
# runtime must come first in the process); the adapters' own tests are skipped there too.
if(NOT MILO_SANITIZE AND NOT MILO_FUZZ)
  add_test(NAME pymilo_fixtures_test
    COMMAND sh -c "${_pm_skip} exec '${MILO_DEBIAN_PYMILO_PYTHON}' '${CMAKE_CURRENT_SOURCE_DIR}/pymilo_fixtures_test.py' '$<TARGET_FILE:milo_cli>' '${MILO_PYMILO_FIXTURES}' '${_pm_dir}/fixtures'")
  set_tests_properties(pymilo_fixtures_test PROPERTIES SKIP_RETURN_CODE 77
    TIMEOUT 600 LABELS sklearn ENVIRONMENT "${_pm_env}")
  foreach(_stack venv debian)
    if(_stack STREQUAL "venv")
      set(_python ${MILO_VENV_PYTHON})
    else()
      set(_python ${MILO_DEBIAN_PYMILO_PYTHON})
    endif()
    # A missing interpreter fails (exec of a missing file): run scripts/python_env.sh.
    add_test(NAME pymilo_sweep_${_stack}
      COMMAND ${_python} ${CMAKE_CURRENT_SOURCE_DIR}/pymilo_sweep.py $<TARGET_FILE:milo_cli>
              ${_pm_dir}/sweep_${_stack})
    set_tests_properties(pymilo_sweep_${_stack} PROPERTIES TIMEOUT 900 LABELS "sklearn;slow"
      ENVIRONMENT "${_pm_env}")
  endforeach()
endif()

