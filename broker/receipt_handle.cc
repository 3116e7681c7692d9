#include "broker/receipt_handle.h"

#include "storage/keys.h"

namespace halfmq::broker {

namespace keys = storage::keys;
constexpr char kVersion = 1;
constexpr size_t kEncodedBytes = 21;

std::string ReceiptHandle::Encode() const {
  std::string out(1, kVersion);
  out.reserve(kEncodedBytes);
  keys::PutFixed32BE(&out, sub.value());
  keys::PutFixed32BE(&out, queue.value());
  keys::PutFixed64BE(&out, offset.value());
  keys::PutFixed32BE(&out, attempt);
  return out;
}

std::optional<ReceiptHandle> ReceiptHandle::Decode(std::string_view b) {
  if (b.size() != kEncodedBytes || b[0] != kVersion) return std::nullopt;
  ReceiptHandle h;
  h.sub = SubscriptionId(keys::DecodeFixed32BE(b.data() + 1));
  h.queue = QueueId(keys::DecodeFixed32BE(b.data() + 5));
  h.offset = Offset(keys::DecodeFixed64BE(b.data() + 9));
  h.attempt = keys::DecodeFixed32BE(b.data() + 17);
  if (h.attempt == 0) return std::nullopt;
  return h;
}

}  // namespace halfmq::broker
