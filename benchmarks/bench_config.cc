#include "benchmarks/bench_config.h"

#include <set>

#include "common/args.h"
#include "common/host_port.h"
#include "common/limits.h"

namespace halfmq::bench {
namespace {

// Bounds far above any run this machine can do, but below the point where
// a typo (an extra digit) would exhaust memory or threads.
constexpr uint64_t kMaxConnections = 10000;
constexpr uint64_t kMaxInflight = 1 << 20;
constexpr uint64_t kMaxBatch = 1 << 16;
constexpr uint64_t kMaxSize = 1 << 30;
constexpr uint64_t kMaxIdleConnections = 1000000;
constexpr uint64_t kMaxPending = 1000000000;
constexpr double kMaxDurationS = 1e7;
constexpr double kMaxRate = 1e9;

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs = {
      {"broker", FlagKind::kValue},
      {"size", FlagKind::kValue},
      {"connections", FlagKind::kValue},
      {"inflight", FlagKind::kValue},
      {"batch", FlagKind::kValue},
      {"count", FlagKind::kValue},
      {"duration-s", FlagKind::kValue},
      {"rate", FlagKind::kValue},
      {"flush", FlagKind::kValue},
      {"topic", FlagKind::kValue},
      {"queues", FlagKind::kValue},
      {"json", FlagKind::kBool},
      {"ack-async", FlagKind::kBool},
      {"rollback-pct", FlagKind::kValue},
      {"unknown-pct", FlagKind::kValue},
      {"check-answer", FlagKind::kValue},
      {"delay-ms", FlagKind::kValue},
      {"broker-flag", FlagKind::kRepeated},
      {"idle-connections", FlagKind::kValue},
      {"pending", FlagKind::kValue},
  };
  return specs;
}

Result<double> Double(const ParsedArgs& parsed, std::string_view flag, double default_value,
                      double max) {
  std::optional<std::string> value = parsed.Value(flag);
  if (!value.has_value()) return default_value;
  return ParseDouble("--" + std::string(flag), *value, 0, max);
}

// Reads the numeric flags into `c`, each within its range.
Status ParseNumbers(const ParsedArgs& p, Config* c) {
  auto size = p.Uint("size", c->size, 0, kMaxSize);
  auto connections = p.Uint("connections", c->connections, 1, kMaxConnections);
  auto inflight = p.Uint("inflight", c->inflight, 1, kMaxInflight);
  auto batch = p.Uint("batch", c->batch, 1, kMaxBatch);
  auto count = p.Uint("count", c->count, 0, UINT64_MAX);
  auto queues = p.Uint("queues", c->queues, 1, kMaxQueuesPerTopic);
  auto delay_ms = p.Uint("delay-ms", c->delay_ms, 0, UINT32_MAX);
  auto idle = p.Uint("idle-connections", c->idle_connections, 0, kMaxIdleConnections);
  auto pending = p.Uint("pending", c->pending, 0, kMaxPending);
  auto duration_s = Double(p, "duration-s", c->duration_s, kMaxDurationS);
  auto rate = Double(p, "rate", c->rate, kMaxRate);
  auto rollback_pct = Double(p, "rollback-pct", c->rollback_pct, 100);
  auto unknown_pct = Double(p, "unknown-pct", c->unknown_pct, 100);
  for (const Status& s :
       {size.status(), connections.status(), inflight.status(), batch.status(), count.status(),
        queues.status(), delay_ms.status(), idle.status(), pending.status(), duration_s.status(),
        rate.status(), rollback_pct.status(), unknown_pct.status()}) {
    HALFMQ_RETURN_IF_ERROR(s);
  }
  // Every cast below is within the range just checked.
  c->size = static_cast<size_t>(*size);
  c->connections = static_cast<int>(*connections);
  c->inflight = static_cast<int>(*inflight);
  c->batch = static_cast<int>(*batch);
  c->count = *count;
  c->queues = static_cast<uint32_t>(*queues);
  c->delay_ms = static_cast<uint32_t>(*delay_ms);
  c->idle_connections = static_cast<int>(*idle);
  c->pending = *pending;
  c->duration_s = *duration_s;
  c->rate = *rate;
  c->rollback_pct = *rollback_pct;
  c->unknown_pct = *unknown_pct;
  return Status::Ok();
}

// The rules between flags and modes.
Status CheckCombination(const Config& c) {
  static const std::set<std::string> kNeedCount = {"consume", "retry", "delay", "idle", "pending"};
  if ((c.count == 0) == (c.duration_s == 0)) {
    return Status::InvalidArgument("give exactly one of --count and --duration-s");
  }
  if (kNeedCount.count(c.mode) > 0 && c.count == 0) {
    return Status::InvalidArgument(c.mode + " needs --count");
  }
  if (c.flush != "sync" && c.flush != "async") {
    return Status::InvalidArgument("--flush is sync or async");
  }
  if (c.check_answer != "commit" && c.check_answer != "rollback") {
    return Status::InvalidArgument("--check-answer is commit or rollback");
  }
  if (c.rollback_pct + c.unknown_pct > 100) {
    return Status::InvalidArgument("--rollback-pct + --unknown-pct > 100");
  }
  if (!c.broker.empty()) {
    auto address = ParseHostPort(c.broker);
    if (!address.ok()) return Status::InvalidArgument("--broker: " + address.status().message());
  }
  return Status::Ok();
}

}  // namespace

Result<Config> ParseConfig(const std::vector<std::string>& args) {
  static const std::set<std::string> kModes = {"send",  "txn",   "consume", "e2e",
                                               "retry", "delay", "idle",    "pending"};
  auto parsed = ParseArgs(args, Specs());
  if (!parsed.ok()) return parsed.status();
  const std::vector<std::string>& positionals = parsed->positionals();
  if (positionals.empty()) return Status::InvalidArgument("missing mode");
  if (positionals.size() > 1) {
    return Status::InvalidArgument("unexpected argument '" + positionals[1] + "'");
  }
  Config c;
  c.mode = positionals[0];
  if (kModes.count(c.mode) == 0) return Status::InvalidArgument("unknown mode " + c.mode);
  c.broker = parsed->Value("broker").value_or("");
  c.flush = parsed->Value("flush").value_or(c.flush);
  c.topic = parsed->Value("topic").value_or(c.topic);
  c.check_answer = parsed->Value("check-answer").value_or(c.check_answer);
  c.json = parsed->Has("json");
  c.ack_async = parsed->Has("ack-async");
  c.broker_flags = parsed->Values("broker-flag");
  HALFMQ_RETURN_IF_ERROR(ParseNumbers(*parsed, &c));
  HALFMQ_RETURN_IF_ERROR(CheckCombination(c));
  return c;
}

std::string UsageText() {
  return "usage: halfmq-bench send|txn|consume|e2e|retry|delay|idle|pending\n"
         "         [--broker HOST:PORT]\n"
         "         [--size BYTES]\n"
         "         [--connections N] [--inflight N] [--batch N]\n"
         "         (--count N | --duration-s S) [--rate N] [--flush sync|async]\n"
         "         [--rollback-pct P] [--unknown-pct P] [--check-answer commit|rollback]\n"
         "         [--delay-ms MS (delay mode)] [--broker-flag --NAME=VALUE]...\n"
         "         [--idle-connections N (idle mode)] [--pending N (pending mode)]\n"
         "         [--ack-async (consume/e2e: ack a batch while receiving the next)]\n"
         "         [--topic T] [--queues N] [--json]\n";
}

}  // namespace halfmq::bench
