# ckptconv_add_plugin(<name> SOURCES <files...> [RULES <yaml files...>] [LINK <targets...>])
#
# Builds plugin <name> as a loadable MODULE, ckptconv_<name>.so, exporting only
# ckptconv_plugin_entry_v1, into CKPTCONV_PLUGIN_OUTPUT_DIR (default:
# <build>/ckptconv_plugins, the folder to give the CLI as --plugin-path), and
# installs it into CKPTCONV_PLUGIN_INSTALL_DIR (default lib/ckptconv/plugins:
# installed into ckptconv's own prefix, the CLI finds it without flags).
# RULES files (rule sets a plugin applies with plan.rules("<file name>")) go
# next to the module, where the host looks for them. LINK names libraries the
# plugin uses besides the SDK (e.g. a header-only library a family shares).
#
# The same file serves ckptconv's own tree and, installed with the SDK
# package, out-of-tree plugin projects: plugins link only the SDK headers,
# never libtorch, never ckptconv's core.
include_guard(GLOBAL)

if(NOT CKPTCONV_PLUGIN_OUTPUT_DIR)
  set(CKPTCONV_PLUGIN_OUTPUT_DIR ${CMAKE_BINARY_DIR}/ckptconv_plugins)
endif()
if(NOT CKPTCONV_PLUGIN_INSTALL_DIR)
  set(CKPTCONV_PLUGIN_INSTALL_DIR lib/ckptconv/plugins)
endif()

# Installed next to this file, like it.
set(CKPTCONV_PLUGIN_EXPORT_MAP ${CMAKE_CURRENT_LIST_DIR}/ckptconv_plugin.map)

function(ckptconv_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;RULES;LINK" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "ckptconv_add_plugin(${name}): SOURCES is required")
  endif()
  if(NOT name MATCHES "^[a-z0-9_]+$")
    message(FATAL_ERROR "ckptconv_add_plugin(${name}): a plugin id is [a-z0-9_]+")
  endif()
  add_library(ckptconv_${name} MODULE ${ARG_SOURCES})
  target_link_libraries(ckptconv_${name} PRIVATE ckptconv::sdk ${ARG_LINK})
  target_compile_definitions(ckptconv_${name} PRIVATE CKPTCONV_PLUGIN_MODULE)
  set_target_properties(ckptconv_${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ckptconv_${name}
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${CKPTCONV_PLUGIN_OUTPUT_DIR})
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    target_link_options(ckptconv_${name} PRIVATE "LINKER:--version-script=${CKPTCONV_PLUGIN_EXPORT_MAP}")
    set_property(TARGET ckptconv_${name} APPEND PROPERTY LINK_DEPENDS ${CKPTCONV_PLUGIN_EXPORT_MAP})
  endif()
  # In ckptconv's tree plugins get the project's warnings; outside, the plugin's project decides.
  if(COMMAND ckptconv_warnings)
    ckptconv_warnings(ckptconv_${name})
  endif()
  install(TARGETS ckptconv_${name} LIBRARY DESTINATION ${CKPTCONV_PLUGIN_INSTALL_DIR})

  set(copied_rules)
  foreach(rules ${ARG_RULES})
    get_filename_component(rules ${rules} ABSOLUTE)
    get_filename_component(rules_name ${rules} NAME)
    set(copy ${CKPTCONV_PLUGIN_OUTPUT_DIR}/${rules_name})
    add_custom_command(OUTPUT ${copy} COMMAND ${CMAKE_COMMAND} -E copy ${rules} ${copy} DEPENDS ${rules})
    list(APPEND copied_rules ${copy})
    install(FILES ${rules} DESTINATION ${CKPTCONV_PLUGIN_INSTALL_DIR})
  endforeach()
  if(copied_rules)
    add_custom_target(ckptconv_${name}_rules ALL DEPENDS ${copied_rules})
    add_dependencies(ckptconv_${name} ckptconv_${name}_rules)
  endif()
endfunction()
