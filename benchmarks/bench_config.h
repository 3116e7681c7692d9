// halfmq-bench's command line: what to run and with which parameters.
// Parsed with the CLI's parser (common/args.h): every number is checked
// against its range instead of being cast, so `--inflight 99999999999` or
// `--count 12x` is a usage error, not a wrapped-around value.
// Values; thread-compatible.
#ifndef HALFMQ_BENCHMARKS_BENCH_CONFIG_H_
#define HALFMQ_BENCHMARKS_BENCH_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace halfmq::bench {

struct Config {
  std::string mode;
  std::string broker;  // empty: start our own broker
  size_t size = 1024;
  int connections = 1;
  int inflight = 64;
  int batch = 1;
  uint64_t count = 0;
  double duration_s = 0;
  double rate = 0;
  std::string flush = "sync";
  bool json = false;
  bool ack_async = false;  // consume: ack a batch while receiving the next
  std::string topic = "bench";
  uint32_t queues = 8;
  std::string group = "bench-group";
  double rollback_pct = 0;
  double unknown_pct = 0;
  std::string check_answer = "commit";
  uint32_t delay_ms = 10000;              // delay mode
  std::vector<std::string> broker_flags;  // for the broker it starts
  int idle_connections = 10000;           // idle mode
  uint64_t pending = 1000000;             // pending mode
  // Not flags: set by the pending mode for its fill and measured runs.
  bool wait_for_open = true;  // txn: wait until check-back settled the rest
  uint32_t immunity_ms = 0;   // txn: check immunity of the transactions
};

// Parses the arguments after the program name: the mode (send, txn,
// consume, e2e, retry, delay, idle, pending) and its flags, in any order.
// Errors: INVALID_ARGUMENT (a usage error: exit status 2) naming the flag.
Result<Config> ParseConfig(const std::vector<std::string>& args);

// The usage text printed with a usage error.
std::string UsageText();

}  // namespace halfmq::bench

#endif  // HALFMQ_BENCHMARKS_BENCH_CONFIG_H_
