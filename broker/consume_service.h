// ConsumeService: consumer groups, subscriptions, Receive (with long
// polling), Ack, Nack, ChangeInvisibleDuration, lag, retry policies, dead
// letters and redrive.
//
// See subscription.h for the per-group state and its threading. This class
// owns the subscriptions, creates them (durably) on first use, and runs the
// receive algorithm:
//   1. PlanReceive: under the subscription lock, pick in-flight messages
//      whose invisibility ended (redeliveries) and plan new offsets per queue,
//   2. ReadPlanned: read those messages from RocksDB (on the blocking pool),
//   3. RecordDeliveries: under the lock again, re-check each pick, record
//      the deliveries, and commit them (in-flight entries + cursors) as one
//      batch; answer once the batch is durable.
// With nothing to deliver and a wait, the receive parks as a LongPoll.
//
// One class over several files, by concern:
//   consume_service.cc       start-up, subscriptions, lag, shutdown
//   consume_receive.cc       Receive and its three phases, long polls
//   consume_ack.cc           Ack, Nack, ChangeInvisibleDuration
//   consume_dead_letter.cc   dead-letter moves, the sweeper, ListDeadLetters
//   consume_redrive.cc       Redrive
//   consume_group_config.cc  retry policies, Set/GetGroupConfig
// What the group code stores (configs, dead-letter records) goes through
// storage::GroupTable.
//
// Owned by the Broker; lives from start-up (Recover, Start) to Stop and
// destruction. Thread-safe.
#ifndef HALFMQ_BROKER_CONSUME_SERVICE_H_
#define HALFMQ_BROKER_CONSUME_SERVICE_H_

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/message_log.h"
#include "broker/metrics.h"
#include "broker/receipt_handle.h"
#include "broker/responder.h"
#include "broker/subscription.h"
#include "broker/topic_manager.h"
#include "broker/tracer.h"
#include "common/asio.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "storage/group_table.h"
#include "storage/store.h"

namespace halfmq::broker {

namespace consume {
struct Join;
}

struct ConsumeOptions {
  uint32_t default_invisible_ms = 30000;
  size_t max_inflight_per_subscription = 100000;
  // Upper bound on the bytes of messages in one Receive response.
  size_t max_receive_bytes = 8 << 20;
  // How often final deliveries whose invisibility ended are dead-lettered.
  std::chrono::milliseconds dead_letter_interval{100};
  // Queues of a dead-letter topic.
  uint32_t dead_letter_queues = 1;
};

// The retry policy groups get until they set one: exponential backoff from
// 1 s, doubling, up to 5 minutes, with jitter; 16 deliveries.
v1::RetryPolicy DefaultRetryPolicy();
// Validates a policy. Errors: INVALID_ARGUMENT naming the field.
Status ValidateRetryPolicy(const v1::RetryPolicy& policy);
uint32_t MaxAttempts(const v1::RetryPolicy& policy);
// Delay before the delivery after `attempt` failed ones (attempt >= 1);
// `unit` in [0, 1) drives the jitter.
int64_t RetryDelayMs(const v1::RetryPolicy& policy, uint32_t attempt, double unit);
// Name of a group's dead-letter topic.
std::string DeadLetterTopic(const ConsumerGroup& group);

class ConsumeService {
 public:
  ConsumeService(storage::Store* store, TopicManager* topics, MessageLog* log, Tracer* tracer,
                 Clock* clock, Metrics* metrics, ConsumeOptions options, asio::io_context& io,
                 asio::thread_pool& pool);
  ~ConsumeService();

  // Loads subscriptions, cursors and in-flight entries. Start-up only, after
  // TopicManager::Recover.
  Status Recover();

  // `client` (the connection's client id) is recorded in traces.
  void Receive(v1::ReceiveRequest request, Responder responder, std::string client = "");
  void Ack(v1::AckRequest request, Responder responder);
  void Nack(v1::NackRequest request, Responder responder);
  void ChangeInvisibleDuration(v1::ChangeInvisibleDurationRequest request, Responder responder);
  void CreateSubscription(v1::CreateSubscriptionRequest request, Responder responder);
  void GetLag(v1::GetLagRequest request, Responder responder);
  void SetGroupConfig(v1::SetGroupConfigRequest request, Responder responder);
  void GetGroupConfig(v1::GetGroupConfigRequest request, Responder responder);
  void ListDeadLetters(v1::ListDeadLettersRequest request, Responder responder);
  void Redrive(v1::RedriveRequest request, Responder responder);

  // Starts / stops the dead-letter sweeper thread.
  void Start();
  void Stop() EXCLUDES(sweep_mu_);
  // Dead-letters final deliveries whose invisibility ended; returns how
  // many it started moving. Public for tests.
  size_t SweepDeadLettersOnce();

  // Answers every parked long poll now and makes new receives answer at
  // once. Part of graceful shutdown.
  void Shutdown();

