#!/usr/bin/env bash
# Runs halfmq-bench's main cases beside Redis 7 (AOF with appendfsync always,
# XADD of 1 KiB) in the same run and prints each HalfMQ case as a ratio to the
# Redis figure, with the goal of issue 13. Absolute numbers on a VM move with
# its disk from day to day; a ratio measured in the same minutes does not.
#
# Usage: benchmarks/compare.sh [--runs N] [--quick] [BUILD_DIR]
#   BUILD_DIR  holds bin/halfmq-bench and bin/halfmq-broker (default: build)
#   --runs N   rounds; each case's figures are medians over them (default 3)
#   --quick    short counts and durations, for a smoke test of the script
#
# Needs redis-server, redis-cli and redis-benchmark (Debian's redis-server and
# redis-tools), python3 and coreutils' timeout. Everything runs on 127.0.0.1
# with data in one temporary directory (under $TMPDIR or /tmp), so Redis, the
# broker and the fdatasync probe all write to the same filesystem. See
# benchmarks/README.md.
set -euo pipefail

usage() {
  sed -n '7,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

build=build
runs=3
quick=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs)
      [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || usage
      runs=$2
      shift 2
      ;;
    --quick) quick=1; shift ;;
    -h|--help) usage ;;
    -*) echo "compare.sh: unknown option $1" >&2; usage ;;
    *) build=$1; shift ;;
  esac
done

bench=$build/bin/halfmq-bench
for f in "$bench" "$build/bin/halfmq-broker"; do
  [[ -x $f ]] || { echo "compare.sh: $f not found; build halfmq-bench and halfmq-broker" >&2; exit 2; }
done
for tool in redis-server redis-cli redis-benchmark python3 timeout; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool not found" >&2; exit 2; }
done

# Sizes of each case. The send and txn cases run for a fixed time (the bench
# counts what completes in it); consume runs a fixed count. redis-benchmark
# takes only a count: each Redis run gets the count that the rate of the last
# run with the same pipeline (a short calibration run at first) completes in
# about redis_s seconds, within fixed bounds. Every process is also bounded
# by `timeout` (it kills the bench's broker with it: both are in the process
# group timeout makes).
if (( quick )); then
  send1_s=1; txn1_s=1; batch_s=1; txn64_s=1; consume_n=20000
  redis_s=0.5; fsync_n=200; case_timeout=30
else
  send1_s=5; txn1_s=4; batch_s=3; txn64_s=3; consume_n=200000
  redis_s=3; fsync_n=1000; case_timeout=60
fi
declare -A redis_rps=()

