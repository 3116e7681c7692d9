// Helpers for the storage tests.
#ifndef HALFMQ_STORAGE_TEST_UTIL_H_
#define HALFMQ_STORAGE_TEST_UTIL_H_

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "storage/store.h"

namespace halfmq::storage {

// Opens a store at `path` with `options` otherwise; null, with a test
// failure, if it does not open.
inline std::unique_ptr<Store> OpenTestStore(const std::string& path, StoreOptions options = {}) {
  options.path = path;
  auto store = Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(store).value() : nullptr;
}

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_TEST_UTIL_H_
