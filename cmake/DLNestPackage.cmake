# The CMake package of DLNest, for find_package(DLNest 0.1): DLNest::dlnest_sdk,
# dlnest_add_project() and the toolchain DLNest builds user projects with. Written into the build
# tree's lib/cmake/DLNest/ (installed from there by DLNestInstall.cmake); DLNest_DIR=<build folder>
# keeps working through a DLNestConfig.cmake there that includes the real one.
include(CMakePackageConfigHelpers)
set(dlnest_package_dir ${PROJECT_BINARY_DIR}/${DLNEST_CMAKE_SUBDIR})
export(TARGETS dlnest_sdk NAMESPACE DLNest:: FILE ${dlnest_package_dir}/DLNestTargets.cmake)
configure_file(cmake/DLNestConfig.cmake.in ${dlnest_package_dir}/DLNestConfig.cmake @ONLY)
configure_file(cmake/DLNestProject.cmake ${dlnest_package_dir}/DLNestProject.cmake COPYONLY)
configure_file(cmake/DLNestToolchain.cmake.in ${dlnest_package_dir}/DLNestToolchain.cmake @ONLY)
foreach(dir ${dlnest_package_dir} ${PROJECT_BINARY_DIR})
  write_basic_package_version_file(${dir}/DLNestConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
endforeach()
file(WRITE ${PROJECT_BINARY_DIR}/DLNestConfig.cmake
  "include(\"\${CMAKE_CURRENT_LIST_DIR}/${DLNEST_CMAKE_SUBDIR}/DLNestConfig.cmake\")\n")
# Left by builds from before the package moved to lib/cmake/DLNest.
file(REMOVE ${PROJECT_BINARY_DIR}/DLNestTargets.cmake ${PROJECT_BINARY_DIR}/DLNestProject.cmake)
