# Run by `cmake --install` (DLNestInstall.cmake): writes the installed toolchain's script_flags.txt,
# whose include folders are the installed ones instead of the build tree's, and precompiles its
# header unless the install is staged (DESTDIR), where the header's paths are not yet final.
#   DLNEST_BUILD_FLAGS       the build tree's script_flags.txt
#   DLNEST_BUILD_INCLUDES    the build tree's include folders of the SDK
#   DLNEST_TOOLCHAIN_SUBDIR  the toolchain folder, relative to the prefix
cmake_policy(VERSION 3.16)
set(toolchain "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/${DLNEST_TOOLCHAIN_SUBDIR}")
file(STRINGS "${DLNEST_BUILD_FLAGS}" lines)
set(flags "")
set(include_written FALSE)
foreach(line IN LISTS lines)
  string(REGEX REPLACE "^-I" "" dir "${line}")
  if(NOT dir STREQUAL line AND dir IN_LIST DLNEST_BUILD_INCLUDES)
    if(include_written)
      continue()
    endif()
    set(line "-I${CMAKE_INSTALL_PREFIX}/include")
    set(include_written TRUE)
    # The compiler searches /usr/include itself; naming it breaks libstdc++'s #include_next.
    if(line STREQUAL "-I/usr/include")
      continue()
    endif()
  endif()
  string(APPEND flags "${line}\n")
endforeach()
message(STATUS "Installing: ${toolchain}/script_flags.txt")
file(WRITE "${toolchain}/script_flags.txt" "${flags}")
if("$ENV{DESTDIR}" STREQUAL "")
  message(STATUS "Precompiling ${toolchain}/dlnest_script.h")
  execute_process(
    COMMAND "${CMAKE_COMMAND}" -DTOOLCHAIN_DIR=${toolchain} -P "${toolchain}/build_script_pch.cmake"
    RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "precompiling the header of projects in ${toolchain} failed")
  endif()
endif()
