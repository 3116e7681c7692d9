#!/usr/bin/env bash
# Where does a halfmq-bench run's latency tail come from? Runs one bench case
# (by default send, 1 in flight) and records, with perf, the scheduler's
# wake-ups and switches, the broker's fdatasync calls and the block layer's
# requests for a few seconds in the middle of it, then prints:
#   - the commit thread's fdatasyncs: the syscall's time against the device's
#     (from the commit's first write request to the last completion inside the
#     call), how many overlapped I/O of the WAL zero-filler (halfmq-walzero) of
#     the same broker, and how many had to write metadata as well;
#   - the wake-up latency (woken -> running) of every bench and broker thread,
#     wake-ups per commit by thread, and for the wake-ups that waited over
#     200 us, what was running on that CPU instead.
#
# Usage: benchmarks/tail_trace.sh [--seconds S] [BUILD_DIR] [-- BENCH-ARGS...]
#   default BENCH-ARGS: send --inflight 1 (the bench's own broker; 1 KiB)
# Needs perf with tracepoint access (root) and python3. See benchmarks/README.md.
set -euo pipefail

build=build
seconds=4
bench_args=(send --inflight 1)
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds)
      [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || { echo "tail_trace.sh: --seconds N" >&2; exit 2; }
      seconds=$2
      shift 2
      ;;
    --) shift; bench_args=("$@"); break ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
