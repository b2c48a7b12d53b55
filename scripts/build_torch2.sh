#!/usr/bin/env bash
# Builds DLNest against the libtorch of the PyTorch 2.x wheel, with CUDA (docs/devices.md,
# "Building against PyTorch 2.x"). The wheel goes into a virtual environment inside the build
# folder; the CUDA toolkit compiles and links the CUDA paths (nothing CUDA runs without a GPU).
# Idempotent and non-interactive: a second run only builds what changed.
#
# Settings (environment):
#   TORCH_VERSION=2.11.0   the wheel's version (2.11.0 is a CUDA 13.0 build, like nvcc 13.0)
#   BUILD=build-torch2     the build folder; the environment is $BUILD/venv
#   TORCH_PYTHON=          build against this Python's torch instead (no environment is made;
#                          scripts/gpu_check.sh uses the GPU machine's python3)
#   CUDA_HOME=/usr/local/cuda
#   CMAKE_ARGS=            more CMake arguments, split at spaces
#   INCLUDE_DIRS=          more include folders for every file, separated by ';'
#   NINJA=ninja            e.g. "flock /tmp/dlnest-build.lock ninja" on a shared machine
#   TARGETS=               ninja targets (empty: everything)
#   SKIP_DEPS=0            1: do not run scripts/install_deps.sh (Debian packages)
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=${TORCH_VERSION:-2.11.0}
BUILD=${BUILD:-build-torch2}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
NINJA=${NINJA:-ninja}
VENV=$BUILD/venv
# safetensors and numpy: export_test's round trip into torch.nn, and torch's NumPy bridge.
PYTHON_PACKAGES=("torch==$TORCH_VERSION" safetensors numpy)

[[ ${SKIP_DEPS:-0} == 1 ]] || scripts/install_deps.sh
[[ -x $CUDA_HOME/bin/nvcc ]] || { echo "build_torch2: no nvcc in $CUDA_HOME/bin"; exit 1; }

# has_torch PYTHON: true when PYTHON's torch is a CUDA build (of TORCH_VERSION, for the venv).
has_torch() {
  "$1" - "${2:-}" <<'EOF' 2>/dev/null
import sys, torch, safetensors, numpy
want = sys.argv[1]
sys.exit(int(not torch.version.cuda or bool(want and torch.__version__.split("+")[0] != want)))
EOF
}

install_torch() {
  echo "build_torch2: installing ${PYTHON_PACKAGES[*]} into $VENV"
  local start=$SECONDS
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --no-cache-dir "${PYTHON_PACKAGES[@]}"
  echo "build_torch2: installed in $((SECONDS - start)) s ($(du -sh "$VENV" | cut -f1))"
}

if [[ -n ${TORCH_PYTHON:-} ]]; then
  python=$TORCH_PYTHON
  has_torch "$python" || { echo "build_torch2: $python has no CUDA build of torch"; exit 1; }
else
  python=$PWD/$VENV/bin/python
  has_torch "$python" "$TORCH_VERSION" || install_torch
  has_torch "$python" "$TORCH_VERSION" ||
    { echo "build_torch2: $VENV has no CUDA build of torch $TORCH_VERSION"; exit 1; }
fi

# The torch package folder as the prefix (not torch.utils.cmake_prefix_path, its share/cmake): so
# TorchConfig's find_library() looks in its lib/ before the system's, where Debian's libtorch-dev
# has another libtorch.so and libc10.so (two c10 runtimes in one process corrupt the heap).
prefix=$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
# The wheel's libtorch defines USE_C10D_NCCL but names no folder with nccl.h: the toolkit's,
# else the NCCL wheel's (the same NCCL that libtorch loads).
includes=$CUDA_HOME/include${INCLUDE_DIRS:+;$INCLUDE_DIRS}
if [[ ! -f $CUDA_HOME/include/nccl.h ]]; then
  nccl=$("$python" -c 'import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null || true)
  [[ -f $nccl/include/nccl.h ]] && includes="$includes;$nccl/include"
fi
# shellcheck disable=SC2086 # CMAKE_ARGS is a word list
# -U: found again each time, so a build folder configured before keeps no system libtorch.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE="${DLNEST_BUILD_TYPE:-RelWithDebInfo}" \
  -UTORCH_LIBRARY -U'*c10*_LIBRARY' -Ukineto_LIBRARY -UCAFFE2_NVRTC_LIBRARY \
  -DCMAKE_PREFIX_PATH="$prefix" -DCUDAToolkit_ROOT="$CUDA_HOME" \
  -DCMAKE_CUDA_COMPILER="$CUDA_HOME/bin/nvcc" -DTORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}" \
  -DCMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES="$includes" -DDLNEST_TEST_PYTHON="$python" \
  ${CMAKE_ARGS:-} >/dev/null
# shellcheck disable=SC2086 # NINJA and TARGETS are word lists
$NINJA -C "$BUILD" ${TARGETS:-}
