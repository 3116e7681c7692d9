#include "broker/topic_manager.h"

#include <glog/logging.h>

#include "common/limits.h"

namespace halfmq::broker {

Topic::Topic(TopicId id, std::string name, uint32_t queues, int64_t created_ms, bool fifo,
             bool internal)
    : id_(id), name_(std::move(name)), created_ms_(created_ms), fifo_(fifo), internal_(internal) {
  queues_.reserve(queues);
  for (uint32_t i = 0; i < queues; ++i) queues_.push_back(std::make_unique<QueueState>());
}

void Topic::AddListener(const std::shared_ptr<AppendListener>& listener) {
  MutexLock lock(&listeners_mu_);
  std::erase_if(listeners_, [](const std::weak_ptr<AppendListener>& w) { return w.expired(); });
  listeners_.push_back(listener);
}

void Topic::NotifyAppend() {
  std::vector<std::shared_ptr<AppendListener>> listeners;
  {
    MutexLock lock(&listeners_mu_);
    listeners.reserve(listeners_.size());
    for (const auto& w : listeners_) {
      if (auto l = w.lock()) listeners.push_back(std::move(l));
    }
  }
  for (auto& l : listeners) l->OnAppend();
}

v1::TopicInfo Topic::Info() const {
  v1::TopicInfo info;
  info.set_name(name_);
  info.set_queues(queue_count());
  info.set_created_ms(created_ms_);
  info.set_fifo(fifo_);
  return info;
}

Status TopicManager::Recover() {
  std::vector<v1::TopicRecord> records;
  HALFMQ_RETURN_IF_ERROR(store_->LoadTopics(&records));
  MutexLock lock(&mu_);
  for (const auto& r : records) {
    auto topic = std::make_shared<Topic>(TopicId(r.id()), r.name(), r.queues(), r.created_ms(),
                                         r.fifo(), r.internal());
    for (uint32_t q = 0; q < r.queues(); ++q) {
      auto last = store_->LastMessageOffset(topic->id(), QueueId(q));
      if (!last.ok()) return last.status();
      auto low = store_->QueueLow(topic->id(), QueueId(q));
      if (!low.ok()) return low.status();
      uint64_t min = low->has_value() ? (*low)->value() : 0;
      uint64_t end = last->has_value() ? (*last)->value() + 1 : 0;
      if (end < min) end = min;
      QueueState& qs = topic->queue(QueueId(q));
      {
        MutexLock ql(&qs.mu);
        qs.next_offset = end;
      }
      qs.durable_end.store(end);
      qs.min_offset.store(min);
    }
    next_id_ = std::max(next_id_, r.id() + 1);
    by_id_[r.id()] = topic;
    by_name_[r.name()] = std::move(topic);
  }
  LOG(INFO) << "recovered " << records.size() << " topics";
  return Status::Ok();
}

void TopicManager::Create(const std::string& name, uint32_t queues, bool fifo,
                          TopicCallback done) {
  Status valid = ValidateName("topic", name);
  if (!valid.ok()) return done(valid);
  if (queues == 0) queues = kDefaultQueuesPerTopic;
  if (queues > kMaxQueuesPerTopic) {
    return done(Status::InvalidArgument("a topic has at most " +
                                        std::to_string(kMaxQueuesPerTopic) + " queues"));
  }
  v1::TopicRecord record;
  record.set_name(name);
  record.set_queues(queues);
  record.set_fifo(fifo);
  {
    MutexLock lock(&mu_);
    if (!by_name_.count(name) && !creating_.count(name)) {
      CreateLocked(std::move(record), std::move(done));
      return;
    }
  }
  done(Status::AlreadyExists("topic '" + name + "' already exists"));
}

void TopicManager::EnsureInternal(const std::string& name, uint32_t queues, TopicCallback done) {
  CHECK(!name.empty() && name[0] == '%') << name;
  std::shared_ptr<Topic> existing;
  {
    MutexLock lock(&mu_);
    auto it = by_name_.find(name);
    if (it != by_name_.end()) {
      existing = it->second;
    } else if (auto c = creating_.find(name); c != creating_.end()) {
      c->second.push_back(std::move(done));
      return;
    } else {
      v1::TopicRecord record;
      record.set_name(name);
      record.set_queues(queues);
      record.set_internal(true);
      CreateLocked(std::move(record), std::move(done));
      return;
    }
  }
  done(std::move(existing));
}

void TopicManager::CreateLocked(v1::TopicRecord record, TopicCallback done) {
  creating_[record.name()];  // others wait behind this creation
  record.set_id(next_id_++);
  record.set_created_ms(clock_->NowMs());
  storage::Batch batch = store_->NewBatch();
  batch.PutTopic(record);
  store_->Commit(std::move(batch), [this, record, done = std::move(done)] {
    auto topic = std::make_shared<Topic>(TopicId(record.id()), record.name(), record.queues(),
                                         record.created_ms(), record.fifo(), record.internal());
    std::vector<TopicCallback> waiting;
    {
      MutexLock lock(&mu_);
      waiting = std::move(creating_[record.name()]);
      creating_.erase(record.name());
      by_id_[record.id()] = topic;
      by_name_[record.name()] = topic;
    }
    LOG(INFO) << "created topic " << record.name() << " with " << record.queues() << " queues"
              << (record.fifo() ? " (fifo)" : "") << (record.internal() ? " (internal)" : "");
    done(topic);
    for (auto& w : waiting) w(topic);
  });
}

std::shared_ptr<Topic> TopicManager::Find(const std::string& name) const {
  MutexLock lock(&mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::shared_ptr<Topic> TopicManager::FindById(TopicId id) const {
  MutexLock lock(&mu_);
  auto it = by_id_.find(id.value());
  return it == by_id_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Topic>> TopicManager::List() const {
  MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Topic>> out;
  out.reserve(by_name_.size());
  for (const auto& [name, topic] : by_name_) out.push_back(topic);
  return out;
}

}  // namespace halfmq::broker
