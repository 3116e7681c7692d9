#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: the release build
# (warnings are errors) with all unit and integration tests, then the
# clang ASan+UBSan build (which also checks -Wthread-safety) with the same
# tests, then every fuzz target for a bounded time (scripts/fuzz.sh,
# FUZZ_SECONDS each). This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh --with-clang

JOBS="${JOBS:-2}"

echo "== release build"
cmake --preset release -DHALFMQ_WERROR=ON
cmake --build --preset release -j "$JOBS"
echo "== release tests"
ctest --test-dir build --output-on-failure -j "$JOBS"

if [[ "${HALFMQ_SKIP_ASAN:-0}" != "1" ]]; then
  echo "== asan build (clang, ASan + UBSan, -Wthread-safety)"
  cmake --preset asan -DHALFMQ_WERROR=ON
  cmake --build --preset asan -j "$JOBS"
  echo "== asan tests"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$JOBS"
fi
if [[ "${HALFMQ_SKIP_FUZZ:-0}" != "1" ]]; then
  ./scripts/fuzz.sh
fi
echo "== all tests passed"
