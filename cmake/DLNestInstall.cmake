# `cmake --install <build> --prefix P` (and the Debian package, through CPack): the layout of the
# build tree under P. Installed binaries find the rest relative to themselves
# (src/project/project_builder.h); no path of the build tree is compiled into them.
install(TARGETS dlnest dlnest-worker RUNTIME DESTINATION bin)
install(TARGETS dlnest_sdk EXPORT DLNestTargets LIBRARY DESTINATION lib)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/dlnest DESTINATION include
  FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/dlnest/version.h DESTINATION include/dlnest)

install(EXPORT DLNestTargets NAMESPACE DLNest:: DESTINATION ${DLNEST_CMAKE_SUBDIR})
install(FILES
  ${dlnest_package_dir}/DLNestConfig.cmake
  ${dlnest_package_dir}/DLNestConfigVersion.cmake
  ${dlnest_package_dir}/DLNestProject.cmake
  ${dlnest_package_dir}/DLNestToolchain.cmake
  DESTINATION ${DLNEST_CMAKE_SUBDIR})

install(DIRECTORY ${PROJECT_SOURCE_DIR}/templates/ DESTINATION ${DLNEST_SHARE_SUBDIR}/templates)

# The toolchain of projects and analysis scripts: its flags name the installed headers, and its
# header is precompiled where it is installed (for a staged install, DESTDIR, by whoever installs
# the files at their final place: the Debian package's postinst).
install(FILES
  ${DLNEST_TOOLCHAIN_DIR}/dlnest_script.h
  ${DLNEST_TOOLCHAIN_DIR}/build_script_pch.cmake
  DESTINATION ${DLNEST_SHARE_SUBDIR}/toolchain)
install(CODE "
  set(DLNEST_BUILD_FLAGS \"${DLNEST_TOOLCHAIN_DIR}/script_flags.txt\")
  set(DLNEST_BUILD_INCLUDES \"${PROJECT_SOURCE_DIR}/include;${PROJECT_BINARY_DIR}/include\")
  set(DLNEST_TOOLCHAIN_SUBDIR \"${DLNEST_SHARE_SUBDIR}/toolchain\")
  include(\"${PROJECT_SOURCE_DIR}/cmake/install_toolchain.cmake\")")

install(FILES ${PROJECT_SOURCE_DIR}/packaging/dlnest.bash-completion
  DESTINATION share/bash-completion/completions RENAME dlnest)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/packaging/man/ DESTINATION share/man/man1
  FILES_MATCHING PATTERN "*.1")
