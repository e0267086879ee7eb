# ckptconv_add_plugin(<name> SOURCES <files...> [RULES <yaml files...>] [LINK <targets...>])
#
# Builds plugin <name> twice from the same sources:
#  - ckptconv_<name>: a loadable MODULE named ckptconv_<name>.so in the
#    built-in plugin folder, exporting only ckptconv_plugin_entry_v1;
#  - ckptconv_<name>_static: a static library exposing
#    ckptconv_builtin_entry_<name>, so tests run the same code without dlopen.
# RULES files (rule sets a plugin applies with plan.rules("<file name>")) are
# copied next to the module, where the host looks for them. LINK names
# libraries the plugin uses besides the SDK (e.g. a header-only library a
# family's plugins share).
# Plugins link only the SDK (headers): never libtorch, never core.
function(ckptconv_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;RULES;LINK" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "ckptconv_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(ckptconv_${name} MODULE ${ARG_SOURCES})
  target_link_libraries(ckptconv_${name} PRIVATE ckptconv::sdk ${ARG_LINK})
  target_compile_definitions(ckptconv_${name} PRIVATE CKPTCONV_PLUGIN_MODULE)
  set_target_properties(ckptconv_${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ckptconv_${name}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${CKPTCONV_PLUGIN_OUTPUT_DIR})
  ckptconv_warnings(ckptconv_${name})
  set(copied_rules)
  foreach(rules ${ARG_RULES})
    get_filename_component(rules ${rules} ABSOLUTE)
    get_filename_component(rules_name ${rules} NAME)
    set(copy ${CKPTCONV_PLUGIN_OUTPUT_DIR}/${rules_name})
    add_custom_command(OUTPUT ${copy} COMMAND ${CMAKE_COMMAND} -E copy ${rules} ${copy} DEPENDS ${rules})
    list(APPEND copied_rules ${copy})
  endforeach()
  if(copied_rules)
    add_custom_target(ckptconv_${name}_rules ALL DEPENDS ${copied_rules})
    add_dependencies(ckptconv_${name} ckptconv_${name}_rules)
  endif()

  add_library(ckptconv_${name}_static STATIC EXCLUDE_FROM_ALL ${ARG_SOURCES})
  target_link_libraries(ckptconv_${name}_static PUBLIC ckptconv::sdk ${ARG_LINK})
  ckptconv_warnings(ckptconv_${name}_static)
endfunction()
