# The adversarial corpus (make_adversarial.py): malicious and malformed pickles, joblib files and
# torch-like zips, generated into the build tree with Debian's Python (the families built from
# real estimators need its numpy/scikit-learn/joblib), then run through `milo scan`, `milo
# convert` and the Python adapter's milo.load/milo.scan (adversarial_test.py). A canary file
# proves that no payload ran. The self-check proves the corpus is live: it loads every "would
# execute" file with the real pickle/joblib in a temporary folder and expects its own canary.
set(_adv_dir ${CMAKE_CURRENT_BINARY_DIR}/adversarial)
set(_adv_gen ${CMAKE_CURRENT_SOURCE_DIR}/make_adversarial.py)
if(NOT EXISTS "${MILO_SYSTEM_PYTHON}")
  foreach(name sklearn_adversarial_corpus sklearn_adversarial_self_check sklearn_adversarial)
    add_test(NAME ${name} COMMAND sh -c "echo 'SKIPPED: ${MILO_SYSTEM_PYTHON} not found'; exit 77")
    set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 LABELS "sklearn;adversarial")
  endforeach()
  return()
endif()

add_test(NAME sklearn_adversarial_corpus
  COMMAND ${MILO_SYSTEM_PYTHON} ${_adv_gen} ${_adv_dir}/canary ${_adv_dir}/corpus)
set_tests_properties(sklearn_adversarial_corpus PROPERTIES
  FIXTURES_SETUP sklearn_adversarial_corpus TIMEOUT 300 LABELS "sklearn;adversarial")

add_test(NAME sklearn_adversarial_self_check COMMAND ${MILO_SYSTEM_PYTHON} ${_adv_gen} --self-check)
set_tests_properties(sklearn_adversarial_self_check PROPERTIES
  TIMEOUT 600 LABELS "sklearn;adversarial;slow")

# Sanitizer builds reserve terabytes of address space: no RLIMIT_AS there.
set(_adv_flags)
if(MILO_SANITIZE)
  list(APPEND _adv_flags --no-memory-limit)
endif()
add_test(NAME sklearn_adversarial
  COMMAND ${MILO_SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/adversarial_test.py
          ${CMAKE_BINARY_DIR} ${_adv_dir}/corpus ${_adv_dir}/canary
          --plugin ${MILO_PLUGIN_OUTPUT_DIR}/milo_sklearn.so ${_adv_flags})
set_tests_properties(sklearn_adversarial PROPERTIES
  FIXTURES_REQUIRED sklearn_adversarial_corpus SKIP_RETURN_CODE 77 TIMEOUT 1800
  LABELS "sklearn;adversarial")
