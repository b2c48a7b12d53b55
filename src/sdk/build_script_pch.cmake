# Precompiles dlnest_script.h, the header of projects and analysis scripts, with exactly the flags
# in script_flags.txt; run by the build, by `cmake --install` and by the Debian package's postinst.
#   cmake -DTOOLCHAIN_DIR=<folder with script_flags.txt and dlnest_script.h> -P build_script_pch.cmake
# clang++ makes dlnest_script.h.pch holding libtorch's template instances too; any other compiler
# makes dlnest_script.h.gch. Both compilers find theirs through `-include dlnest_script.h`.
set(header "${TOOLCHAIN_DIR}/dlnest_script.h")
file(STRINGS "${TOOLCHAIN_DIR}/script_flags.txt" lines)
list(POP_FRONT lines compiler)
get_filename_component(compiler_name "${compiler}" NAME)
if(compiler_name MATCHES "clang")
  set(output "${header}.pch")
  list(APPEND lines -fpch-instantiate-templates -Xclang -fno-pch-timestamp)
  file(REMOVE "${header}.gch")
else()
  set(output "${header}.gch")
  file(REMOVE "${header}.pch")
endif()
execute_process(
  COMMAND ${compiler} ${lines} -x c++-header "${header}" -o "${output}.tmp"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  file(REMOVE "${output}.tmp")
  message(FATAL_ERROR "precompiling ${header} with ${compiler} failed")
endif()
file(RENAME "${output}.tmp" "${output}")
