// Receipt handles: the opaque token a consumer gets with each delivery and
// presents to Ack, Nack and ChangeInvisibleDuration. It names the delivery,
// not just the message: the attempt number makes a handle from an earlier
// delivery detectably stale once the message has been delivered again.
//
// Encoding (21 bytes): version byte 1, subscription id u32, queue u32,
// offset u64, attempt u32, all big-endian. Clients must treat it as opaque.
#ifndef HALFMQ_BROKER_RECEIPT_HANDLE_H_
#define HALFMQ_BROKER_RECEIPT_HANDLE_H_

#include <optional>
#include <string>
#include <string_view>

#include "common/ids.h"

namespace halfmq::broker {

struct ReceiptHandle {
  SubscriptionId sub;
  QueueId queue;
  Offset offset;
  uint32_t attempt = 0;

  std::string Encode() const;
  static std::optional<ReceiptHandle> Decode(std::string_view bytes);
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_RECEIPT_HANDLE_H_
