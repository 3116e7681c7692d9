// ProduceService: Send (single messages and atomic batches). Runs on network
// threads; the write itself goes through MessageLog and the committer (or,
// for delayed messages, into the DelayService's keyspace, in the same
// batch), and the answer is sent once the messages are durable.
// Thread-safe.
#ifndef HALFMQ_BROKER_PRODUCE_SERVICE_H_
#define HALFMQ_BROKER_PRODUCE_SERVICE_H_

#include "broker/delay_service.h"
#include "broker/message_log.h"
#include "broker/responder.h"
#include "common/clock.h"
#include "storage/store.h"

namespace halfmq::broker {

class ProduceService {
 public:
  ProduceService(storage::Store* store, MessageLog* log, DelayService* delays, Clock* clock)
      : store_(store), log_(log), delays_(delays), clock_(clock) {}

  void Send(v1::SendRequest request, Responder responder);

 private:
  storage::Store* const store_;
  MessageLog* const log_;
  DelayService* const delays_;
  Clock* const clock_;
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_PRODUCE_SERVICE_H_
