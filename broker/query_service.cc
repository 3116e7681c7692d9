#include "broker/query_service.h"

#include <algorithm>
#include <memory>

#include "common/limits.h"
#include "proto/halfmq/v1/records.pb.h"

namespace halfmq::broker {

bool QueryService::Read(const Topic& topic, QueueId queue, Offset offset,
                        v1::FoundMessage* out) const {
  auto stored = store_->ReadMessage(topic.id(), queue, offset);
  if (!stored.ok() || !stored->has_value()) return false;
  v1::StoredMessage& s = **stored;
  v1::Message* m = out->mutable_message();
  m->set_topic(topic.name());
  m->set_message_id(s.message_id());
  *m->mutable_keys() = s.keys();
  m->set_tag(s.tag());
  *m->mutable_properties() = s.properties();
  m->set_body(std::move(*s.mutable_body()));
  m->set_born_time_ms(s.born_time_ms());
  m->set_message_group(s.message_group());
  out->set_queue_id(queue.value());
  out->set_offset(offset.value());
  out->set_store_time_ms(s.store_time_ms());
  return true;
}

void QueryService::GetMessage(v1::GetMessageRequest request, Responder responder) {
  Status s = ValidateMessageId(request.message_id());
  std::shared_ptr<Topic> only;
  if (s.ok() && !request.topic().empty()) {
    s = ValidateReadableTopic(request.topic());
    if (s.ok()) {
      only = topics_->Find(request.topic());
      if (only == nullptr) s = Status::NotFound("topic '" + request.topic() + "' does not exist");
    }
  }
  if (!s.ok()) return responder.Error(s);
  auto resp = std::make_shared<Responder>(std::move(responder));
  asio::post(pool_, [this, request = std::move(request), only, resp] {
    v1::Frame frame;
    auto* out = frame.mutable_get_message_response();
    std::vector<std::pair<TopicId, v1::IndexRecord>> hits;
    Status scan =
        index_.ScanId(MessageId(request.message_id()), [&](TopicId topic, v1::IndexRecord r) {
          hits.emplace_back(topic, std::move(r));
          return hits.size() < 100;
        });
    if (!scan.ok()) return resp->Error(scan);
    for (const auto& [topic_id, index] : hits) {
      if (only != nullptr && only->id() != topic_id) continue;
      if (index.deliver_at_ms() != 0) continue;  // delayed, not delivered yet
      auto topic = topics_->FindById(topic_id);
      if (topic == nullptr || index.queue_id() >= topic->queue_count()) continue;
      v1::FoundMessage found;
      if (Read(*topic, QueueId(index.queue_id()), Offset(index.offset()), &found) &&
          found.message().message_id() == request.message_id()) {
        *out->add_messages() = std::move(found);
      }
    }
    if (out->messages_size() == 0) {
      return resp->Error(Status::NotFound("no stored message has id '" + request.message_id() +
                                          "' (never sent, still delayed, or removed by "
                                          "retention)"));
    }
    resp->Ok(std::move(frame));
  });
}

void QueryService::FindMessages(v1::FindMessagesRequest request, Responder responder) {
  Status s = ValidateReadableTopic(request.topic());
  if (s.ok()) s = ValidateKey(request.key());
  std::shared_ptr<Topic> topic;
  if (s.ok()) {
    topic = topics_->Find(request.topic());
    if (topic == nullptr) s = Status::NotFound("topic '" + request.topic() + "' does not exist");
  }
  if (!s.ok()) return responder.Error(s);
  auto resp = std::make_shared<Responder>(std::move(responder));
  asio::post(pool_, [this, request = std::move(request), topic, resp] {
    uint32_t limit = request.limit() == 0 ? 100 : std::min<uint32_t>(request.limit(), 1000);
    std::vector<storage::KeyedMessage> hits;
    Status scan = index_.ScanKey(topic->id(), request.key(), [&](const storage::KeyedMessage& m) {
      hits.push_back(m);
      return hits.size() < limit;
    });
    if (!scan.ok()) return resp->Error(scan);
    v1::Frame frame;
    auto* out = frame.mutable_find_messages_response();
    size_t bytes = 0;
    for (const auto& h : hits) {
      if (h.queue.value() >= topic->queue_count()) continue;
      v1::FoundMessage found;
      if (!Read(*topic, h.queue, h.offset, &found)) continue;  // removed by retention
      bytes += found.ByteSizeLong();
      *out->add_messages() = std::move(found);
      if (bytes > (4u << 20)) break;
    }
    resp->Ok(std::move(frame));
  });
}

Status QueryService::AddStoredEvents(const MessageId& id,
                                     std::vector<v1::TraceEvent>* events) const {
  return index_.ScanId(id, [&](TopicId topic_id, v1::IndexRecord r) {
    if (r.deliver_at_ms() != 0) return true;  // waiting: its TRACE_DELAYED event says so
    auto topic = topics_->FindById(topic_id);
    std::string name = topic ? topic->name() : "?";
    v1::TraceEvent& e = events->emplace_back();
    e.set_time_ms(r.store_time_ms());
    e.set_kind(v1::TRACE_STORED);
    e.set_detail("topic " + name + ", queue " + std::to_string(r.queue_id()) + ", offset " +
                 std::to_string(r.offset()));
    if (topic && open_deliveries_) {
      for (auto& open : open_deliveries_(topic->id(), QueueId(r.queue_id()), Offset(r.offset()))) {
        events->push_back(std::move(open));
      }
    }
    return events->size() < 1000;
  });
}

Status QueryService::AddTracedEvents(const MessageId& id,
                                     std::vector<v1::TraceEvent>* events) const {
  return index_.ScanTraces(id, [&](v1::TraceEvent e) {
    // Events stored inside this one: shown as their own.
    auto inner = [&](int64_t time_ms, v1::TraceKind kind) {
      v1::TraceEvent& d = events->emplace_back();
      d.set_time_ms(time_ms);
      d.set_kind(kind);
      d.set_group(e.group());
      return &d;
    };
    if (e.half_stored_ms() > 0) {
      // A transaction settled before its first check: its half's event is
      // stored with the outcome's.
      inner(e.half_stored_ms(), v1::TRACE_HALF_STORED)->set_detail(e.half_detail());
      e.clear_half_stored_ms();
      e.clear_half_detail();
    }
    if (e.delivered_ms() > 0) {
      // The delivery this event ends: stored with it.
      v1::TraceEvent* d = inner(e.delivered_ms(), v1::TRACE_DELIVERED);
      d->set_client(e.client());
      d->set_attempt(e.attempt());
    }
    events->push_back(std::move(e));
    return events->size() < 10000;
  });
}

void QueryService::TraceMessage(v1::TraceMessageRequest request, Responder responder) {
  Status s = ValidateMessageId(request.message_id());
  if (!s.ok()) return responder.Error(s);
  auto resp = std::make_shared<Responder>(std::move(responder));
  asio::post(pool_, [this, id = MessageId(std::move(*request.mutable_message_id())), resp] {
    std::vector<v1::TraceEvent> events;
    // Stored (or waiting as a delayed message): from the id index.
    Status scan = AddStoredEvents(id, &events);
    if (scan.ok()) scan = AddTracedEvents(id, &events);
    if (!scan.ok()) return resp->Error(scan);
    if (events.empty()) {
      return resp->Error(Status::NotFound("nothing is known of message '" + id.value() +
                                          "' (never sent, or older than the retention)"));
    }
    std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) {
      return a.time_ms() < b.time_ms();
    });
    v1::Frame frame;
    auto* out = frame.mutable_trace_message_response();
    for (auto& e : events) *out->add_events() = std::move(e);
    resp->Ok(std::move(frame));
  });
}

}  // namespace halfmq::broker
