# Bounded decompression, content sniffing and the strict zip reader: decompress_test and
# zip_reader_test. Their inputs are real output of Python's zlib/gzip/bz2/lzma, lz4, joblib,
# pickle and zipfile, written by make_archives.py into the build tree at build time (the 1 GiB
# bombs take ~30 s, so once, not at every test run); manifest.json says what each must give.
# Rerun when the script or the venv's requirements (lz4) change.
set(MILO_READERS_ARCHIVES_DIR ${CMAKE_CURRENT_BINARY_DIR}/archives)
add_custom_command(
  OUTPUT ${MILO_READERS_ARCHIVES_DIR}/manifest.json
  COMMAND ${CMAKE_COMMAND} -E make_directory ${MILO_READERS_ARCHIVES_DIR}
  COMMAND ${MILO_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/make_archives.py
          ${MILO_READERS_ARCHIVES_DIR} --venv-python ${MILO_VENV_PYTHON}
  DEPENDS ${CMAKE_CURRENT_LIST_DIR}/make_archives.py
          ${PROJECT_SOURCE_DIR}/scripts/requirements-test.txt
  COMMENT "make_archives.py: codec, joblib, pickle and zip test inputs"
  VERBATIM)
add_custom_target(milo_readers_archives DEPENDS ${MILO_READERS_ARCHIVES_DIR}/manifest.json)

foreach(name decompress_test zip_reader_test)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.cpp)
  target_link_libraries(${name} PRIVATE milo_test_main milo_readers nlohmann_json::nlohmann_json)
  target_compile_definitions(${name} PRIVATE MILO_ARCHIVES_DIR="${MILO_READERS_ARCHIVES_DIR}")
  add_dependencies(${name} milo_readers_archives)
  add_test(NAME ${name} COMMAND ${name})
endforeach()