bench=$build/bin/halfmq-bench
[[ -x $bench ]] || { echo "tail_trace.sh: $bench not found" >&2; exit 2; }
command -v perf >/dev/null || { echo "tail_trace.sh: perf not found (Debian: linux-perf)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/halfmq-tail-XXXXXX")
bench_pid=
broker=
cleanup() {
  # The bench (then its broker, which it stops only when it ends normally).
  if [[ -n $bench_pid ]]; then
    kill -TERM "$bench_pid" 2>/dev/null || true
    wait "$bench_pid" 2>/dev/null || true
    if [[ -n $broker ]]; then kill -TERM "$broker" 2>/dev/null || true; fi
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The bench runs past both ends of the recording: 2 s of warm-up before it.
TMPDIR=$work "$bench" "${bench_args[@]}" --duration-s $((seconds + 4)) --json >"$work/bench.out" 2>"$work/bench.err" &
bench_pid=$!
for ((i = 0; i < 100; i++)); do
  broker=$(pgrep -P "$bench_pid" || true)
  [[ -n $broker ]] && grep -qs halfmq-commit /proc/"$broker"/task/*/comm && break
  sleep 0.1  # polling for the bench's broker, bounded to 10 s
done
[[ -n $broker ]] || { echo "tail_trace.sh: the bench started no broker" >&2; cat "$work/bench.err" >&2; exit 1; }
sleep 2  # warm-up of the measured run, not a synchronisation
perf record -q -a -o "$work/perf.data" \
  -e sched:sched_wakeup,sched:sched_switch \
  -e syscalls:sys_enter_fdatasync,syscalls:sys_exit_fdatasync \
  -e block:block_rq_issue,block:block_rq_complete -- sleep "$seconds" >/dev/null 2>"$work/perf.err" || {
  echo "tail_trace.sh: perf record failed (tracepoints need root):" >&2
  cat "$work/perf.err" >&2
  exit 1
}
rc=0
bench_process=$bench_pid
wait "$bench_pid" || rc=$?
bench_pid=
echo "bench (${bench_args[*]}), exit $rc:"
sed 's/^/  /' "$work/bench.out"
perf script -i "$work/perf.data" -F pid,tid,cpu,time,event,trace 2>/dev/null >"$work/events.txt"
python3 - "$work/events.txt" "$broker" "$bench_process" <<'EOF'
import bisect, collections, re, sys

path, broker, bench = sys.argv[1:4]
line_re = re.compile(r"\s*(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)")
events, ours, thread_name = [], {}, {}
for line in open(path):
    m = line_re.match(line)
    if m:
        pid, tid, _cpu, t, name, rest = m.groups()
        events.append((float(t), pid, tid, name, rest))
events.sort(key=lambda e: e[0])
# Threads of the broker and of the bench (seen running in a traced event).
for t, pid, tid, name, rest in events:
    if pid in (broker, bench):
        ours[tid] = "broker" if pid == broker else "bench"
for t, pid, tid, name, rest in events:
    m = re.search(r"comm=(\S+) pid=(\d+)", rest) if name == "sched:sched_wakeup" else None
    if m:
        thread_name[m.group(2)] = m.group(1)
    m = re.search(r"prev_comm=(.*) prev_pid=(\d+) .*next_comm=(.*) next_pid=(\d+)", rest)
    if m:
        thread_name[m.group(2)] = m.group(1)
        thread_name[m.group(4)] = m.group(3)
commit = next((tid for tid, side in ours.items()
               if side == "broker" and thread_name.get(tid) == "halfmq-commit"), None)

def q(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * p))]) if xs else -1

# Block requests: issue -> complete, matched by sector; flushes have none.
pending, reqs = collections.defaultdict(list), []
for t, pid, tid, name, rest in events:
    if name not in ("block:block_rq_issue", "block:block_rq_complete"):
        continue
    f = rest.split()
    m = re.search(r"\) (\d+) \+ (\d+)", rest)
    key = m.group(1) if m else "flush"
    if name == "block:block_rq_issue":
        who = thread_name.get(tid, "?") if pid == broker else "other"
        pending[key].append((t, f[1], who, tid))
    elif pending[key]:
        it, rwbs, who, itid = pending[key].pop(0)
        reqs.append((it, t, rwbs, who, itid))
reqs.sort()
starts = [r[0] for r in reqs]

calls, entered = [], None
for t, pid, tid, name, rest in events:
    if tid != commit:
        continue
    if name == "syscalls:sys_enter_fdatasync":
        entered = t
    elif name == "syscalls:sys_exit_fdatasync" and entered is not None:
        calls.append((entered, t))
        entered = None
rows = []
for a, b in calls:
    i = bisect.bisect_left(starts, a - 0.1)
    inside = [r for r in reqs[i:] if r[0] < b and r[1] > a]
    mine = [r for r in inside if r[4] == commit and r[0] >= a]
    if not mine:
        continue
    # The call waits for its own requests and for a cache flush (FF, issued
    # by a kworker); the zero-filler's requests count only through those.
    done = max([r[1] for r in inside if r[1] <= b and (r[4] == commit or r[2].startswith("F"))]
               or [b])
    rows.append({"sys": (b - a) * 1e6, "dev": (done - mine[0][0]) * 1e6,
                 "wake": (b - done) * 1e6,
                 "zero": any(r[3] == "halfmq-walzero" for r in inside),
                 "other": any(r[3] == "other" and r[2] != "FF" for r in inside),
                 "meta": any("M" in r[2] for r in mine)})
n = len(rows)
print("\ncommit thread fdatasyncs: %d" % n)
if n:
    pct = lambda k: 100.0 * sum(r[k] for r in rows) / n
    print("  syscall us   p50 %d p99 %d p99.9 %d" % tuple(q([r["sys"] for r in rows], p) for p in (.5, .99, .999)))
    print("  device us    p50 %d p99 %d p99.9 %d   (first write request -> last completion)" %
          tuple(q([r["dev"] for r in rows], p) for p in (.5, .99, .999)))
    print("  after device p50 %d p99 %d p99.9 %d   (completion -> the thread runs again)" %
          tuple(q([r["wake"] for r in rows], p) for p in (.5, .99, .999)))
    z = [r["dev"] for r in rows if r["zero"]]
    nz = [r["dev"] for r in rows if not r["zero"]]
    print("  %.2f%% overlapped zero-filler I/O: device p50 %d p90 %d us (others p50 %d p99 %d)" %
          (pct("zero"), q(z, .5), q(z, .9), q(nz, .5), q(nz, .99)))
    print("  %.2f%% overlapped other processes' writes; %.2f%% wrote metadata too" %
          (pct("other"), pct("meta")))

# Wake-up latency of our threads, and what ran instead when it was long.
waking, lat = {}, []
for t, pid, tid, name, rest in events:
    if name == "sched:sched_wakeup":
        m = re.search(r"pid=(\d+)", rest)
        if m and m.group(1) in ours and m.group(1) not in waking:
            waking[m.group(1)] = t
    elif name == "sched:sched_switch":
        m = re.search(r"prev_comm=(.*) prev_pid=(\d+) .*next_pid=(\d+)", rest)
        if m and m.group(3) in waking:
            prev = m.group(2)
            who = (ours[prev] + ":" if prev in ours else "") + re.sub(r"\d+", "N", m.group(1))
            lat.append(((t - waking.pop(m.group(3))) * 1e6, thread_name.get(m.group(3), "?"), who))
print("\nwake-ups of bench and broker threads: %d, woken -> running us p50 %d p99 %d p99.9 %d" %
      (len(lat), q([x[0] for x in lat], .5), q([x[0] for x in lat], .99), q([x[0] for x in lat], .999)))
if n:
    per = collections.Counter(x[1] for x in lat)
    print("  per commit: " + ", ".join("%s %.2f" % (k, v / n) for k, v in per.most_common(6)))
slow = [x for x in lat if x[0] > 200]
count, total = collections.Counter(), collections.Counter()
for d, _, who in slow:
    count[who] += 1
    total[who] += d
print("  %d waited over 200 us (%.2f%%); ran instead on that CPU (ours: bench/broker thread):" %
      (len(slow), 100.0 * len(slow) / max(1, len(lat))))
for who, ms in total.most_common(8):
    print("    %-28s %5d times, %8.1f ms in all" % (who, count[who], ms / 1e3))
EOF
