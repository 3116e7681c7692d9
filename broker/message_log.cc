#include "broker/message_log.h"

#include <algorithm>
#include <map>

#include <glog/logging.h>

#include "common/limits.h"
#include "storage/message_index.h"

namespace halfmq::broker {

QueueId QueueForShardingKey(const std::string& key, uint32_t queue_count) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return QueueId(static_cast<uint32_t>(h % queue_count));
}

Status MessageLog::Validate(const v1::Message& m) const {
  HALFMQ_RETURN_IF_ERROR(ValidateName("topic", m.topic()));
  HALFMQ_RETURN_IF_ERROR(ValidateMessageId(m.message_id()));
  if (static_cast<size_t>(m.keys_size()) > kMaxKeysPerMessage) {
    return Status::InvalidArgument("a message has at most " + std::to_string(kMaxKeysPerMessage) +
                                   " keys");
  }
  size_t bytes = m.body().size() + m.tag().size() + m.message_id().size();
  for (const auto& k : m.keys()) {
    HALFMQ_RETURN_IF_ERROR(ValidateKey(k));
    bytes += k.size();
  }
  HALFMQ_RETURN_IF_ERROR(ValidateTag(m.tag()));
  if (!m.message_group().empty()) {
    if (m.message_group().size() > kMaxKeyBytes) {
      return Status::InvalidArgument("message group is longer than " +
                                     std::to_string(kMaxKeyBytes) + " bytes");
    }
    for (unsigned char c : m.message_group()) {
      if (c < 0x20 || c == 0x7f) return Status::InvalidArgument("message group has a control byte");
    }
  }
  if (m.queue_selector_case() == v1::Message::kShardingKey) {
    HALFMQ_RETURN_IF_ERROR(ValidateShardingKey(m.sharding_key()));
  }
  HALFMQ_RETURN_IF_ERROR(ValidateDelivery(m));
  if (m.properties_size() > static_cast<int>(kMaxProperties)) {
    return Status::InvalidArgument("a message has at most " + std::to_string(kMaxProperties) +
                                   " properties");
  }
  size_t property_bytes = 0;
  for (const auto& [name, value] : m.properties()) {
    if (name.empty()) return Status::InvalidArgument("property name is empty");
    for (unsigned char c : name) {
      if (c < 0x20 || c == 0x7f) {
        return Status::InvalidArgument("property name has a control byte");
      }
    }
    property_bytes += name.size() + value.size();
  }
  if (property_bytes > kMaxPropertyBytes) {
    return Status::InvalidArgument("properties exceed " + std::to_string(kMaxPropertyBytes) +
                                   " bytes");
  }
  bytes += property_bytes;
  if (bytes > limits_.max_message_bytes) {
    return Status::InvalidArgument("message of " + std::to_string(bytes) +
                                   " bytes exceeds the limit of " +
                                   std::to_string(limits_.max_message_bytes));
  }
  return Status::Ok();
}

Status MessageLog::ValidateDelivery(const v1::Message& m) const {
  // delay_ms is unsigned on the wire, so only deliver_at_ms can be negative.
  // A time before the epoch is a client bug (an unset or wrapped value), not
  // "at once": refuse it rather than deliver it now.
  if (m.deliver_at_ms() < 0) {
    return Status::InvalidArgument("deliver_at_ms is " + std::to_string(m.deliver_at_ms()) +
                                   "; it must be >= 0 (ms since the epoch)");
  }
  if (m.deliver_at_ms() != 0 && m.delay_ms() != 0) {
    return Status::InvalidArgument("give deliver_at_ms or delay_ms, not both");
  }
  // Both sides are >= 0, so the difference cannot overflow.
  if (static_cast<int64_t>(m.delay_ms()) > limits_.max_delay_ms ||
      m.deliver_at_ms() - clock_->NowMs() > limits_.max_delay_ms) {
    return Status::InvalidArgument("delivery is more than --max_delay_ms=" +
                                   std::to_string(limits_.max_delay_ms) + " ms away");
  }
  return Status::Ok();
}

std::optional<int64_t> MessageLog::DueTime(const v1::Message& m, int64_t now) {
  int64_t due = m.delay_ms() != 0 ? now + m.delay_ms() : m.deliver_at_ms();
  if (due <= now) return std::nullopt;
  return due;
}

Result<std::vector<AppendEntry>> MessageLog::Prepare(
    google::protobuf::RepeatedPtrField<v1::Message>* messages) const {
  if (messages->empty()) return Status::InvalidArgument("no messages to send");
  if (static_cast<size_t>(messages->size()) > kMaxMessagesPerSend) {
    return Status::InvalidArgument("at most " + std::to_string(kMaxMessagesPerSend) +
                                   " messages per request");
  }
  return Resolve(messages, /*validate=*/true);
}

Result<std::vector<AppendEntry>> MessageLog::PrepareStored(
    google::protobuf::RepeatedPtrField<v1::Message>* messages) const {
  return Resolve(messages, /*validate=*/false);
}

