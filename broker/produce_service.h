// ProduceService: Send (single messages and atomic batches), with producer
// dedup: a message id already stored in the topic within the dedup window
// is answered with its original result and stored again nowhere.
//
// With dedup on (the default), a send runs on the blocking pool under a
// KeyGate of its (topic, message id) pairs, because it reads the id index;
// with --dedup_window_ms=0 it runs on the network thread. Either way the
// write goes through MessageLog and the committer (delayed messages into the
// DelayService's keyspace, in the same batch), and the answer is sent once
// the messages are durable. Thread-safe.
#ifndef HALFMQ_BROKER_PRODUCE_SERVICE_H_
#define HALFMQ_BROKER_PRODUCE_SERVICE_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "broker/delay_service.h"
#include "broker/key_gate.h"
#include "broker/message_log.h"
#include "broker/metrics.h"
#include "broker/responder.h"
#include "broker/tracer.h"
#include "common/asio.h"
#include "common/clock.h"
#include "storage/store.h"

namespace halfmq::broker {

class ProduceService {
 public:
  ProduceService(storage::Store* store, MessageLog* log, DelayService* delays, Tracer* tracer,
                 Clock* clock, Metrics* metrics, int64_t dedup_window_ms, asio::thread_pool& pool)
      : store_(store),
        log_(log),
        delays_(delays),
        tracer_(tracer),
        clock_(clock),
        metrics_(metrics),
        dedup_window_ms_(dedup_window_ms),
        pool_(pool) {}

  // Sends of one connection are stored in the order they arrived (a
  // producer pipelining to one queue or message group keeps its order),
  // also when one of them waits for an id that another connection's send
  // holds (a racing retry): the later ones wait behind it.
  void Send(v1::SendRequest request, Responder responder,
            const std::shared_ptr<Connection>& connection);
  void OnConnectionClosed(uint64_t connection_id) EXCLUDES(strands_mu_);

 private:
  // Stores what is not a duplicate and answers. `lease` is held (until the
  // write is durable) when dedup is on; null otherwise.
  void Store(v1::SendRequest request, std::shared_ptr<Responder> responder,
             std::shared_ptr<KeyGate::Lease> lease, bool fresh);
  // Fills the results of the messages whose id the topic stored within the
  // dedup window, and marks them done. Errors: the store's read error.
  Status AnswerDuplicates(const google::protobuf::RepeatedPtrField<v1::Message>& messages,
                          int64_t now, std::vector<v1::SendResult>* results,
                          std::vector<bool>* done) const;
  // Validates a message due at `due` and adds it to `batch` as a delayed
  // message, with its id index record and trace event. Errors:
  // INVALID_ARGUMENT (validation), NOT_FOUND (topic).
  Status StoreDelayed(const v1::Message& m, int64_t now, int64_t due, v1::SendResult* result,
                      storage::Batch* batch);

  storage::Store* const store_;
  MessageLog* const log_;
  DelayService* const delays_;
  Tracer* const tracer_;
  Clock* const clock_;
  Metrics* const metrics_;
  // One connection's sends that go through the KeyGate, in arrival order:
  // only the oldest is in the gate (or being stored); the others wait here,
  // so a send held up by another connection's id is never overtaken.
  struct LaneQueue {
    Mutex mu;
    bool active GUARDED_BY(mu) = false;  // a send is in the gate or being stored
    std::deque<std::function<void()>> waiting GUARDED_BY(mu);  // starts of the later ones
  };
  struct ConnectionLane {
    explicit ConnectionLane(KeyGate::Executor e) : strand(std::move(e)) {}
    KeyGate::Executor strand;
    std::shared_ptr<LaneQueue> queue = std::make_shared<LaneQueue>();
  };
  ConnectionLane LaneFor(uint64_t connection_id) EXCLUDES(strands_mu_);
  // The send at the head of `queue` was stored: starts the next, if any.
  static void NextInLane(const std::shared_ptr<LaneQueue>& queue);

  friend class ProduceServiceTest;  // holds KeyGate keys to force a racing retry

  const int64_t dedup_window_ms_;
  asio::thread_pool& pool_;
  KeyGate gate_;
  Mutex strands_mu_;
  std::unordered_map<uint64_t, ConnectionLane> strands_ GUARDED_BY(strands_mu_);
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_PRODUCE_SERVICE_H_
