#!/usr/bin/env bash
# Checks the module boundaries the READMEs state (run by ctest as
# `layering`): the storage format lives in storage/ alone, so broker/,
# client/ and benchmarks/ name no keyspace or key encoding and include
# neither storage/keys.h nor storage/raw_keyspace_access.h; storage/ never
# includes broker/ or client/; client/ never includes broker/ or storage/;
# cluster/ includes only common/; common/ includes only common/. Prints
# each violation; exit status 1 if any.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
report() {  # report DESCRIPTION grep-args...
  local what=$1
  shift
  local hits
  hits=$(grep -rnE --include='*.cc' --include='*.h' "$@" || true)
  if [[ -n $hits ]]; then
    echo "$what:"
    echo "$hits" | sed 's/^/  /'
    bad=1
  fi
}
report "storage internals named outside storage/" \
  '#include "storage/(keys|raw_keyspace_access)\.h"|\bKeyspace\b|\bkeys::' broker client benchmarks
report "storage/ includes broker/ or client/" '#include "(broker|client)/' storage
report "client/ includes broker/ or storage/" '#include "(broker|storage)/' client
report "cluster/ includes broker/, client/, storage/ or proto/" \
  '#include "(broker|client|storage|proto)/' cluster
report "common/ includes another module" '#include "(broker|client|storage|proto|cluster)/' common
exit $bad
