# dlnest_add_project(<name> [SOURCE_DIRS <folders...>] [SOURCES <files...>] [LIBS <libraries...>])
#
# Builds a DLNest project into the plugin the worker loads: a MODULE library named
# dlnest_plugin.so in the build folder, linked against the SDK and libtorch, carrying the
# SDK / libtorch versions it was built with so the worker can refuse a mismatched plugin.
#
# SOURCE_DIRS: every *.cpp and *.cc directly in these folders (relative to the project) is a
# source, looked for again at every build, so a new file there needs no edit of CMakeLists.txt.
# SOURCES: more files. When the compiler is the one DLNest precompiled its header of libtorch
# and the SDK with (DLNestToolchain.cmake), every source is compiled against that header.
function(dlnest_add_project name)
  cmake_parse_arguments(P "" "" "SOURCE_DIRS;SOURCES;LIBS" ${ARGN})
  set(sources ${P_SOURCES})
  foreach(dir ${P_SOURCE_DIRS})
    file(GLOB found CONFIGURE_DEPENDS
      "${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*.cpp" "${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*.cc")
    list(APPEND sources ${found})
  endforeach()
  list(REMOVE_DUPLICATES sources)
  if(NOT sources)
    message(FATAL_ERROR "dlnest_add_project(${name}): no sources in SOURCES or SOURCE_DIRS")
  endif()
  add_library(${name} MODULE ${sources} "${CMAKE_CURRENT_BINARY_DIR}/dlnest_plugin_abi.cpp")
  _dlnest_write_abi_source("${CMAKE_CURRENT_BINARY_DIR}/dlnest_plugin_abi.cpp")
  target_link_libraries(${name} PRIVATE DLNest::dlnest_sdk ${P_LIBS})
  target_compile_features(${name} PRIVATE cxx_std_17)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME dlnest_plugin
    CXX_EXTENSIONS OFF
    LIBRARY_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}")
  _dlnest_use_precompiled_header("${sources}")
endfunction()

# The source that stamps the plugin with the SDK and libtorch versions; rewritten only when its
# text changes, so it is not compiled again at every configure.
function(_dlnest_write_abi_source file)
  set(text "#include <torch/version.h>\n#include \"dlnest/plugin.h\"\nDLNEST_DEFINE_PLUGIN_ABI()\n")
  if(EXISTS "${file}")
    file(READ "${file}" existing)
  endif()
  if(NOT existing STREQUAL text)
    file(WRITE "${file}" "${text}")
  endif()
endfunction()

# Includes DLNest's precompiled header first in each of `sources` when this project's compiler
# made it; with another compiler the sources compile as they are. (The ABI source is left out: it
# needs no libtorch and compiles in a moment without the header.)
function(_dlnest_use_precompiled_header sources)
  set(header "${DLNEST_TOOLCHAIN_DIR}/dlnest_script.h")
  get_filename_component(ours "${CMAKE_CXX_COMPILER}" REALPATH)
  get_filename_component(theirs "${DLNEST_PCH_COMPILER}" REALPATH)
  if(EXISTS "${header}" AND ours STREQUAL theirs)
    set_property(SOURCE ${sources} APPEND PROPERTY COMPILE_OPTIONS -include "${header}")
  endif()
endfunction()
