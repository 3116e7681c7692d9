#!/usr/bin/env bash
# Installs the Debian 12 packages HalfMQ needs to build and test, skipping
# those already present. Runs apt-get as root, or through sudo otherwise.
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build pkg-config
  librocksdb-dev libboost-dev libboost-system-dev
  libprotobuf-dev protobuf-compiler
  libgflags-dev libgoogle-glog-dev
  libgtest-dev libbenchmark-dev
  libsqlite3-dev libjemalloc-dev
)
# The sanitizer and fuzz builds use clang (for -Wthread-safety as well) and its
# runtimes (ASan, UBSan, libFuzzer: libclang-rt-14-dev).
if [[ "${1:-}" == "--with-clang" ]]; then
  PACKAGES+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  SUDO="sudo"
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
