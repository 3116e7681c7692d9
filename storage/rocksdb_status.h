// The one place where RocksDB statuses become HalfMQ statuses.
#ifndef HALFMQ_STORAGE_ROCKSDB_STATUS_H_
#define HALFMQ_STORAGE_ROCKSDB_STATUS_H_

#include <string_view>

#include <rocksdb/status.h>

#include "common/status.h"

namespace halfmq::storage {

// NotFound maps to NOT_FOUND, Busy/TryAgain/TimedOut to UNAVAILABLE, and
// everything else (corruption, I/O errors) to INTERNAL. `context` prefixes
// the message.
Status FromRocksDb(const rocksdb::Status& s, std::string_view context);

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_ROCKSDB_STATUS_H_
