// Admin: topics, subscriptions, lag, transactions, retry policies and dead
// letters, message lookup and trace, broker statistics. Thread-safe.
#ifndef HALFMQ_CLIENT_ADMIN_H_
#define HALFMQ_CLIENT_ADMIN_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"
#include "halfmq/message.h"
#include "halfmq/options.h"
#include "halfmq/transaction.h"

namespace halfmq {

struct TopicInfo {
  std::string name;
  uint32_t queues = 0;
  int64_t created_ms = 0;
  bool fifo = false;
};

struct TopicOptions {
  // 0 means the broker default (8).
  uint32_t queues = 0;
  // Within a message group (Message::MessageGroup), deliver a message only
  // after the previous one was acked or dead-lettered.
  bool fifo = false;
};

// ---------------------------------------------------------------------------
// Retry policies

// Delay before redelivery n (n = 1 after the first failed attempt):
// min(initial * multiplier^(n-1), max), spread by +-25 % with jitter so that
// messages that failed together are not retried together.
struct ExponentialBackoff {
  std::chrono::milliseconds initial{1000};
  double multiplier = 2.0;
  std::chrono::milliseconds max{std::chrono::minutes(5)};
  bool jitter = true;
};

// Redelivery n waits delays[min(n, size) - 1]: the last delay repeats.
struct FixedDelays {
  std::vector<std::chrono::milliseconds> delays;
};

// How a consumer group retries failed messages: after a Nack without an
// explicit delay and after the invisibility of a received message expires.
// std::monostate is the broker's default schedule.
struct RetryPolicy {
  std::variant<std::monostate, ExponentialBackoff, FixedDelays> schedule;
  // Deliveries before a failed message is dead-lettered; 0: the broker's
  // default (16).
  uint32_t max_attempts = 0;
};

// Client-side bounds of a RetryPolicy (the broker checks again).
inline constexpr uint32_t kMaxRetryAttempts = 1000;
inline constexpr size_t kMaxRetryDelays = 128;
inline constexpr double kMaxRetryMultiplier = 100.0;
// Every delay, initial and max at most this (as Consumer::Nack's delay).
inline constexpr std::chrono::milliseconds kMaxRetryDelay{12 * 3600 * 1000};

struct GroupConfig {
  std::string group;
  RetryPolicy retry_policy;
  // Where the group's dead letters go: "%DLQ.<group>", a normal topic that
  // can be consumed (by any group) and has lag.
  std::string dead_letter_topic;
};

// ---------------------------------------------------------------------------
// Dead letters

struct DeadLetter {
  std::string message_id;  // the original message's id
  DeadLetterInfo info;
  // Where it is in the dead-letter topic.
  std::string dead_letter_topic;
  uint32_t queue_id = 0;
  uint64_t offset = 0;
  // Broker ms of its redrive and the topic it went to; 0 and "" if it was
  // not redriven (a dead letter is redriven at most once).
  int64_t redriven_ms = 0;
  std::string redriven_to;
};

// Dead letters one Redrive call may name or ask for.
inline constexpr size_t kMaxRedriveBatch = 1024;

// The outcome of redriving one dead letter.
struct RedriveResult {
  std::string message_id;
  // OK, or NOT_FOUND (no such dead letter of the group), FAILED_PRECONDITION
  // (already redriven), or the error of storing it again.
  Status status;
  // Where it was stored again (when OK).
  std::string topic;
  uint32_t queue_id = 0;
  uint64_t offset = 0;
};

// ---------------------------------------------------------------------------
// Lookup and trace

// GetMessage and FindMessages return StoredMessage (halfmq/message.h): the
// message as stored, without the delivery fields a ReceivedMessage adds.

// A step in a message's life (TraceMessage).
enum class TraceKind {
  kUnknown,       // a kind this client version does not know (see kind_name)
  kStored,        // sent (detail: topic/queue/offset)
  kHalfStored,    // stored as a half message (detail: transaction id)
  kCommitted,     // its transaction committed
  kRolledBack,    // its transaction rolled back
  kChecked,       // its transaction was checked back
  kDelivered,     // delivered to `group` (attempt, client)
  kNacked,        // detail: the reason
  kAcked,         //
  kDeadLettered,  // detail: the reason
  kRedriven,      // detail: where to
  kDelayed,       // detail: the due time
  kDeduplicated,  // a retried send was answered with the original
  kExpired,       // its invisibility ended without an ack
};

struct TraceEvent {
  int64_t time_ms = 0;  // broker ms
  TraceKind kind = TraceKind::kUnknown;
  // Lowercase name of the kind: "stored", "half_stored", "delivered",
  // "dead_lettered", ...; for a kind unknown to this client "kind_<number>".
  std::string kind_name;
  std::string group;   // consumer or producer group, if any
  std::string client;  // client id of the connection, when known
  uint32_t attempt = 0;
  std::string detail;
  // kAcked, kNacked, kExpired, kDeadLettered: when the delivery this event
  // ends began (0 if not known; `client` is then that delivery's client).
  int64_t delivered_ms = 0;
};

struct QueueLag {
  std::string topic;
  uint32_t queue_id = 0;
  uint64_t min_offset = 0;        // earliest retained
  uint64_t end_offset = 0;        // next to be written
  uint64_t delivered_offset = 0;  // next the group has not received
  uint64_t lag = 0;               // not yet acked: undelivered + in flight
  uint64_t inflight = 0;          // received, not yet acked
  uint64_t skipped = 0;           // removed by retention before delivery
};

enum class StartPosition { kEarliest, kLatest };

// A transaction the broker still holds (neither committed nor rolled back),
// and the filter of ListTransactions.
enum class TxnListState {
  kAll,         // filter only: pending and unresolved
  kPending,     // waiting for the producer, or for a check's answer
  kUnresolved,  // out of checks; waits for an operator (ResolveTransaction)
};

struct TransactionInfo {
  std::string txn_id;
  std::string producer_group;
  TxnListState state = TxnListState::kPending;
  uint32_t checks = 0;        // checks delivered so far
  int64_t created_ms = 0;     // broker ms
  int64_t next_check_ms = 0;  // broker ms; 0 if none is scheduled
  std::vector<std::string> topics;
  uint32_t message_count = 0;
};


class Admin {
 public:
  static Result<std::unique_ptr<Admin>> Connect(const ClientOptions& options);
  ~Admin();
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // queues == 0 means the broker default (8). Errors: ALREADY_EXISTS,
  // INVALID_ARGUMENT (name, queue count).
  Result<TopicInfo> CreateTopic(const std::string& name, uint32_t queues = 0);
  // As above, with every topic option (e.g. fifo). Same errors.
  Result<TopicInfo> CreateTopic(const std::string& name, const TopicOptions& options);
  Result<std::vector<TopicInfo>> ListTopics();

