#include "broker/tracer.h"

#include "storage/message_index.h"

namespace halfmq::broker {

void Tracer::Add(storage::Batch* batch, const Event& event) {
  if (!enabled_ || event.message_id.empty()) return;
  v1::TraceEvent e;
  e.set_time_ms(event.time_ms);
  e.set_kind(event.kind);
  e.set_group(std::string(event.group));
  e.set_client(std::string(event.client));
  e.set_attempt(event.attempt);
  e.set_detail(event.detail);
  if (event.delivered_ms > 0) e.set_delivered_ms(event.delivered_ms);
  if (event.half_stored_ms > 0) {
    e.set_half_stored_ms(event.half_stored_ms);
    e.set_half_detail(event.half_detail);
  }
  storage::MessageIndex::PutTrace(batch, MessageId(std::string(event.message_id)), event.time_ms,
                                  seq_.fetch_add(1), e);
}

}  // namespace halfmq::broker
