# The zip writer: zip_writer_test (byte identity with real torch.save archives, read back through
# ZipReader, refused names) and zip_writer_zipfile (Python's zipfile reads what the first wrote).
# make_torch_zips.py needs Debian's python3-torch (scripts/deps.sh).
set(MILO_TORCH_ZIPS_DIR ${CMAKE_CURRENT_BINARY_DIR}/torch_zips)
add_custom_command(
  OUTPUT ${MILO_TORCH_ZIPS_DIR}/list.txt
  COMMAND ${MILO_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/make_torch_zips.py ${MILO_TORCH_ZIPS_DIR}
  DEPENDS ${CMAKE_CURRENT_LIST_DIR}/make_torch_zips.py
  COMMENT "make_torch_zips.py: archives written by torch.save"
  VERBATIM)
add_custom_target(milo_torch_zips DEPENDS ${MILO_TORCH_ZIPS_DIR}/list.txt)

set(_zip_writer_out ${CMAKE_CURRENT_BINARY_DIR}/zip_writer_out)
file(MAKE_DIRECTORY ${_zip_writer_out})
add_executable(zip_writer_test ${CMAKE_CURRENT_LIST_DIR}/zip_writer_test.cpp)
target_link_libraries(zip_writer_test PRIVATE milo_test_main milo_readers
  nlohmann_json::nlohmann_json)
target_compile_definitions(zip_writer_test PRIVATE MILO_TORCH_ZIPS_DIR="${MILO_TORCH_ZIPS_DIR}"
  MILO_ZIP_WRITER_OUT="${_zip_writer_out}")
add_dependencies(zip_writer_test milo_torch_zips)
add_test(NAME zip_writer_test COMMAND zip_writer_test)
set_tests_properties(zip_writer_test PROPERTIES FIXTURES_SETUP zip_writer_archives)
add_test(NAME zip_writer_zipfile
  COMMAND ${MILO_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/zip_writer_check.py ${_zip_writer_out})
set_tests_properties(zip_writer_zipfile PROPERTIES FIXTURES_REQUIRED zip_writer_archives)
