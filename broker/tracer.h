// Tracer: records a message's history (half stored, committed or rolled
// back, checks, deliveries and to whom, nacks with reasons, acks, dead
// letters, redrives, dedup hits) as events in the `index` keyspace, each
// written in the batch of the state change it describes (a delivery: in the
// batch of the change that ends it). Events older than
// the retention are dropped in compaction, like the indexes. "Stored" and
// "delayed" need no events: the id index already holds them.
//
// Thread-safe; stateless apart from a sequence number that keeps keys
// unique.
#ifndef HALFMQ_BROKER_TRACER_H_
#define HALFMQ_BROKER_TRACER_H_

#include <atomic>
#include <cstdint>
#include <string_view>

#include "proto/halfmq/v1/api.pb.h"
#include "storage/batch.h"

namespace halfmq::broker {

class Tracer {
 public:
  explicit Tracer(bool enabled) : enabled_(enabled) {}

  bool enabled() const { return enabled_; }

  // `delivered_ms`: for an event that ends a delivery (ack, nack, expiry,
  // dead letter), when that delivery began; `client` is then its client.
  // Deliveries have no event of their own: one event per delivery, at its
  // end, is half the writes on the consume path (TraceMessage shows the
  // DELIVERED event from it, or from the in-flight entry while open).
  // `half_stored_ms`, `half_detail`: for the outcome of a transaction
  // settled before its first check, the HALF_STORED event folded into it
  // (see TraceEvent in api.proto).
  void Add(storage::Batch* batch, std::string_view message_id, int64_t time_ms,
           v1::TraceKind kind, std::string_view group = "", std::string_view client = "",
           uint32_t attempt = 0, std::string_view detail = "", int64_t delivered_ms = 0,
           int64_t half_stored_ms = 0, std::string_view half_detail = "");

 private:
  const bool enabled_;
  std::atomic<uint64_t> seq_{0};
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_TRACER_H_
