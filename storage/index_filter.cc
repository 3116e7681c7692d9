#include "storage/index_filter.h"

#include "common/clock.h"
#include "proto/halfmq/v1/records.pb.h"
#include "storage/keys.h"

namespace halfmq::storage {

bool IndexExpiryFilter::Filter(int, const rocksdb::Slice& key, const rocksdb::Slice& value,
                               std::string*, bool*) const {
  if (key.empty()) return false;
  int64_t now = Clock::Real()->NowMs();
  if (key[0] == keys::kIdIndexPrefix) {
    v1::IndexRecord r;
    if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
    int64_t time = r.deliver_at_ms() > r.store_time_ms() ? r.deliver_at_ms() : r.store_time_ms();
    return Expired(time, now);
  }
  if (key[0] == keys::kTracePrefix && key.size() >= 16) {
    int64_t time = static_cast<int64_t>(keys::DecodeFixed64BE(key.data() + key.size() - 16));
    return Expired(time, now);
  }
  if (key[0] == keys::kKeyIndexPrefix && key.size() >= 20) {
    auto parts = keys::ParseKeyIndexSuffix(
        std::string_view(key.data() + key.size() - 20, 20));
    return parts && Expired(parts->store_ms, now);
  }
  return false;
}

}  // namespace halfmq::storage
