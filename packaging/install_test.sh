#!/usr/bin/env bash
# `cmake --install BUILD --prefix P` into a fresh prefix, then the first steps of a user
# (scenario.sh) with the binaries there: their project must build against the installed CMake
# package and toolchain, and no installed text file may name the build tree.
#   install_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

echo "== install into $prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log" || {
  cat "$work/install.log"
  exit 1
}
for f in bin/dlnest bin/dlnest-worker lib/libdlnest_sdk.so include/dlnest/runner.h \
  include/dlnest/version.h lib/cmake/DLNest/DLNestConfig.cmake \
  lib/cmake/DLNest/DLNestConfigVersion.cmake share/dlnest/templates/mnist/root_config.json \
  share/dlnest/toolchain/script_flags.txt share/bash-completion/completions/dlnest \
  share/man/man1/dlnest.1; do
  test -e "$prefix/$f" || { echo "install_test: $f was not installed"; exit 1; }
done
ls "$prefix"/share/dlnest/toolchain/dlnest_script.h.?ch > /dev/null
if grep -rlIF "$build" "$prefix"; then
  echo "install_test: the files above name the build tree $build"
  exit 1
fi

echo "== find_package(DLNest 0.1) and not 0.2"
for version in 0.1 0.2; do
  mkdir -p "$work/v$version"
  printf 'cmake_minimum_required(VERSION 3.16)\nproject(v CXX)\nfind_package(DLNest %s REQUIRED)\n' \
    "$version" > "$work/v$version/CMakeLists.txt"
  if cmake -S "$work/v$version" -B "$work/v$version/b" -DCMAKE_PREFIX_PATH="$prefix" \
    > "$work/v$version.log" 2>&1; then found=yes; else found=no; fi
  expected=$([ "$version" = 0.1 ] && echo yes || echo no)
  [ "$found" = "$expected" ] || {
    cat "$work/v$version.log"
    echo "install_test: find_package(DLNest $version) found=$found"
    exit 1
  }
done

echo "== the scenario with $prefix/bin/dlnest"
env -u DLNEST_CMAKE_DIR -u DLNEST_TEMPLATE_DIR -u DLNEST_TOOLCHAIN_DIR \
  "$here/scenario.sh" "$prefix/bin/dlnest" "$work"
grep -q "^DLNest_DIR:[A-Z]*=$prefix/lib/cmake/DLNest$" "$work/fmnist/.dlnest/build/CMakeCache.txt" || {
  grep DLNest_DIR "$work/fmnist/.dlnest/build/CMakeCache.txt"
  echo "install_test: the project was not built against the installed DLNest"
  exit 1
}
echo "install_test: ok"
