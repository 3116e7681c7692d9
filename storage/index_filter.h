// IndexExpiryFilter: drops message-index entries older than the message
// retention during compaction, so the id and key indexes stay bounded like
// the messages they point to (without per-key deletes). Entries of delayed
// messages not yet delivered are kept until their due time has aged the
// same way. Stateless apart from its settings; thread-safe.
#ifndef HALFMQ_STORAGE_INDEX_FILTER_H_
#define HALFMQ_STORAGE_INDEX_FILTER_H_

#include <cstdint>

#include <rocksdb/compaction_filter.h>

namespace halfmq::storage {

class IndexExpiryFilter : public rocksdb::CompactionFilter {
 public:
  explicit IndexExpiryFilter(int64_t ttl_ms) : ttl_ms_(ttl_ms) {}

  bool Filter(int level, const rocksdb::Slice& key, const rocksdb::Slice& value,
              std::string* new_value, bool* value_changed) const override;
  const char* Name() const override { return "halfmq.IndexExpiryFilter"; }

  // Whether an entry written at `time_ms` is expired at `now_ms`.
  bool Expired(int64_t time_ms, int64_t now_ms) const { return time_ms < now_ms - ttl_ms_; }

 private:
  const int64_t ttl_ms_;
};

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_INDEX_FILTER_H_
