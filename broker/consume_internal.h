// Helpers shared by the files of ConsumeService (consume_*.cc), and by them
// only: record conversions, offset arithmetic, the FIFO release step and the
// Join that answers a request split over several batches.
#ifndef HALFMQ_BROKER_CONSUME_INTERNAL_H_
#define HALFMQ_BROKER_CONSUME_INTERNAL_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "broker/responder.h"
#include "broker/subscription.h"
#include "broker/topic_manager.h"
#include "common/ids.h"
#include "proto/halfmq/v1/records.pb.h"
#include "storage/batch.h"

namespace halfmq::broker::consume {

// Longest reason a nack may give.
inline constexpr size_t kMaxReasonBytes = 1024;

// Answers a request whose work is split over several batches (one per
// subscription, or one per dead letter) once all of them are durable.
// Shared by the builder and every pending callback; thread-safe.
struct Join {
  std::atomic<int> remaining{1};  // starts at 1: the builder's own reference
  Responder responder;
  v1::Frame response;
  // One part is done; the last one answers OK with `response`.
  void Done() {
    if (remaining.fetch_sub(1) == 1) responder.Ok(std::move(response));
  }
};

v1::InflightRecord ToRecord(const Subscription::Inflight& e, const std::string& reason = "");
v1::CursorRecord ToRecord(const Subscription::Cursor& c);

// Fills a Receive response entry from a stored message (moved from).
void FillReceived(const Topic& topic, QueueId q, Offset offset, v1::StoredMessage&& stored,
                  uint32_t attempt, int64_t invisible_until, SubscriptionId sub,
                  v1::ReceivedMessage* out);

// The delivery of a FIFO message group's current message ended (ack, dead
// letter, message gone): makes the group's next waiting message
// deliverable and adds its entry to `batch`. Returns true if there was one
// (parked receives should be woken). No-op outside FIFO topics or groups.
bool ReleaseFifoNext(Subscription& sub, QueueId q, const std::string& message_group, int64_t now,
                     storage::Batch* batch) REQUIRES(sub.mu());

// Offset arithmetic.
inline Offset Next(Offset o) { return Offset(o.value() + 1); }
inline uint64_t Distance(Offset from, Offset to) { return to.value() - from.value(); }
inline Offset MinOffset(const QueueState& q) { return Offset(q.min_offset.load()); }
inline Offset DurableEnd(const QueueState& q) { return Offset(q.durable_end.load()); }

}  // namespace halfmq::broker::consume

#endif  // HALFMQ_BROKER_CONSUME_INTERNAL_H_
