#include "storage/rocksdb_status.h"

#include <string>

namespace halfmq::storage {

Status FromRocksDb(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(context) + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(std::move(msg));
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Status::Unavailable(std::move(msg));
  return Status::Internal(std::move(msg));
}

}  // namespace halfmq::storage
