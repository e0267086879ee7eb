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