  // For TraceMessage: a DELIVERED event for each subscription of `topic`
  // whose current delivery of the message at (queue, offset) has not ended
  // in an ack or a nack yet (its event is written when it ends).
  std::vector<v1::TraceEvent> OpenDeliveries(TopicId topic, QueueId queue, Offset offset) const
      EXCLUDES(mu_);

 private:
  struct ReceiveJob;
  struct ReceivePlan;
  struct DeliveryRound;
  class RedriveClaim;
  struct RedrivePick;
  using SubscriptionCallback = std::function<void(Result<std::shared_ptr<Subscription>>)>;

  // A dead-letter move to start once the caller released the lock.
  struct DeadLetterMove {
    std::shared_ptr<Subscription> sub{};
    QueueId queue;
    Offset offset;
    uint32_t attempt = 0;
    std::string reason{};  // empty: its invisibility ended
  };

  // --- Subscriptions (consume_service.cc) ------------------------------------
  // Finds the subscription or creates it durably; `done` may run on the
  // committer thread. With `must_create`, an existing one is ALREADY_EXISTS.
  void GetOrCreate(const ConsumerGroup& group, std::shared_ptr<Topic> topic, v1::StartPosition start,
                   bool must_create, SubscriptionCallback done) EXCLUDES(mu_);
  std::shared_ptr<Subscription> FindById(SubscriptionId id) const EXCLUDES(mu_);
  // Start-up: one stored subscription, its cursors and in-flight entries.
  // Returns the number of in-flight entries.
  Result<size_t> RecoverSubscription(const v1::SubscriptionRecord& r) EXCLUDES(mu_);
  std::vector<std::shared_ptr<Subscription>> GroupSubscriptions(const ConsumerGroup& group) const
      EXCLUDES(mu_);

  // --- Receive (consume_receive.cc) ------------------------------------------
  void ScheduleReceive(std::shared_ptr<ReceiveJob> job);
  // Runs rounds of the three phases until one answers or parks.
  void RunReceive(std::shared_ptr<ReceiveJob> job);
  // Phase 1: what to deliver, without changing anything.
  ReceivePlan PlanReceive(const ReceiveJob& job);
  // Phase 2: reads the planned messages, within the response byte bound.
  Status ReadPlanned(const Topic& topic, ReceivePlan* plan);
  // How a round of phase 3 ended.
  enum class RoundEnd {
    kAnswer,             // the caller answers with the response now
    kAnswerWhenDurable,  // answered by the commit of the round's batch
    kParked,             // a long poll resumes the receive later
    kRetry,              // run another round now
  };
  // Phase 3: records and commits the deliveries of `plan`, fills `response`.
  RoundEnd RecordDeliveries(const std::shared_ptr<ReceiveJob>& job, ReceivePlan* plan,
                            v1::Frame* response);
  void RecordRedeliveries(Subscription& sub, const DeliveryRound& round, ReceivePlan* plan)
      REQUIRES(sub.mu());
  void RecordNewDeliveries(Subscription& sub, const DeliveryRound& round, ReceivePlan* plan)
      REQUIRES(sub.mu());
  // When a delivery of `attempt` becomes deliverable again.
  int64_t VisibleAfter(const DeliveryRound& round, uint32_t attempt);
  RoundEnd EndRound(Subscription& sub, const std::shared_ptr<ReceiveJob>& job,
                    const ReceivePlan& plan, const DeliveryRound& round) REQUIRES(sub.mu());
  // Parks the receive until an append or wake-up, the next redelivery, or
  // its deadline.
  void Park(Subscription& sub, const std::shared_ptr<ReceiveJob>& job, int64_t now)
      REQUIRES(sub.mu());

  // --- Ack, Nack, visibility (consume_ack.cc) --------------------------------
  // Receipt handles of one ack/nack, by subscription: the indexes of the
  // handles each subscription owns. A handle that names no subscription of
  // `group` (or no queue of it) gets INVALID_ARGUMENT in `results` instead.
  struct HandlesBySubscription {
    std::map<SubscriptionId, std::vector<int>> indexes;
    std::map<SubscriptionId, std::shared_ptr<Subscription>> subs;
  };
  HandlesBySubscription GroupHandles(const ConsumerGroup& group,
                                     const google::protobuf::RepeatedPtrField<std::string>& handles,
                                     google::protobuf::RepeatedPtrField<v1::Status>* results) const;
  // Acks one delivery: erases its entry, notes its offset in `acked`, adds
  // its trace and any FIFO release to `batch`; sets `*wake` if parked
  // receives may proceed. Errors go to `result`.
  void AckOne(Subscription& sub, const ReceiptHandle& h, v1::Status* result,
              storage::Batch* batch, std::map<QueueId, std::vector<Offset>>* acked, bool* wake)
      REQUIRES(sub.mu());
  // Adds the deletes of acked in-flight entries (offsets per queue, already
  // erased from memory) to `batch`: a range delete for a run with nothing
  // else in flight inside it, point deletes otherwise. Sorts `acked`.
  static void DeleteAcked(Subscription& sub, std::map<QueueId, std::vector<Offset>>& acked,
                          storage::Batch* batch) REQUIRES(sub.mu());
  // Shared by Nack and ChangeInvisibleDuration: applies a visibility change
  // to one delivery. A nack of a final attempt returns a DeadLetterMove to
  // start instead.
  struct VisibilityChange {
    bool is_nack = false;
    std::optional<uint32_t> delay_ms;  // nack: explicit delay; change: duration
    std::string reason;
  };
  Result<int64_t> SetVisibility(Subscription* sub, const ConsumerGroup& group,
                                const std::string& handle, const VisibilityChange& change,
                                const v1::RetryPolicy& policy, storage::Batch* batch,
                                std::optional<DeadLetterMove>* dead_letter) REQUIRES(sub->mu());

