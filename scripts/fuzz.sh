#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan + UBSan) and
# runs each for FUZZ_SECONDS (default 45) from its seed corpus in
# fuzz/corpus/<target> (copied: the run's discoveries stay out of the
# repository). Fails if any target crashes, leaks, times out on an input or
# trips a sanitizer, and prints the crashing input in base64 so it can be
# added to the corpus as a regression seed. Prints each target's executions.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH="${FUZZ_SECONDS:-45}"
JOBS="${JOBS:-2}"
TARGETS=(frame_reader_fuzzer frame_decoder_fuzzer broker_request_fuzzer client_response_fuzzer
         etcd_answer_fuzzer)

echo "== fuzz build (clang, libFuzzer, ASan + UBSan)"
cmake --preset fuzz -DHALFMQ_WERROR=ON
cmake --build --preset fuzz -j "$JOBS" --target "${TARGETS[@]}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
summary=()
for t in "${TARGETS[@]}"; do
  echo "== $t for ${SECONDS_EACH}s"
  mkdir -p "$work/corpus-$t" "$work/artifacts"
  cp -r "fuzz/corpus/$t/." "$work/corpus-$t/"
  log="$work/$t.log"
  # -timeout: one input may take at most 25 s (the broker target waits up
  # to 20 s for its answers); -rss_limit_mb bounds memory.
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "build-fuzz/bin/$t" -max_total_time="$SECONDS_EACH" -timeout=25 -rss_limit_mb=4096 \
       -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" "$work/corpus-$t" \
       >"$log" 2>&1; then
    runs="$(grep -a 'stat::number_of_executed_units' "$log" | awk '{print $2}')"
    summary+=("$t: ${runs:-?} executions in ${SECONDS_EACH}s, no crash")
  else
    failed=1
    summary+=("$t: FAILED")
    tail -n 60 "$log"
    for a in "$work/artifacts/$t-"*; do
      [[ -f "$a" ]] && echo "input $a (base64): $(base64 -w0 "$a")"
    done
  fi
done
echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
