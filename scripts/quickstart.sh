#!/usr/bin/env bash
# Installs what is missing, builds, starts halfmq-broker on 127.0.0.1:7480
# with its data in ./data, and shows the main job: a producer sends, a
# consumer group receives and acknowledges, and the group's lag drops to 0;
# then the transactional pattern with a real SQLite database: an event is
# published if and only if the payment row commits, including when the
# process dies between its database commit and telling the broker (a check
# from the broker, answered by another process, settles it).
# The broker keeps running afterwards (its PID in ./quickstart.pid);
# `scripts/quickstart.sh --stop` stops it. If the script fails after starting
# the broker, it stops that broker itself.
set -euo pipefail
cd "$(dirname "$0")/.."

PID_FILE=quickstart.pid

# Stops the broker a previous run left running: only the PID in the PID file,
# and only if that process is still a halfmq-broker (PIDs get reused).
stop_broker() {
  if [[ ! -f "$PID_FILE" ]]; then
    echo "quickstart: no $PID_FILE, no broker of ours to stop"
    return 0
  fi
  local pid
  pid="$(cat "$PID_FILE")"
  if [[ ! "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null ||
     ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q halfmq-broker; then
    echo "quickstart: the broker of $PID_FILE ($pid) is not running"
    rm -f "$PID_FILE"
    return 0
  fi
  # SIGTERM is a graceful shutdown (docs/operations.md); wait for the exit,
  # at most 60 s.
  kill -TERM "$pid"
  timeout 60 tail --pid="$pid" -f /dev/null || true
  if kill -0 "$pid" 2>/dev/null; then
    echo "quickstart: broker $pid still running 60 s after SIGTERM" >&2
    return 1
  fi
  rm -f "$PID_FILE"
  echo "quickstart: stopped halfmq-broker (pid $pid)"
}

case "${1:-}" in
  --stop) stop_broker; exit $? ;;
  "") ;;
  *) echo "usage: scripts/quickstart.sh [--stop]" >&2; exit 2 ;;
esac

./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target halfmq-broker halfmq halfmq-example-payment

BIN=build/bin
ADDR="${HALFMQ_BROKER:-127.0.0.1:7480}"
export HALFMQ_BROKER="$ADDR"

if "$BIN/halfmq" topic list >/dev/null 2>&1; then
  echo "quickstart: a broker already answers on $ADDR; stop it first" \
       "(scripts/quickstart.sh --stop if quickstart started it, or set HALFMQ_BROKER)" >&2
  exit 1
fi

# The SQLite demo database and the readiness pipe live in a temporary
# directory of this run, not in the broker's data directory.
WORK="$(mktemp -d -t halfmq-quickstart.XXXXXX)"
PID=""
# On any failure after the broker started, stop that broker (by its PID) so
# the next run is not blocked; on success it keeps running.
on_exit() {
  local status=$?
  if [[ $status -ne 0 && -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
    echo "quickstart: failed (exit $status); stopping the broker it started (pid $PID)" >&2
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    rm -f "$PID_FILE"
  fi
  rm -rf "$WORK"
  return $status
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The broker writes its address to --ready_fd once it listens: wait on that
# instead of sleeping.
mkdir -p data
READY="$WORK/ready"
mkfifo "$READY"
"$BIN/halfmq-broker" --listen="$ADDR" --data_dir=./data --ready_fd=3 \
  3>"$READY" </dev/null >>broker.log 2>&1 &
PID=$!
echo "$PID" >"$PID_FILE"
if ! read -r -t 60 LISTENING <"$READY"; then
  echo "quickstart: broker did not start; see broker.log" >&2
  exit 1
fi
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
# One fixed demo group, subscribed from the latest message on the first run
# (later runs reuse it): drain what earlier steps or runs left in it, so it
# shows only the payment events below.
AUDIT=quickstart-audit
run group create "$AUDIT" --topic order-paid --from latest ||
  echo "(it already exists from an earlier run)"
for _ in $(seq 100); do
  drained="$("$BIN/halfmq" consume order-paid --group "$AUDIT" --max 100 --wait-ms 0)"
  [[ -z "$drained" ]] && break
done
DB="$WORK/demo-payments.db"
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
run consume order-paid --group "$AUDIT" --max 10 --wait-ms 2000

echo
echo "The broker is still running (pid $PID). Stop it with:  scripts/quickstart.sh --stop"
