#!/usr/bin/env bash
# Installs every Debian package DLNest needs to build, test and train.
# Idempotent: packages already present are skipped, and `apt-get update` runs at most once.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git clang
  googletest libgtest-dev libgmock-dev
  nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libsqlite3-dev zlib1g-dev libedit-dev
  libssl-dev openssl
  libtorch-dev libgloo-dev libopenblas0-pthread
  python3-torch
  dataset-fashion-mnist
  debootstrap
  chromium chromium-driver python3-selenium
  python3-aiosmtpd
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