  // Subscribes `group` to `topic` starting at its earliest retained or its
  // latest message. Errors: NOT_FOUND (topic), ALREADY_EXISTS.
  Status CreateSubscription(const std::string& group, const std::string& topic,
                            StartPosition start);

  // Lag of `group` per queue, for one topic or (empty) all it subscribes to.
  // Errors: NOT_FOUND if the group has no subscription.
  Result<std::vector<QueueLag>> GetLag(const std::string& group, const std::string& topic = "");

  // Pending and unresolved transactions (or only those in `state`), in
  // transaction id order, at most `limit` (0: the broker's default, 1000)
  // starting after the id `start_after`; page by passing the last id seen.
  // A page may hold fewer than `limit` (the broker bounds its bytes); the
  // listing is complete at the first empty page.
  Result<std::vector<TransactionInfo>> ListTransactions(TxnListState state = TxnListState::kAll,
                                                        uint32_t limit = 1000,
                                                        std::string start_after = "");

  // Commits or rolls back a transaction by hand (EndTransaction marked as
  // from an operator), typically an unresolved one. Repeating the settled
  // outcome returns it with applied == false. Errors: INVALID_ARGUMENT for
  // kUnknown or a bad id; FAILED_PRECONDITION if it was settled the other
  // way; NOT_FOUND if the broker has no such transaction.
  Result<EndResult> ResolveTransaction(const std::string& txn_id, TxnState commit_or_rollback);

