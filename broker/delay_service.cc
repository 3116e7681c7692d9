#include "broker/delay_service.h"

#include <glog/logging.h>

#include "common/thread_name.h"

namespace halfmq::broker {

using storage::DelayedTable;

namespace {
constexpr size_t kBatch = 1000;
}  // namespace

DelayService::DelayService(storage::Store* store, TopicManager* topics, MessageLog* log,
                           Clock* clock, Metrics* metrics, std::chrono::milliseconds max_sleep)
    : store_(store),
      table_(store),
      topics_(topics),
      log_(log),
      clock_(clock),
      metrics_(metrics),
      max_sleep_(max_sleep) {}

DelayService::~DelayService() { Stop(); }

Status DelayService::Recover() {
  auto pending = table_.Count();
  if (!pending.ok()) return pending.status();
  metrics_->delayed_pending.store(*pending);
  LOG(INFO) << "recovered " << *pending << " delayed messages";
  return Status::Ok();
}

void DelayService::Start() { thread_ = std::thread([this] {
  SetCurrentThreadName("halfmq-delay");
  Loop();
}); }

void DelayService::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void DelayService::Store(const v1::Message& message, int64_t due_ms, storage::Batch* batch) {
  uint64_t unique;
  {
    MutexLock lock(&mu_);
    if (next_unique_ == 0) next_unique_ = static_cast<uint64_t>(clock_->NowMs()) << 20;
    unique = next_unique_++;
  }
  DelayedTable::Put(batch, {due_ms, unique}, message);
}

void DelayService::Scheduled(int64_t due_ms, int count) {
  Inc(metrics_->delayed_pending, count);
  MutexLock lock(&mu_);
  ++generation_;
  if (due_ms < sleeping_until_) cv_.SignalAll();
}

std::optional<int64_t> DelayService::NextDue() const {
  // An error only costs a sleep of at most max_sleep_.
  auto due = table_.EarliestDue();
  return due.ok() ? *due : std::nullopt;
}

void DelayService::Loop() {
  for (;;) {
    {
      MutexLock lock(&mu_);
      if (stop_) return;
    }
    uint64_t generation;
    {
      MutexLock lock(&mu_);
      generation = generation_;
    }
    size_t delivered = RunOnce();
    if (delivered == kBatch) continue;  // more may be due already
    int64_t now = clock_->NowMs();
    int64_t until = now + max_sleep_.count();
    // A read-only store (a failed write) moves nothing: no hurry then.
    auto next = store_->read_only() ? std::nullopt : NextDue();
    if (next) until = std::min(until, std::max(*next, now));
    MutexLock lock(&mu_);
    if (stop_) return;
    if (generation_ != generation) continue;  // something was scheduled meanwhile
    sleeping_until_ = until;
    if (until > now) cv_.WaitFor(&mu_, std::chrono::milliseconds(until - now));
    sleeping_until_ = 0;
  }
}

size_t DelayService::RunOnce() {
  int64_t now = clock_->NowMs();
  google::protobuf::RepeatedPtrField<v1::Message> due;
  storage::Batch batch = store_->NewBatch();
  Status s = table_.ScanDue(now, [&](DelayedTable::Slot slot, v1::Message* m) {
    DelayedTable::Delete(&batch, slot);
    if (m == nullptr) {
      LOG(ERROR) << "dropping a corrupt delayed message";
    } else if (auto t = topics_->Find(m->topic()); t == nullptr) {
      LOG(ERROR) << "dropping a delayed message of missing topic " << m->topic();
    } else if (m->queue_selector_case() == v1::Message::kQueueId &&
               m->queue_id() >= t->queue_count()) {
      LOG(ERROR) << "dropping a delayed message for queue " << m->queue_id() << " of " << m->topic()
                 << ", which has " << t->queue_count();
    } else {
      *due.Add() = std::move(*m);
    }
    return batch.count() < kBatch;
  });
  if (!s.ok()) {
    LOG(ERROR) << "scanning delayed messages: " << s;
    return 0;
  }
  size_t count = batch.count();
  if (count == 0) return 0;
  // The callback is dropped unrun when the store is read-only (a failed
  // write): the wait then ends with false, and nothing moved.
  storage::CommitWaiter written;
  if (due.empty()) {
    store_->Commit(std::move(batch), written.Callback());
  } else {
    auto entries = log_->PrepareStored(&due);
    // Topics and queues were checked above and neither is ever removed.
    CHECK(entries.ok()) << entries.status();
    log_->Append(std::move(entries).value(), std::move(batch), "",
                 [done = written.Callback()](std::vector<v1::SendResult>) { done(); });
  }
  if (!written.Wait()) return 0;
  Inc(metrics_->delayed_pending, -static_cast<int64_t>(count));
  Inc(metrics_->delayed_delivered, static_cast<int64_t>(due.size()));
  return count;
}

}  // namespace halfmq::broker
