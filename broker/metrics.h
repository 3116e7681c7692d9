// Broker-wide counters and gauges. Lock-free; any thread may bump them.
// Exposed through GetBrokerStats (and `halfmq stats`) and logged every
// --stats_log_interval_s. Names are documented in docs/operations.md.
#ifndef HALFMQ_BROKER_METRICS_H_
#define HALFMQ_BROKER_METRICS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

namespace halfmq::broker {

#define HALFMQ_BROKER_METRICS(X)                                                 \
  X(connections_accepted) X(connections_open) X(connections_rejected)             \
  X(frames_malformed) X(frames_oversize) X(requests) X(requests_unsupported)            \
  X(messages_sent) X(send_bytes) X(messages_received) X(messages_redelivered)     \
  X(messages_acked) X(messages_nacked) X(receipt_handles_expired)                 \
  X(long_polls_waiting) X(memory_budget_waits) X(socket_writes_queued)           \
  X(retention_deleted)                                                           \
  X(retention_runs) X(txn_half_sent) X(txn_committed) X(txn_rolled_back)          \
  X(txn_end_repeats) X(txn_end_conflicts) X(txn_checks_sent) X(txn_checks_no_producer) \
  X(txn_checks_throttled) X(txn_unresolved) X(txn_pending) X(txn_settled)            \
  X(txn_checks_answered) X(txn_checks_uncounted) X(txn_check_timeouts)            \
  X(txn_settled_evicted) X(txn_producer_groups_refused) \
  X(messages_dead_lettered) X(messages_redriven) X(delayed_pending) X(delayed_delivered)   \
  X(messages_deduplicated) X(messages_filtered)                                  \
  X(connections_rejected_per_ip) X(connections_hello_timeouts)                   \
  X(connections_frame_timeouts) X(connections_idle_timeouts)                     \
  X(connections_write_timeouts) X(log_lines_suppressed)

class Metrics {
 public:
#define HALFMQ_DECLARE_METRIC(name) std::atomic<int64_t> name{0};
  HALFMQ_BROKER_METRICS(HALFMQ_DECLARE_METRIC)
#undef HALFMQ_DECLARE_METRIC

  std::map<std::string, int64_t> Snapshot() const {
    std::map<std::string, int64_t> out;
#define HALFMQ_SNAPSHOT_METRIC(name) out[#name] = name.load(std::memory_order_relaxed);
    HALFMQ_BROKER_METRICS(HALFMQ_SNAPSHOT_METRIC)
#undef HALFMQ_SNAPSHOT_METRIC
    return out;
  }
};

inline void Inc(std::atomic<int64_t>& c, int64_t by = 1) {
  c.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_METRICS_H_