work=$(mktemp -d "${TMPDIR:-/tmp}/halfmq-compare-XXXXXX")
redis_pid=
child_pid=
cleanup() {
  # The running bench or redis-benchmark (timeout forwards the signal to its
  # process group), then our Redis, each by the PID we started.
  if [[ -n $child_pid ]]; then kill -TERM "$child_pid" 2>/dev/null || true; wait "$child_pid" 2>/dev/null || true; fi
  if [[ -n $redis_pid ]]; then kill -TERM "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

records=$work/records.jsonl
: >"$records"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Starts Redis with no config file: options on the command line, its own port
# and directory, AOF fsynced before every reply.
start_redis() {
  mkdir -p "$work/redis"
  local _
  for _ in 1 2 3; do
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" \
      --appendonly yes --appendfsync always --save '' --auto-aof-rewrite-percentage 0 \
      --daemonize no --logfile "$work/redis/redis.log" &
    redis_pid=$!
    local i
    for ((i = 0; i < 100; i++)); do
      if redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; then return 0; fi
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.1  # polling for readiness, bounded to 10 s
    done
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=
  done
  echo "compare.sh: redis-server did not start; its log:" >&2
  tail -20 "$work/redis/redis.log" >&2 || true
  exit 1
}

# Empties the stream and rewrites the AOF, so that every Redis run starts as
# the bench's fresh broker does, with a small log.
reset_redis() {
  redis-cli -p "$redis_port" del s >/dev/null
  redis-cli -p "$redis_port" bgrewriteaof >/dev/null
  local i
  for ((i = 0; i < 300; i++)); do
    redis-cli -p "$redis_port" info persistence | grep -q '^aof_rewrite_in_progress:0' &&
      ! redis-cli -p "$redis_port" info persistence | grep -q '^aof_rewrite_scheduled:1' && return 0
    sleep 0.1  # polling the rewrite's end, bounded to 30 s
  done
  echo "compare.sh: Redis AOF rewrite did not finish" >&2
}

# Runs "$@" under timeout in the background (so that the EXIT trap can stop
# it), stdout to $1's file. Returns the command's status.
bounded() {
  local out=$1
  shift
  timeout -k 5 "$case_timeout" "$@" >"$out" 2>"$out.err" &
  child_pid=$!
  local rc=0
  wait "$child_pid" || rc=$?
  child_pid=
  return $rc
}

value=$(head -c 1024 /dev/zero | tr '\0' x)

# redis_count PIPELINE: the request count for the next run (see above).
redis_count() {
  local pipeline=$1 low=500 high=50000
  (( pipeline > 1 )) && { low=5000; high=1000000; }
  python3 -c 'import sys; rps, s, lo, hi = map(float, sys.argv[1:]); print(int(min(hi, max(lo, rps * s))))' \
    "${redis_rps[$pipeline]:-0}" "$redis_s" "$low" "$high"
}

# redis_run CASE ROUND PIPELINE: one Redis run, recorded (round 0: calibration)
redis_run() {
  local name=$1 round=$2 pipeline=$3 rc=0 count
  count=$(redis_count "$pipeline")
  reset_redis
  bounded "$work/out" redis-benchmark -h 127.0.0.1 -p "$redis_port" -c 1 -P "$pipeline" \
    -n "$count" --csv XADD s '*' f "$value" || rc=$?
  python3 - "$work/out" "$name" "$round" "$pipeline" "$rc" >>"$records" <<'EOF'
import csv, json, sys
path, name, rnd, pipeline, rc = sys.argv[1:]
rec = {"side": "redis", "case": name, "round": int(rnd), "pipeline": int(pipeline), "rc": int(rc)}
rows = [r for r in csv.reader(open(path)) if r and r[0].startswith("XADD")]
if rows:
    r = rows[-1]  # test, rps, avg, min, p50, p95, p99, max (ms)
    rec.update(tput=float(r[1]), p50_us=float(r[4]) * 1000, p99_us=float(r[6]) * 1000)
print(json.dumps(rec))
EOF
  local rps
  rps=$(tail -1 "$records" | python3 -c 'import json, sys; print(json.loads(sys.stdin.read()).get("tput", 0))')
  [[ $rps == 0 ]] || redis_rps[$pipeline]=$rps
}

# hmq_run CASE ROUND LABEL BENCH-ARGS...: LABEL is the bench's --json "mode"
# of the phase that is measured (txn mode also prints its drain, txn-recv).
hmq_run() {
  local name=$1 round=$2 label=$3 rc=0
  shift 3
  bounded "$work/out" env TMPDIR="$work" "$bench" "$@" --size 1024 --json || rc=$?
  python3 - "$work/out" "$name" "$round" "$label" "$rc" >>"$records" <<'EOF'
import json, sys
path, name, rnd, label, rc = sys.argv[1:]
rec = {"side": "halfmq", "case": name, "round": int(rnd), "rc": int(rc)}
for line in open(path):
    line = line.strip()
    if not line.startswith("{"):
        continue
    j = json.loads(line)
    if j.get("mode") != label:
        continue
    n = max(j["count"], 1)
    rec.update(tput=j["throughput_per_s"], p50_us=j["p50_us"], p99_us=j["p99_us"],
               errors=j["errors"], lost=j["lost"],
               broker_us_op=j["phase_broker_cpu_s"] * 1e6 / n,
               client_us_op=j["phase_client_cpu_s"] * 1e6 / n)
print(json.dumps(rec))
EOF
  if (( rc != 0 )); then
    echo "compare.sh: halfmq-bench $name (round $round) exited with $rc:" >&2
    tail -5 "$work/out.err" >&2 || true
  fi
}

# fdatasync of a 1 KiB append, measured with python3's os.fdatasync on a file
# opened O_APPEND in the work directory (the filesystem both data dirs are on).
# Its own run-queue wait (/proc/thread-self/schedstat) is reported beside it:
# on a machine busy with other work, a thread woken by the disk can wait a
# scheduler tick (4 ms) for a core, and then the probe and Redis (one thread)
# measure the scheduler, not the disk.
fsync_probe() {
  python3 - "$work" "$1" "$fsync_n" >>"$records" <<'EOF'
import json, os, sys, time
d, rnd, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
path = os.path.join(d, "fsync-probe")
def runq_wait_ns():
    with open("/proc/thread-self/schedstat") as f:
        return int(f.read().split()[1])
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
block, t = b"x" * 1024, []
wait0 = runq_wait_ns()
for _ in range(n):
    s = time.perf_counter()
    os.write(fd, block)
    os.fdatasync(fd)
    t.append((time.perf_counter() - s) * 1e6)
runq_us = (runq_wait_ns() - wait0) / 1e3 / n
os.close(fd)
os.unlink(path)
t.sort()
print(json.dumps({"side": "fsync", "round": rnd, "p50_us": t[len(t) // 2],
                  "p99_us": t[min(len(t) - 1, len(t) * 99 // 100)], "runq_us": runq_us}))
EOF
}

# one_case ROUND CASE PIPELINE LABEL BENCH-ARGS...: Redis and HalfMQ back to
# back, the order alternating with the round so neither side always runs
# first.
one_case() {
  local round=$1 name=$2 pipeline=$3 label=$4
  shift 4
  if (( round % 2 == 1 )); then
    redis_run "$name" "$round" "$pipeline"
    hmq_run "$name" "$round" "$label" "$@"
  else
    hmq_run "$name" "$round" "$label" "$@"
    redis_run "$name" "$round" "$pipeline"
  fi
}

start_redis
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "compare.sh: $runs round(s)$( ((quick)) && echo ', quick'); Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on port $redis_port; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); data in $work" >&2
started=$SECONDS
redis_s_run=$redis_s
redis_s=0.3  # calibration runs, not counted
redis_run calibrate 0 1
redis_run calibrate 0 64
redis_s=$redis_s_run
for ((round = 1; round <= runs; round++)); do
  echo "compare.sh: round $round of $runs ($((SECONDS - started)) s)" >&2
  fsync_probe "$round"
  one_case "$round" send-1 1 send send --inflight 1 --duration-s "$send1_s"
  one_case "$round" txn-1 1 txn txn --inflight 1 --duration-s "$txn1_s"
  one_case "$round" send-256x16 64 send send --inflight 256 --batch 16 --duration-s "$batch_s"
  one_case "$round" txn-64 64 txn txn --inflight 64 --duration-s "$txn64_s"
  one_case "$round" consume 64 consume consume --count "$consume_n" --inflight 64 \
    --batch 64 --connections 4 --ack-async
done
fsync_probe $((runs + 1))
echo "compare.sh: done in $((SECONDS - started)) s" >&2
echo "$(date -u '+%Y-%m-%d %H:%M UTC'): $runs round(s)$( ((quick)) && echo ' (quick)') in $((SECONDS - started)) s; Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'); $(nproc) cores, load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"

python3 - "$records" <<'EOF'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]

# case, description, Redis reference, throughput goal, p99 goal (x Redis p99)
cases = [
    ("send-1", "send, 1 in flight", "P1", 1.0, 2.0),
    ("txn-1", "txn (half + commit), 1 in flight", "P1", 0.5, None),
    ("send-256x16", "send, 256 in flight, batches of 16", "P64", 3.5, 3.0),
    ("txn-64", "txn, 64 in flight", "P64", 1.0, None),
    ("consume", "consume + durable ack (4 x 64, async acks)", "P64", 3.0, None),
]

def med(xs):
    return statistics.median(xs) if xs else None

def fmt(x, spec="{:,.0f}"):
    return "n/a" if x is None else spec.format(x)

def get(side, case):
    return {r["round"]: r for r in recs
            if r["side"] == side and r["case"] == case and "tput" in r}

probes = [r for r in recs if r["side"] == "fsync"]
print("fdatasync of a 1 KiB append (python3 os.fdatasync, O_APPEND file in the data "
      "directory's filesystem), %d probes: p50 %s us (%s), p99 %s us" % (
          len(probes), fmt(med([p["p50_us"] for p in probes])),
          " / ".join(fmt(p["p50_us"]) for p in probes),
          fmt(med([p["p99_us"] for p in probes]))))
# Any probe that waited for a core marks the run: the rounds are paired, but
# a busy moment skews the one side it falls on.
busy = any(p["runq_us"] >= 50 for p in probes)
if probes:
    print("  the probe waited %s us per fdatasync for a core (run-queue wait)%s" % (
        " / ".join(fmt(p["runq_us"]) for p in probes), "" if not busy else
        ": the machine was busy; its latencies, Redis's and the ratios are not the disk's"))
print()
hdr = ("case", "HalfMQ msg/s", "p50 us", "p99 us", "cpu/op us b/c", "Redis", "Redis rps",
       "Redis p50/p99 us", "ratio", "p99 ratio", "goal", "status")
rows = [hdr]
notes = []
for key, desc, ref, goal, p99_goal in cases:
    h, r = get("halfmq", key), get("redis", key)
    paired = sorted(set(h) & set(r))
    ratio = med([h[i]["tput"] / r[i]["tput"] for i in paired if r[i]["tput"] > 0])
    p99_ratio = med([h[i]["p99_us"] / r[i]["p99_us"] for i in paired if r[i]["p99_us"] > 0])
    goal_text = ">= %.1fx" % goal + (", p99 <= %.0fx" % p99_goal if p99_goal else "")
    if ratio is None:
        status = "no data"
    else:
        met = ratio >= goal and (p99_goal is None or (p99_ratio is not None and p99_ratio <= p99_goal))
        status = ("met" if met else "NOT met") + (" (busy)" if busy else "")
    hv = [h[i] for i in sorted(h)]
    rv = [r[i] for i in sorted(r)]
    rows.append((
        desc,
        fmt(med([x["tput"] for x in hv])),
        fmt(med([x["p50_us"] for x in hv])),
        fmt(med([x["p99_us"] for x in hv])),
        "%s / %s" % (fmt(med([x["broker_us_op"] for x in hv]), "{:.1f}"),
                     fmt(med([x["client_us_op"] for x in hv]), "{:.1f}")),
        ref,
        fmt(med([x["tput"] for x in rv])),
        "%s / %s" % (fmt(med([x["p50_us"] for x in rv])), fmt(med([x["p99_us"] for x in rv]))),
        fmt(ratio, "{:.2f}x"),
        fmt(p99_ratio, "{:.2f}x") if p99_goal else "",
        goal_text,
        status,
    ))
    notes.append("  %-12s HalfMQ %s | Redis %s | ratio %s" % (
        key, " / ".join(fmt(x["tput"]) for x in hv), " / ".join(fmt(x["tput"]) for x in rv),
        " / ".join("%.2f" % (h[i]["tput"] / r[i]["tput"]) for i in paired if r[i]["tput"] > 0)))
    bad = [x for x in recs if x.get("case") == key and (x["rc"] != 0 or x.get("errors") or x.get("lost"))]
    for x in bad:
        notes.append("  %-12s round %d %s: exit %d errors %s lost %s" % (
            key, x["round"], x["side"], x["rc"], x.get("errors", "-"), x.get("lost", "-")))
widths = [max(len(str(row[c])) for row in rows) for c in range(len(hdr))]
for n, row in enumerate(rows):
    print("| " + " | ".join(str(v).ljust(widths[c]) for c, v in enumerate(row)) + " |")
    if n == 0:
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
print()
print("Medians over rounds; ratio = median of each round's HalfMQ / Redis (same round, "
      "back to back). cpu/op: broker / bench client CPU per message or transaction. "
      "Per round (msg/s):")
print("\n".join(notes))
EOF
