# dlnest_add_project(<name> SOURCES <files...> [LIBS <libraries...>])
#
# Builds a DLNest project into the plugin the worker loads: a MODULE library named
# dlnest_plugin.so in the build folder, linked against the SDK and libtorch, carrying the
# SDK / libtorch versions it was built with so the worker can refuse a mismatched plugin.
function(dlnest_add_project name)
  cmake_parse_arguments(P "" "" "SOURCES;LIBS" ${ARGN})
  set(abi_source "${CMAKE_CURRENT_BINARY_DIR}/dlnest_plugin_abi.cpp")
  set(abi_text "#include <torch/version.h>\n#include \"dlnest/plugin.h\"\nDLNEST_DEFINE_PLUGIN_ABI()\n")
  if(EXISTS "${abi_source}")
    file(READ "${abi_source}" existing)
  endif()
  if(NOT existing STREQUAL abi_text)
    file(WRITE "${abi_source}" "${abi_text}")
  endif()
  add_library(${name} MODULE ${P_SOURCES} "${abi_source}")
  target_link_libraries(${name} PRIVATE DLNest::dlnest_sdk ${P_LIBS})
  target_compile_features(${name} PRIVATE cxx_std_17)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME dlnest_plugin
    LIBRARY_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}")
endfunction()
