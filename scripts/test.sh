#!/usr/bin/env bash
# Builds everything and runs every test; exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
scripts/python_env.sh build  # TensorBoard, to read the event files back
ctest --test-dir build --output-on-failure -j "$(nproc)"
