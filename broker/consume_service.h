// ConsumeService: consumer groups, subscriptions, Receive (with long
// polling), Ack, Nack, ChangeInvisibleDuration, lag.
//
// See subscription.h for the per-group state and its threading. This class
// owns the subscriptions, creates them (durably) on first use, and runs the
// receive algorithm:
//   1. under the subscription lock, pick in-flight messages whose
//      invisibility ended (redeliveries) and plan new offsets per queue,
//   2. read those messages from RocksDB (on the blocking pool),
//   3. under the lock again, re-check each pick, record the deliveries, and
//      commit them (in-flight entries + cursors) as one batch,
//   4. answer once the batch is durable.
// With nothing to deliver and a wait, the receive parks as a LongPoll.
//
// Thread-safe.
#ifndef HALFMQ_BROKER_CONSUME_SERVICE_H_
#define HALFMQ_BROKER_CONSUME_SERVICE_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/metrics.h"
#include "broker/responder.h"
#include "broker/subscription.h"
#include "broker/topic_manager.h"
#include "common/asio.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "storage/store.h"

namespace halfmq::broker {

struct ConsumeOptions {
  uint32_t default_invisible_ms = 30000;
  size_t max_inflight_per_subscription = 100000;
  // Upper bound on the bytes of messages in one Receive response.
  size_t max_receive_bytes = 8 << 20;
};

class ConsumeService {
 public:
  ConsumeService(storage::Store* store, TopicManager* topics, Clock* clock, Metrics* metrics,
                 ConsumeOptions options, asio::io_context& io, asio::thread_pool& pool);

  // Loads subscriptions, cursors and in-flight entries. Start-up only, after
  // TopicManager::Recover.
  Status Recover();

  void Receive(v1::ReceiveRequest request, Responder responder);
  void Ack(v1::AckRequest request, Responder responder);
  void Nack(v1::NackRequest request, Responder responder);
  void ChangeInvisibleDuration(v1::ChangeInvisibleDurationRequest request, Responder responder);
  void CreateSubscription(v1::CreateSubscriptionRequest request, Responder responder);
  void GetLag(v1::GetLagRequest request, Responder responder);

  // Answers every parked long poll now and makes new receives answer at
  // once. Part of graceful shutdown.
  void Shutdown();

 private:
  struct ReceiveJob;
  using SubscriptionCallback = std::function<void(Result<std::shared_ptr<Subscription>>)>;

  // Finds the subscription or creates it durably; `done` may run on the
  // committer thread. With `must_create`, an existing one is ALREADY_EXISTS.
  void GetOrCreate(const std::string& group, std::shared_ptr<Topic> topic, v1::StartPosition start,
                   bool must_create, SubscriptionCallback done) EXCLUDES(mu_);
  std::shared_ptr<Subscription> FindById(SubscriptionId id) const EXCLUDES(mu_);
  std::vector<std::shared_ptr<Subscription>> GroupSubscriptions(const std::string& group) const
      EXCLUDES(mu_);

  void ScheduleReceive(std::shared_ptr<ReceiveJob> job);
  void RunReceive(std::shared_ptr<ReceiveJob> job);

  // Shared by Nack and ChangeInvisibleDuration: sets a delivery's visibility
  // deadline. Returns the new deadline or an error for the handle.
  Result<int64_t> SetVisibility(Subscription* sub, const std::string& group,
                                const std::string& handle, int64_t visible_at_ms,
                                bool is_nack, storage::Batch* batch);

  storage::Store* const store_;
  TopicManager* const topics_;
  Clock* const clock_;
  Metrics* const metrics_;
  const ConsumeOptions options_;
  asio::io_context& io_;
  asio::thread_pool& pool_;
  std::atomic<bool> shutting_down_{false};

  struct Entry {
    std::shared_ptr<Subscription> sub;         // null while being created
    std::vector<SubscriptionCallback> waiting;  // callers waiting for creation
  };
  mutable Mutex mu_;
  // Keyed by (group, topic name).
  std::map<std::pair<std::string, std::string>, Entry> subs_ GUARDED_BY(mu_);
  std::map<uint32_t, std::shared_ptr<Subscription>> by_id_ GUARDED_BY(mu_);
  uint32_t next_id_ GUARDED_BY(mu_) = 1;
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_CONSUME_SERVICE_H_
