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
#include <string>
#include <string_view>

#include "proto/halfmq/v1/api.pb.h"
#include "storage/batch.h"

namespace halfmq::broker {

class Tracer {
 public:
  explicit Tracer(bool enabled) : enabled_(enabled) {}

  bool enabled() const { return enabled_; }

  // One event of a message's history. Fields left at their defaults are not
  // recorded. (Every field has a default member initializer, so that callers
  // name only the fields they set without -Wmissing-field-initializers.)
  struct Event {
    std::string_view message_id{};
    int64_t time_ms = 0;
    v1::TraceKind kind = v1::TRACE_KIND_UNSPECIFIED;
    std::string_view group{};   // producer or consumer group
    std::string_view client{};  // for a delivery's end: the client it went to
    uint32_t attempt = 0;
    std::string detail{};
    // For an event that ends a delivery (ack, nack, expiry, dead letter):
    // when that delivery began. Deliveries have no event of their own: one
    // event per delivery, at its end, is half the writes on the consume path
    // (TraceMessage shows the DELIVERED event from it, or from the in-flight
    // entry while open).
    int64_t delivered_ms = 0;
    // For the outcome of a transaction settled before its first check, the
    // HALF_STORED event folded into it (see TraceEvent in api.proto).
    int64_t half_stored_ms = 0;
    std::string half_detail{};
  };

  // Adds `event` to `batch` (nothing when tracing is off or the message has
  // no id).
  void Add(storage::Batch* batch, const Event& event);

 private:
  const bool enabled_;
  std::atomic<uint64_t> seq_{0};
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_TRACER_H_
