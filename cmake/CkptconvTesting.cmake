# ckptconv_test(<name> SOURCES ... [LIBS ...] [LABELS ...])
# A GoogleTest executable linked with the test support library; each of its
# tests becomes a ctest test carrying LABELS (default: core).
function(ckptconv_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ckptconv_test_support GTest::gtest_main ${ARG_LIBS})
  ckptconv_warnings(${name})
  if(NOT ARG_LABELS)
    set(ARG_LABELS core)
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60)
endfunction()

# ckptconv_plugin_tests(<plugin> SOURCES <gtest files...> ORACLE <python script>)
# A plugin's tests under the ctest label <plugin>: its GoogleTest files linked
# with a static twin of the plugin (the module's sources, built without the
# exported entry, so tests run the same code without dlopen), and its Python
# oracle run by Debian's python3-torch against the built CLI and the corpus.
# Call it from the folder that called ckptconv_add_plugin(<plugin> ...).
function(ckptconv_plugin_tests plugin)
  cmake_parse_arguments(ARG "" "ORACLE" "SOURCES" ${ARGN})
  get_target_property(plugin_sources ckptconv_${plugin} SOURCES)
  get_target_property(plugin_links ckptconv_${plugin} LINK_LIBRARIES)
  add_library(ckptconv_${plugin}_static STATIC EXCLUDE_FROM_ALL ${plugin_sources})
  target_link_libraries(ckptconv_${plugin}_static PUBLIC ${plugin_links})
  ckptconv_warnings(ckptconv_${plugin}_static)
  ckptconv_test(${plugin}_test SOURCES ${ARG_SOURCES} LIBS ckptconv_${plugin}_static LABELS ${plugin})
  add_test(NAME ${plugin}_matches_python_reference
    COMMAND /usr/bin/python3 ${ARG_ORACLE} $<TARGET_FILE:ckptconv> ${PROJECT_SOURCE_DIR}/tests/corpus)
  set_tests_properties(${plugin}_matches_python_reference PROPERTIES LABELS "${plugin};oracle")
endfunction()