  // --- Retry policies (consume_group_config.cc) ------------------------------
  v1::RetryPolicy PolicyOf(const ConsumerGroup& group) const EXCLUDES(groups_mu_);
  int64_t RetryDelay(const v1::RetryPolicy& policy, uint32_t attempt) EXCLUDES(rng_mu_);

  // --- Dead letters (consume_dead_letter.cc) ---------------------------------
  // Moves one final delivery to the group's dead-letter topic, atomically
  // (in-flight entry removed, dead letter appended and indexed, one batch).
  // The caller marked it moving. `done` runs once (any thread).
  void MoveToDeadLetter(DeadLetterMove move, std::function<void(Status)> done);
  // MoveToDeadLetter on the blocking pool: reads the message, then the
  // reason, then ensures the dead-letter topic.
  void ReadForDeadLetter(DeadLetterMove move, std::function<void(Status)> done);
  // The message was removed by retention meanwhile: forgets the delivery.
  void ForgetDelivery(const DeadLetterMove& move, std::function<void(Status)> done);
  void FinishDeadLetter(DeadLetterMove move, v1::StoredMessage stored, std::string reason,
                        std::shared_ptr<Topic> dlq, std::function<void(Status)> done);
  // Appends the dead-letter message (with `info`) to `dlq` in `batch` and
  // stores its record, at the offset it gets, in the same write.
  void AppendDeadLetter(const Subscription& sub, const v1::DeadLetterInfo& info,
                        v1::StoredMessage stored, const std::shared_ptr<Topic>& dlq,
                        storage::Batch batch, std::function<void(Status)> done);
  void SweepLoop() EXCLUDES(sweep_mu_);

  // --- Redrive (consume_redrive.cc) ------------------------------------------
  // Claims a dead letter for this redrive; null if another redrive has it.
  std::shared_ptr<RedriveClaim> Claim(const ConsumerGroup& group, const MessageId& id)
      EXCLUDES(groups_mu_);
  // The dead letters a redrive names, or the first ones not redriven yet.
  // Errors: the scan's (RocksDB, corrupt record).
  Result<std::vector<RedrivePick>> PickDeadLetters(const v1::RedriveRequest& request);
  // Redrives one picked dead letter; an error goes into its result.
  Status RedriveOne(const ConsumerGroup& group, RedrivePick pick, const std::shared_ptr<Topic>& to,
                    const std::shared_ptr<consume::Join>& join, int index);
  Status RedriveToOriginal(const ConsumerGroup& group, RedrivePick pick, int64_t now,
                           const std::shared_ptr<consume::Join>& join, v1::RedriveResult* result);
  Status RedriveCopy(const ConsumerGroup& group, RedrivePick pick, int64_t now,
                     const std::shared_ptr<Topic>& to, const std::shared_ptr<consume::Join>& join,
                     int index);

  storage::Store* const store_;
  const storage::GroupTable group_table_;
  TopicManager* const topics_;
  MessageLog* const log_;
  Tracer* const tracer_;
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
  std::map<std::pair<ConsumerGroup, std::string>, Entry> subs_ GUARDED_BY(mu_);
  std::map<SubscriptionId, std::shared_ptr<Subscription>> by_id_ GUARDED_BY(mu_);
  uint32_t next_id_ GUARDED_BY(mu_) = 1;

  mutable Mutex groups_mu_;
  std::map<ConsumerGroup, v1::RetryPolicy> policies_ GUARDED_BY(groups_mu_);
  // (group, message id) of dead letters being redriven right now.
  std::set<std::pair<ConsumerGroup, MessageId>> redriving_ GUARDED_BY(groups_mu_);

  Mutex rng_mu_;
  std::mt19937_64 rng_ GUARDED_BY(rng_mu_){std::random_device()()};

  Mutex sweep_mu_;
  CondVar sweep_cv_;
  bool stop_ GUARDED_BY(sweep_mu_) = false;
  std::thread sweeper_;
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_CONSUME_SERVICE_H_
