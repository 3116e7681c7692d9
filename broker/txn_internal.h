// Small helpers shared by the files of TxnService (txn_service.cc,
// txn_send.cc, txn_settle.cc, txn_checker.cc). Internal to the broker's
// transaction code; stateless.
#ifndef HALFMQ_BROKER_TXN_INTERNAL_H_
#define HALFMQ_BROKER_TXN_INTERNAL_H_

#include <cstdint>
#include <string>

#include "common/ids.h"
#include "common/limits.h"
#include "common/status.h"
#include "proto/halfmq/v1/records.pb.h"

namespace halfmq::broker::txn_internal {

// A transaction id as the protocol allows it. Errors: INVALID_ARGUMENT.
inline Status ValidateTxnId(const std::string& txn_id) {
  if (!ValidateMessageId(txn_id).ok()) {
    return Status::InvalidArgument(
        "transaction id must be 1..128 printable ASCII bytes without spaces");
  }
  return Status::Ok();
}

inline const char* OutcomeName(v1::TxnOutcome o) {
  return o == v1::COMMIT ? "committed" : o == v1::ROLLBACK ? "rolled back" : "unknown";
}

// The detail of a HALF_STORED event.
inline std::string HalfDetail(const TxnId& txn, const std::string& topic) {
  return "transaction " + txn.value() + ", topic " + topic;
}

// When message `seq` of a transaction whose HALF_STORED events wait
// (half_untraced) had its half stored.
inline int64_t HalfStoredMs(const v1::TxnRecord& meta, int seq) {
  return seq < meta.half_stored_ms_size() ? meta.half_stored_ms(seq) : meta.created_ms();
}

}  // namespace halfmq::broker::txn_internal

#endif  // HALFMQ_BROKER_TXN_INTERNAL_H_