  // Replaces the group's retry policy (the whole of it: a default-valued
  // field means the broker's default). It applies to failures from now on,
  // including of messages already in flight. Returns the stored config.
  // Errors: INVALID_ARGUMENT for a bad group name or a policy out of bounds
  // (an exponential initial delay of 0 or above max, a multiplier below 1
  // or above kMaxRetryMultiplier or not finite, no fixed delays or more
  // than kMaxRetryDelays, a delay above kMaxRetryDelay, max_attempts above
  // kMaxRetryAttempts).
  Result<GroupConfig> SetRetryPolicy(const std::string& group, const RetryPolicy& policy);
  // The group's retry policy and dead-letter topic (the defaults for a
  // group that never set one). Errors: INVALID_ARGUMENT for a bad name.
  Result<GroupConfig> GetGroupConfig(const std::string& group);

  // The group's dead letters in message id order, at most `limit` (0: the
  // broker's default, 1000) after the id `start_after`; only those not yet
  // redriven unless `include_redriven`. Page by passing the last id seen; the
  // listing is complete at the first empty page. Errors: INVALID_ARGUMENT.
  Result<std::vector<DeadLetter>> ListDeadLetters(const std::string& group, uint32_t limit = 1000,
                                                  std::string start_after = "",
                                                  bool include_redriven = false);

  // Sends dead letters of `group` back, each at most once. With an empty
  // `to_topic`, to the group itself on their original topic: only this
  // group receives them again, with attempts reset. With `to_topic`, as new
  // messages of that topic, for every group subscribed to it. With
  // `message_ids` (at most kMaxRedriveBatch, no repeats), those; without,
  // up to `limit` (0: the broker's default, 100; at most kMaxRedriveBatch)
  // of the group's dead letters not yet redriven,
  // oldest first, so repeating the call until it returns no results redrives
  // them all. One result per dead letter, in request order.
  // The call is retried like any other after a connection loss; a retry
  // whose first attempt got through reports the dead letters it had already
  // redriven as FAILED_PRECONDITION (without ids, it goes on to the next
  // ones): they are still redriven exactly once.
  // Errors: INVALID_ARGUMENT (names, ids, limit); NOT_FOUND for an unknown
  // `to_topic`; per dead letter, see RedriveResult::status.
  Result<std::vector<RedriveResult>> Redrive(const std::string& group,
                                             const std::vector<std::string>& message_ids,
                                             const std::string& to_topic = "", uint32_t limit = 0);

  // The message with this id, in `topic` or (empty) in every topic; more
  // than one if the id was used in several topics. Errors: NOT_FOUND if it
  // is not stored (never sent, still delayed, or removed by retention);
  // INVALID_ARGUMENT for a bad id or topic name.
  Result<std::vector<StoredMessage>> GetMessage(const std::string& message_id,
                                                const std::string& topic = "");
  // Messages of `topic` carrying the key `key`, oldest first, at most `limit`
  // (0: the broker's default, 100). Errors: NOT_FOUND (topic),
  // INVALID_ARGUMENT.
  Result<std::vector<StoredMessage>> FindMessages(const std::string& topic, const std::string& key,
                                                  uint32_t limit = 100);
  // The recorded life of a message, oldest first (the broker keeps traces for
  // a bounded time). Errors: NOT_FOUND if nothing is recorded for the id,
  // INVALID_ARGUMENT for a bad id.
  Result<std::vector<TraceEvent>> TraceMessage(const std::string& message_id);

  // Broker counters (see docs/operations.md).
  Result<std::map<std::string, int64_t>> GetBrokerStats();

 private:
  class Impl;
  explicit Admin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace halfmq

#endif  // HALFMQ_CLIENT_ADMIN_H_
