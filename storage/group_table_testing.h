// Test-only helpers for GroupTable's records: a record that does not parse,
// for tests of how readers report corruption. Not part of halfmq_storage's
// API; include only from tests.
#ifndef HALFMQ_STORAGE_GROUP_TABLE_TESTING_H_
#define HALFMQ_STORAGE_GROUP_TABLE_TESTING_H_

#include "common/ids.h"
#include "common/status.h"
#include "storage/keys.h"
#include "storage/raw_keyspace_access.h"
#include "storage/store.h"

namespace halfmq::storage {

// Stores bytes that are no DeadLetterRecord as dead letter `id` of `group`.
inline Status PutCorruptDeadLetterForTest(Store* store, const ConsumerGroup& group,
                                          const MessageId& id) {
  Batch b = store->NewBatch();
  RawKeyspaceAccess::Put(&b, Keyspace::kMeta, keys::DeadLetterKey(group.value(), id.value()),
                         "\xff\xff not a record");
  return store->CommitAndWait(std::move(b));
}

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_GROUP_TABLE_TESTING_H_
