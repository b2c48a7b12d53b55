# Precompiles the analysis scripts' header with exactly the flags scripts are compiled with.
#   cmake -DFLAGS=<script_flags.txt> -DHEADER=<dlnest_script.h> -P build_script_pch.cmake
file(STRINGS "${FLAGS}" lines)
list(POP_FRONT lines compiler)
execute_process(
  COMMAND ${compiler} ${lines} -x c++-header "${HEADER}" -o "${HEADER}.gch.tmp"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "precompiling ${HEADER} failed")
endif()
file(RENAME "${HEADER}.gch.tmp" "${HEADER}.gch")