Result<std::vector<AppendEntry>> MessageLog::Resolve(
    google::protobuf::RepeatedPtrField<v1::Message>* messages, bool validate) const {
  std::vector<AppendEntry> entries;
  entries.reserve(messages->size());
  std::map<std::string, QueueId> round_robin;  // one queue per topic per call
  for (v1::Message& m : *messages) {
    if (validate) HALFMQ_RETURN_IF_ERROR(Validate(m));
    AppendEntry e;
    e.topic = topics_->Find(m.topic());
    if (e.topic == nullptr) {
      return Status::NotFound("topic '" + m.topic() + "' does not exist");
    }
    if (!m.message_group().empty() && m.queue_selector_case() != v1::Message::kQueueId) {
      // A message group is a sharding key: its messages keep one queue.
      e.queue = QueueForShardingKey(m.message_group(), e.topic->queue_count());
    } else {
      switch (m.queue_selector_case()) {
        case v1::Message::kQueueId:
          if (m.queue_id() >= e.topic->queue_count()) {
            return Status::InvalidArgument("queue " + std::to_string(m.queue_id()) +
                                           " out of range: topic '" + m.topic() + "' has " +
                                           std::to_string(e.topic->queue_count()) + " queues");
          }
          e.queue = QueueId(m.queue_id());
          break;
        case v1::Message::kShardingKey:
          e.queue = QueueForShardingKey(m.sharding_key(), e.topic->queue_count());
          break;
        case v1::Message::QUEUE_SELECTOR_NOT_SET: {
          auto it = round_robin.find(m.topic());
          if (it == round_robin.end()) {
            it = round_robin.emplace(m.topic(), e.topic->NextRoundRobinQueue()).first;
          }
          e.queue = it->second;
          break;
        }
      }
    }
    e.message_id = m.message_id();
    v1::StoredMessage& r = e.record;
    r.set_message_id(m.message_id());
    for (auto& k : *m.mutable_keys()) r.add_keys(std::move(k));
    r.set_tag(std::move(*m.mutable_tag()));
    for (const auto& [k, v] : m.properties()) (*r.mutable_properties())[k] = v;
    r.set_body(std::move(*m.mutable_body()));
    r.set_born_time_ms(m.born_time_ms());
    r.set_message_group(std::move(*m.mutable_message_group()));
    entries.push_back(std::move(e));
  }
  return entries;
}

// Locks are taken in (topic id, queue) order, which every appender follows,
// so concurrent multi-queue appends cannot deadlock. The analysis cannot
// follow a variable number of locks, hence NO_THREAD_SAFETY_ANALYSIS.
void MessageLog::Append(std::vector<AppendEntry> entries, storage::Batch batch,
                        const std::string& txn_id,
                        std::function<void(std::vector<v1::SendResult>)> done,
                        Finalize finalize) NO_THREAD_SAFETY_ANALYSIS {
  using QueueKey = std::pair<uint32_t, uint32_t>;
  struct Touched {
    QueueState* state;
    Topic* topic;
    uint64_t end = 0;
  };
  std::map<QueueKey, Touched> touched;
  for (auto& e : entries) {
    touched[{e.topic->id().value(), e.queue.value()}] =
        Touched{&e.topic->queue(e.queue), e.topic.get()};
  }
  int64_t now = clock_->NowMs();
  std::vector<v1::SendResult> results(entries.size());
  std::vector<std::shared_ptr<Topic>> keep_alive;
  std::string value;
  for (auto& [key, t] : touched) t.state->mu.Lock();
  for (size_t i = 0; i < entries.size(); ++i) {
    AppendEntry& e = entries[i];
    Touched& t = touched[{e.topic->id().value(), e.queue.value()}];
    uint64_t offset = t.state->next_offset++;
    t.end = offset + 1;
    e.record.set_store_time_ms(now);
    if (!txn_id.empty()) e.record.set_txn_id(txn_id);
    value.clear();
    e.record.SerializeToString(&value);
    batch.PutMessage(e.topic->id(), e.queue, Offset(offset), value);
    // Lookups by id (and the producer dedup window) and by key, in the same
    // batch as the message.
    v1::IndexRecord index;
    index.set_queue_id(e.queue.value());
    index.set_offset(offset);
    index.set_store_time_ms(now);
    storage::MessageIndex::PutId(&batch, MessageId(e.message_id), e.topic->id(), index);
    for (const auto& key : e.record.keys()) {
      storage::MessageIndex::PutKey(&batch, e.topic->id(), key, {now, e.queue, Offset(offset)});
    }
    v1::SendResult& r = results[i];
    r.set_message_id(e.message_id);
    r.set_topic(e.topic->name());
    r.set_queue_id(e.queue.value());
    r.set_offset(offset);
    r.set_store_time_ms(now);
    Inc(metrics_->send_bytes, static_cast<int64_t>(e.record.body().size()));
    keep_alive.push_back(e.topic);
  }
  if (finalize) finalize(results, &batch);
  std::vector<std::pair<QueueState*, uint64_t>> ends;
  std::vector<Topic*> topics;
  for (auto& [key, t] : touched) {
    ends.emplace_back(t.state, t.end);
    if (topics.empty() || topics.back() != t.topic) topics.push_back(t.topic);
  }
  size_t count = entries.size();
  store_->Commit(std::move(batch), [this, ends = std::move(ends), topics = std::move(topics),
                                    keep_alive = std::move(keep_alive), count,
                                    results = std::move(results),
                                    done = std::move(done)]() mutable {
    for (auto& [state, end] : ends) {
      uint64_t cur = state->durable_end.load(std::memory_order_relaxed);
      while (cur < end && !state->durable_end.compare_exchange_weak(cur, end)) {
      }
    }
    Inc(metrics_->messages_sent, static_cast<int64_t>(count));
    for (Topic* t : topics) t->NotifyAppend();
    done(std::move(results));
  });
  for (auto it = touched.rbegin(); it != touched.rend(); ++it) it->second.state->mu.Unlock();
}

}  // namespace halfmq::broker
