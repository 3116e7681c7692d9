#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: the release build
# (warnings are errors) with all unit and integration tests, the storage and
# crash tests again on RocksDB's own components (HALFMQ_TEST_BROKER_FLAGS),
# the storage tests of a build without our RocksDB internals, then the
# clang ASan+UBSan build (which also checks -Wthread-safety) with the same
# tests, then every fuzz target for a bounded time (scripts/fuzz.sh,
# FUZZ_SECONDS each). This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh --with-clang

JOBS="${JOBS:-2}"
FALLBACK_TESTS="storage_test|storage_components_test|crash_test|crash_load_test|disk_full_test"
FALLBACK_TESTS+="|format_migration_test|txn_protocol_test|txn_test|consume_test|delay_test"
FALLBACK_TESTS+="|retention_test|dedup_query_test|trace_filter_test|fifo_test|retry_test"
FALLBACK_TESTS+="|protocol_test"

echo "== release build"
cmake --preset release -DHALFMQ_WERROR=ON
cmake --build --preset release -j "$JOBS"
echo "== release tests"
ctest --test-dir build --output-on-failure -j "$JOBS"
# Our memtable and the WAL zero fill rely on RocksDB internals checked for one
# release (storage/README.md, "RocksDB internals we depend on"); on another the
# broker runs on RocksDB's own components. Run the storage tests and the
# integration tests that kill or restart a broker on its data again on those
# (~35 s), and build and run the storage tests where the internals are
# compiled out, as on another release (~1.5 min, mostly the build).
echo "== storage and crash tests on RocksDB's own components"
HALFMQ_TEST_BROKER_FLAGS="--storage_memtable=rocksdb --storage_wal_zero_fill=false" \
  ctest --test-dir build --output-on-failure -j "$JOBS" -R "^(${FALLBACK_TESTS})\$"
echo "== storage built without our RocksDB internals"
cmake -S . -B build-nointernals -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHALFMQ_WERROR=ON \
  -DHALFMQ_ROCKSDB_INTERNALS=OFF
cmake --build build-nointernals -j "$JOBS" --target storage_test
ctest --test-dir build-nointernals --output-on-failure -R '^storage_test$'

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
