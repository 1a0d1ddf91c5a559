# Fidelity sweep over every scikit-learn estimator (sweep_estimators.py) on both Python stacks:
#   system  MILO_SYSTEM_PYTHON (/usr/bin/python3): Debian's scikit-learn 1.2.1, numpy 1.24
#   venv    MILO_VENV_PYTHON (<repo>/.venv/bin/python, made by scripts/python_env.sh): the
#           newest scikit-learn, numpy 2.x
# Tests per stack (all LABELS sklearn; exit 77 = skipped):
#   sklearn_sweep_selftest_<stack>  the comparison detects corrupted copies (no Milo involved)
#   sklearn_sweep_pickle_<stack>    the sweep through plain pickle (validates the sweep itself)
#   sklearn_sweep_milo_<stack>      milo.dump/milo.load through .json, .yaml and .pb
#   sklearn_sweep_cli_<stack>       pickle/joblib -> `milo convert` -> JSON -> .pkl -> milo.load
# The milo and cli sweeps skip while milo_sklearn.so is not in the plugin folder; every sweep
# skips when its interpreter has no scikit-learn. JSON reports land in this build folder.
if(NOT MILO_SYSTEM_PYTHON)
  set(MILO_SYSTEM_PYTHON /usr/bin/python3)
endif()
if(NOT MILO_VENV_PYTHON)
  set(MILO_VENV_PYTHON ${PROJECT_SOURCE_DIR}/.venv/bin/python)
endif()
set(_sweep_script ${CMAKE_CURRENT_LIST_DIR}/sweep_estimators.py)
set(_sweep_plugin ${MILO_PLUGIN_OUTPUT_DIR}/milo_sklearn${CMAKE_SHARED_MODULE_SUFFIX})
set(_sweep_dir ${CMAKE_CURRENT_BINARY_DIR}/sweep)
file(MAKE_DIRECTORY ${_sweep_dir}/tmp)
# The adapter from the source tree, libmilo and its plugins from this build, the built `milo`
# first on PATH; no user site-packages, no user plugin folders.
set(_sweep_env
    "PYTHONPATH=${PROJECT_SOURCE_DIR}/adapters/python"
    "MILO_LIBRARY=$<TARGET_LINKER_FILE:milo>"
    "MILO_PLUGIN_PATH="
    "PYTHONNOUSERSITE=1"
    "PYTHONPYCACHEPREFIX=${_sweep_dir}/pycache"
    "TMPDIR=${_sweep_dir}/tmp")

foreach(_stack system venv)
  if(_stack STREQUAL "system")
    set(_python ${MILO_SYSTEM_PYTHON})
  else()
    set(_python ${MILO_VENV_PYTHON})
  endif()
  foreach(_through selftest pickle milo cli)
    set(_name sklearn_sweep_${_through}_${_stack})
    if(NOT EXISTS ${_python})
      add_test(NAME ${_name} COMMAND sh -c "echo 'SKIPPED: ${_python} does not exist' && exit 77")
    elseif(_through STREQUAL "selftest")
      add_test(NAME ${_name} COMMAND ${_python} ${_sweep_script} --self-test)
    elseif(_through STREQUAL "pickle")
      add_test(NAME ${_name} COMMAND ${_python} ${_sweep_script} --through pickle
               --report ${_sweep_dir}/${_name}.json)
    else()
      add_test(NAME ${_name} COMMAND ${_python} ${_sweep_script} --through ${_through}
               --require-plugin ${_sweep_plugin} --milo-cli $<TARGET_FILE:milo_cli>
               --report ${_sweep_dir}/${_name}.json)
    endif()
    set_tests_properties(${_name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900 LABELS "sklearn;slow"
      ENVIRONMENT "${_sweep_env}"
      ENVIRONMENT_MODIFICATION "PATH=path_list_prepend:$<TARGET_FILE_DIR:milo_cli>")
  endforeach()
endforeach()
