// QueryService: look messages up by id and by key (and, with tracing, show
// a message's history). Reads RocksDB, so it runs on the blocking pool.
// Thread-safe.
#ifndef HALFMQ_BROKER_QUERY_SERVICE_H_
#define HALFMQ_BROKER_QUERY_SERVICE_H_

#include <functional>
#include <vector>

#include "broker/responder.h"
#include "broker/topic_manager.h"
#include "common/asio.h"
#include "storage/message_index.h"
#include "storage/store.h"

namespace halfmq::broker {

class QueryService {
 public:
  // DELIVERED events of the deliveries of the message at (topic, queue,
  // offset) that are still open (ConsumeService::OpenDeliveries).
  using OpenDeliveries =
      std::function<std::vector<v1::TraceEvent>(TopicId, QueueId, Offset)>;

  QueryService(storage::Store* store, TopicManager* topics, asio::thread_pool& pool,
               OpenDeliveries open_deliveries = nullptr)
      : store_(store),
        index_(store),
        topics_(topics),
        pool_(pool),
        open_deliveries_(std::move(open_deliveries)) {}

  // NOT_FOUND if no stored message has the id (never sent, still delayed,
  // or removed by retention).
  void GetMessage(v1::GetMessageRequest request, Responder responder);
  // Messages of a topic with a key, oldest first (empty when none).
  void FindMessages(v1::FindMessagesRequest request, Responder responder);
  // A message's history, oldest first: where it was stored (from the id
  // index), every traced event, a DELIVERED event before each event that
  // ends a delivery (they carry when it began) and one for each delivery
  // still open. NOT_FOUND if nothing is known.
  void TraceMessage(v1::TraceMessageRequest request, Responder responder);

 private:
  // Add to `events` a STORED event per topic the id was stored in (and the
  // open deliveries there), and the id's traced events.
  Status AddStoredEvents(const MessageId& id, std::vector<v1::TraceEvent>* events) const;
  Status AddTracedEvents(const MessageId& id, std::vector<v1::TraceEvent>* events) const;
  // Reads the message at a location into `out`; false if it is gone.
  bool Read(const Topic& topic, QueueId queue, Offset offset, v1::FoundMessage* out) const;

  storage::Store* const store_;
  const storage::MessageIndex index_;
  TopicManager* const topics_;
  asio::thread_pool& pool_;
  const OpenDeliveries open_deliveries_;
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_QUERY_SERVICE_H_
