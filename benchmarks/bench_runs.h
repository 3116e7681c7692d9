// The load phases of halfmq-bench, each driving a broker through the public
// client library and returning what it measured. Each call owns the client
// objects and threads it starts and joins them before returning; a phase is
// run from one thread at a time.
#ifndef HALFMQ_BENCHMARKS_BENCH_RUNS_H_
#define HALFMQ_BENCHMARKS_BENCH_RUNS_H_

#include <sys/resource.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "benchmarks/bench_broker.h"
#include "benchmarks/bench_config.h"
#include "benchmarks/bench_report.h"

namespace halfmq::bench {

using Clock = std::chrono::steady_clock;

inline uint64_t MicrosSince(Clock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
}

inline double SelfCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Runs one phase and records the CPU that the clients and the broker spent
// in it, so a report can say which side bounds the throughput (both share
// the machine's cores).
template <typename Run>
RunResult Measured(const BenchBroker* own, Run run) {
  double client_before = SelfCpuSeconds();
  double broker_before = own ? own->Usage().cpu_seconds : 0;
  RunResult r = run();
  r.client_cpu_s = SelfCpuSeconds() - client_before;
  if (own) r.broker_cpu_s = own->Usage().cpu_seconds - broker_before;
  return r;
}

// Producers (bench_send.cc): each connection keeps up to --inflight sends
// outstanding, --batch messages per request, for `count` messages or
// `duration_s` seconds. Records every successful message id in `sent_ids`
// when given.
RunResult RunSend(const Config& c, const std::string& address, uint64_t count, double duration_s,
                  std::vector<std::string>* sent_ids);

// Consumers of one group (bench_consume.cc) until `expected` distinct
// messages were acked or nothing arrives for 2 s. Latency is per
// receive+ack round. `lost` counts ids of `must_see` never received; each id
// of `must_not_see` received is an error.
RunResult RunConsume(const Config& c, const std::string& address, uint64_t expected,
                     const std::set<std::string>* must_see,
                     const std::set<std::string>* must_not_see = nullptr);

// Transactions (bench_txn.cc): --inflight chains per connection of Begin ->
// Send (half) -> Commit, or Rollback (--rollback-pct), or left open
// (--unknown-pct) for check-back to settle with --check-answer. Latency is
// half send + end. Fills `expected` (must be consumed) and `forbidden` (must
// never be consumed).
RunResult RunTxn(const Config& c, const std::string& address, std::set<std::string>* expected,
                 std::set<std::string>* forbidden);

// The retry path (bench_consume.cc): every message is received, nacked with
// no delay, received again (attempt 2) and acked. Latency is nack ->
// redelivery, per message.
RunResult RunRetry(const Config& c, const std::string& address, uint64_t expected);

// Delayed delivery (bench_delay.cc): --count messages sent with --delay-ms,
// all pending at once; then how late each one arrives after its deliver-at.
// Sets `idle_cpu_per_s` to the broker's CPU while they wait (if `own`).
RunResult RunDelay(const Config& c, const std::string& address, const BenchBroker* own,
                   double* idle_cpu_per_s);

}  // namespace halfmq::bench

#endif  // HALFMQ_BENCHMARKS_BENCH_RUNS_H_
