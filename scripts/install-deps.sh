#!/usr/bin/env bash
# Installs the Debian 12 packages HalfMQ needs to build and test, skipping
# those already present. Runs apt-get directly as root, through sudo otherwise.
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build pkg-config
  librocksdb-dev libboost-dev libboost-system-dev
  libprotobuf-dev protobuf-compiler
  libgflags-dev libgoogle-glog-dev
  libgtest-dev libbenchmark-dev
  libsqlite3-dev libjemalloc-dev
  # etcd 3.4 for the cluster module's tests (cluster_test starts its own on
  # free loopback ports) and etcdctl for operators. Where systemd runs, the
  # package also starts a system etcd on 2379/2380; harmless, since tests
  # never use those ports.
  etcd-server etcd-client
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

# As root (the Debian 12 container image, which has no sudo) apt-get runs
# directly; otherwise through sudo, which must then exist.
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: not root and no sudo; run as root or install: ${missing[*]}" >&2
    exit 1
  fi
  SUDO=(sudo)
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_install() {
  "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}
# A fresh image has no package lists: update first. With lists present, try
# the install as is and update only if it fails (stale lists).
if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
  "${SUDO[@]}" apt-get update
  apt_install
elif ! apt_install; then
  "${SUDO[@]}" apt-get update
  apt_install
fi
