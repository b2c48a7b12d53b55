#!/usr/bin/env bash
# Installs the dependencies (once) and builds into build/ (incremental): the targets named as
# arguments, or everything (every test and benchmark) without arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${DLNEST_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
ninja -C build "$@"
