#!/usr/bin/env bash
# Installs what is missing, builds, starts halfmq-broker on 127.0.0.1:7480
# with its data in ./data, and shows the main job: a producer sends, a
# consumer group receives and acknowledges, and the group's lag drops to 0;
# then the transactional pattern with a real SQLite database: an event is
# published if and only if the payment row commits, including when the
# process dies between its database commit and telling the broker (a check
# from the broker, answered by another process, settles it).
# The broker keeps running afterwards; the script prints how to stop it.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target halfmq-broker halfmq halfmq-example-payment

BIN=build/bin
ADDR="${HALFMQ_BROKER:-127.0.0.1:7480}"
export HALFMQ_BROKER="$ADDR"

if "$BIN/halfmq" topic list >/dev/null 2>&1; then
  echo "quickstart: a broker already answers on $ADDR; stop it first (or set HALFMQ_BROKER)" >&2
  exit 1
fi

# The broker writes its address to --ready_fd once it listens: wait on that
# instead of sleeping.
mkdir -p data
READY="$(mktemp -u)"
mkfifo "$READY"
"$BIN/halfmq-broker" --listen="$ADDR" --data_dir=./data --ready_fd=3 \
  3>"$READY" </dev/null >>broker.log 2>&1 &
PID=$!
if ! read -r -t 60 LISTENING <"$READY"; then
  rm -f "$READY"
  echo "quickstart: broker did not start; see broker.log" >&2
  exit 1
fi
rm -f "$READY"
echo "== halfmq-broker (pid $PID) listening on $LISTENING, data in ./data, log in ./broker.log"

run() {
  echo "\$ halfmq $*"
  "$BIN/halfmq" "$@"
}

echo
echo "== create a topic with 4 queues"
run topic create order-paid --queues 4 || echo "(it already exists from an earlier run)"
run topic list

echo
echo "== send three events (one per line), each acknowledged only once durable"
printf 'order-1 paid 42.00 EUR\norder-2 paid 13.50 EUR\norder-3 paid 99.90 EUR\n' |
  run send order-paid --lines --json

echo
echo "== consumer group 'billing' receives and acknowledges them"
run consume order-paid --group billing --max 3 --wait-ms 2000 --json

echo
echo "== lag of 'billing': nothing left to deliver, nothing in flight"
run group lag billing --json

echo
echo "== transactions: an event is published iff the local database transaction commits"
# A group that starts now, so it shows only the payment events below.
run group create "audit-$$" --topic order-paid --from latest
DB=./data/demo-payments.db
ORDER="o-$(date +%s)"
pay() {
  echo "\$ halfmq-example-payment $*"
  "$BIN/halfmq-example-payment" --db "$DB" "$@"
}
echo
echo "-- a payment that commits: the event becomes visible"
pay --order "$ORDER-1" --amount 42.00
echo
echo "-- the same order again: the INSERT fails, the event is rolled back"
pay --order "$ORDER-1" --amount 42.00 || echo "(exit $?: payment refused, nothing published)"
echo
echo "-- a process that dies after its database commit, before telling the broker"
pay --order "$ORDER-2" --amount 13.50 --crash-after-db-commit || echo "(exit $?: simulated crash)"
run txn list --state pending
echo
echo "-- another process of the same producer group answers the broker's check"
pay --serve-checks-ms 6000
echo
echo "-- consumers see exactly the committed payments: $ORDER-1 and $ORDER-2"
run consume order-paid --group "audit-$$" --max 10 --wait-ms 2000

echo
echo "The broker is still running. Stop it with:  kill $PID"
