// Admin: topics, subscriptions, lag, transactions and broker statistics.
// Thread-safe.
#ifndef HALFMQ_CLIENT_ADMIN_H_
#define HALFMQ_CLIENT_ADMIN_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
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

// What EndTransaction settled.
struct EndResult {
  TxnState outcome = TxnState::kUnknown;  // kCommit or kRollback
  // True if this request settled the transaction, false if it already was.
  bool applied = false;
  // Where the committed messages were stored; empty for a rollback.
  std::vector<SendReceipt> receipts;
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

  // Broker counters (see docs/operations.md).
  Result<std::map<std::string, int64_t>> GetBrokerStats();

 private:
  class Impl;
  explicit Admin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace halfmq

#endif  // HALFMQ_CLIENT_ADMIN_H_
