#!/usr/bin/env bash
# Builds everything and runs every test; exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
scripts/python_env.sh build  # TensorBoard, to read the event files back
# The torch-dependent part again against the PyTorch 2.x wheel with CUDA (docs/devices.md,
# "Building against PyTorch 2.x"); the whole suite twice would not fit CI's time.
TARGETS="dlnest dlnest-worker dlnest-export data_loader_test export_test checkpoint_compat_test
  train_e2e_test" scripts/build_torch2.sh
# Its environment has torch and safetensors: export_test's round trip into torch.nn runs in both.
export DLNEST_TEST_PYTHON=$PWD/build-torch2/venv/bin/python
ctest --test-dir build --output-on-failure -j "$(nproc)"
ctest --test-dir build-torch2 --output-on-failure -j "$(nproc)" \
  -R '^(data_loader|export|checkpoint_compat|train_e2e)_test$'
