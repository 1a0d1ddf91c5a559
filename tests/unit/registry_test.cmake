# registry_test loads the plugin variants of tests/plugins/variants from
# MILO_TEST_PLUGIN_DIR; build them first. dlopen(RTLD_NOLOAD) checks that failed plugins are
# closed again.
add_dependencies(${name} milo_test_plugins)
target_link_libraries(${name} PRIVATE ${CMAKE_DL_LIBS})
