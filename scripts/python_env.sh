#!/usr/bin/env bash
# Makes the Python environment the tests read DLNest's files back with: TensorBoard (for the
# event files). Idempotent and non-interactive; the package index must be reachable the first
# time. Usage: scripts/python_env.sh [BUILD_DIR]   (default: build; the environment is
# BUILD_DIR/pyenv)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build}
VENV=$BUILD/pyenv
# Pinned, so that a test reads with the same reader everywhere.
PACKAGES=(tensorboard==2.21.0)

if [ -x "$VENV/bin/python3" ] && "$VENV/bin/python3" -c 'import tensorboard' 2>/dev/null; then
  echo "python_env: $VENV is ready"
  exit 0
fi
mkdir -p "$BUILD"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check --no-cache-dir "${PACKAGES[@]}"
echo "python_env: made $VENV (${PACKAGES[*]})"
