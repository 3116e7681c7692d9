#include "broker/receipt_handle.h"

#include "common/coding.h"

namespace halfmq::broker {

constexpr char kVersion = 1;
constexpr size_t kEncodedBytes = 21;

std::string ReceiptHandle::Encode() const {
  std::string out(1, kVersion);
  out.reserve(kEncodedBytes);
  PutFixed32BE(&out, sub.value());
  PutFixed32BE(&out, queue.value());
  PutFixed64BE(&out, offset.value());
  PutFixed32BE(&out, attempt);
  return out;
}

std::optional<ReceiptHandle> ReceiptHandle::Decode(std::string_view b) {
  if (b.size() != kEncodedBytes || b[0] != kVersion) return std::nullopt;
  ReceiptHandle h;
  h.sub = SubscriptionId(DecodeFixed32BE(b.data() + 1));
  h.queue = QueueId(DecodeFixed32BE(b.data() + 5));
  h.offset = Offset(DecodeFixed64BE(b.data() + 9));
  h.attempt = DecodeFixed32BE(b.data() + 17);
  if (h.attempt == 0) return std::nullopt;
  return h;
}

}  // namespace halfmq::broker
