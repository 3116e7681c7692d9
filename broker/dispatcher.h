// Dispatcher: routes each decoded request frame to its service handler.
// Knows nothing of sockets (sessions call it) and nothing of storage
// (services do), except whether a request writes: with a DiskMonitor, it
// refuses writes the disk state does not admit (broker/disk_monitor.h)
// before any handler runs. Runs on network threads; handlers must not block.
// Thread-safe.
#ifndef HALFMQ_BROKER_DISPATCHER_H_
#define HALFMQ_BROKER_DISPATCHER_H_

#include <memory>

#include "broker/admin_service.h"
#include "broker/consume_service.h"
#include "broker/disk_monitor.h"
#include "broker/metrics.h"
#include "broker/produce_service.h"
#include "broker/query_service.h"
#include "broker/responder.h"
#include "broker/txn_service.h"

namespace halfmq::broker {

struct HelloLimits {
  uint64_t max_frame_bytes = 0;
  uint64_t max_message_bytes = 0;
};

class Dispatcher {
 public:
  Dispatcher(ProduceService* produce, ConsumeService* consume, AdminService* admin,
             TxnService* txn, QueryService* query, Metrics* metrics, HelloLimits limits,
             const DiskMonitor* disk = nullptr)
      : produce_(produce),
        query_(query),
        consume_(consume),
        admin_(admin),
        txn_(txn),
        metrics_(metrics),
        limits_(limits),
        disk_(disk) {}

  // `request` is a REQUEST frame with a body. Every request is answered
  // through `responder`, errors included (unknown request types get
  // INVALID_ARGUMENT so newer clients can detect an older broker).
  void Dispatch(v1::Frame request, Responder responder,
                const std::shared_ptr<Connection>& connection);

 private:
  // Errors: INVALID_ARGUMENT for a client id or producer group list over its
  // limit, or an invalid group name (see docs/protocol.md).
  void Hello(const v1::HelloRequest& hello, Responder responder,
             const std::shared_ptr<Connection>& connection);

  ProduceService* const produce_;
  QueryService* const query_;
  ConsumeService* const consume_;
  AdminService* const admin_;
  TxnService* const txn_;
  Metrics* const metrics_;
  const HelloLimits limits_;
  const DiskMonitor* const disk_;  // may be null: no admission checks
};

// What a request of this type writes (see DiskMonitor::Admit).
RequestWrites WritesOf(v1::Frame::BodyCase request);

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_DISPATCHER_H_
