#include "broker/tracer.h"

#include "storage/keys.h"

namespace halfmq::broker {

void Tracer::Add(storage::Batch* batch, std::string_view message_id, int64_t time_ms,
                 v1::TraceKind kind, std::string_view group, std::string_view client,
                 uint32_t attempt, std::string_view detail, int64_t delivered_ms,
                 int64_t half_stored_ms, std::string_view half_detail) {
  if (!enabled_ || message_id.empty()) return;
  v1::TraceEvent e;
  e.set_time_ms(time_ms);
  e.set_kind(kind);
  e.set_group(std::string(group));
  e.set_client(std::string(client));
  e.set_attempt(attempt);
  e.set_detail(std::string(detail));
  if (delivered_ms > 0) e.set_delivered_ms(delivered_ms);
  if (half_stored_ms > 0) {
    e.set_half_stored_ms(half_stored_ms);
    e.set_half_detail(std::string(half_detail));
  }
  batch->Put(storage::Keyspace::kIndex,
             storage::keys::TraceKey(message_id, time_ms, seq_.fetch_add(1)),
             e.SerializeAsString());
}

}  // namespace halfmq::broker
