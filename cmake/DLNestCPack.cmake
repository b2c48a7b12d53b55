# The Debian package (docs/install.md): `cpack --config build/CPackConfig.cmake -G DEB` makes
# dlnest_<version>_<arch>.deb, installable with `apt install ./dlnest_*.deb` on Debian 12. It holds
# what `cmake --install` installs below /usr; its postinst precompiles the header of projects and
# analysis scripts where it now lies.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dlnest)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "DLNest maintainers <dlnest@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "deep-learning training and experiment framework on libtorch")
set(CPACK_PACKAGE_DESCRIPTION
  "Queues training runs on shared GPU machines, keeps a reproducible save package for every run, continues any run from any checkpoint and loads finished runs into an analyzer.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
# Installs into a staging folder with DESTDIR, so that install_toolchain.cmake writes /usr paths.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
find_program(DLNEST_DPKG dpkg)
if(DLNEST_DPKG)
  execute_process(COMMAND ${DLNEST_DPKG} --print-architecture
    OUTPUT_VARIABLE CPACK_DEBIAN_PACKAGE_ARCHITECTURE OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
# The binaries' own libraries, then what building and training a project needs: CMake, Ninja, the
# compiler of the precompiled header, and the headers the SDK and the templates include.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "libc6, libstdc++6, libgcc-s1, libsqlite3-0, libedit2, libssl3, libcpp-httplib0.11, zlib1g, libtorch1.13, libtorch-dev, libgloo-dev, libopenblas0-pthread, nlohmann-json3-dev, zlib1g-dev, cmake, ninja-build, clang")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "dataset-fashion-mnist, ccache, bash-completion")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/prerm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
