#!/usr/bin/env bash
# Lists source files over 600 lines and functions over 80 lines (issue 13's
# size bounds). Needs a configured build with compile_commands.json:
#   cmake --preset release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
# Usage: scripts/check-size.sh [build-dir] [paths...]   (default: build, the
# C++ modules). Exit status 1 when something is over a bound.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
paths=("$@")
[[ ${#paths[@]} -gt 0 ]] || paths=(common proto storage broker client cluster benchmarks tests fuzz)
over=0
while IFS= read -r f; do
  n=$(wc -l < "$f")
  if (( n > 600 )); then echo "$f: $n lines (bound 600)"; over=1; fi
done < <(find "${paths[@]}" -name '*.cc' -o -name '*.h' | sort)
if [[ ! -f $build/compile_commands.json ]]; then
  echo "no $build/compile_commands.json: function sizes not checked" >&2
  exit 2
fi
config='{CheckOptions: [{key: readability-function-size.LineThreshold, value: 80}]}'
while IFS= read -r f; do
  clang-tidy -p "$build" --quiet --checks='-*,readability-function-size' --config="$config" \
    "$f" 2>/dev/null | sed -n "s|^$PWD/||; s|^\([^:]*:[0-9]*\):[0-9]*: note: \([0-9]*\) lines.*|\1: function of \2 lines (bound 80)|p" || true
done < <(find "${paths[@]}" -name '*.cc' | sort) | sort -u | tee /tmp/halfmq-check-size.$$
[[ -s /tmp/halfmq-check-size.$$ ]] && over=1
rm -f /tmp/halfmq-check-size.$$
exit $over
