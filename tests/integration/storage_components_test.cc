// The storage components a broker runs on (storage/rocksdb_internals.h):
// ours (memtable, WAL zero fill) or RocksDB's own, as its flags and the
// RocksDB release it was built against decide. The start-up log line names
// them, and a zero-filling broker has the zeroer's thread.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/rocksdb_internals.h"
#include "storage/store.h"
#include "storage/test_util.h"
#include "tests/util/broker_process.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {
namespace {

// Whether process `pid` has a thread named `name`.
bool HasThread(pid_t pid, const std::string& name) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    std::getline(comm, line);
    if (line == name) return true;
  }
  return false;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Starts a broker with `flags` and checks it runs on the components `options`
// select: the components of the log line, and the zeroer thread.
void ExpectComponents(const std::vector<std::string>& flags, const storage::StoreOptions& options) {
  const storage::StorageComponents expected = storage::ComponentsInUse(options);
  TempDir dir;
  auto broker = BrokerProcess::Start(dir.Sub("data"), flags);
  ASSERT_NE(broker, nullptr);
  const std::string log = ReadFile(broker->log_path());
  const std::string line = "storage: " + storage::DescribeComponents(expected);
  EXPECT_NE(log.find(line), std::string::npos) << "expected \"" << line << "\" in:\n"
                                               << broker->LogTail();
  EXPECT_EQ(HasThread(broker->pid(), "halfmq-walzero"), expected.wal_zero_fill);
}

TEST(StorageComponentsTest, FallbackFlagsSelectRocksDbsOwnComponents) {
  storage::StoreOptions options;
  options.own_memtable = false;
  options.wal_zero_fill = false;
  ExpectComponents({"--storage_memtable=rocksdb", "--storage_wal_zero_fill=false"}, options);
}

TEST(StorageComponentsTest, DefaultFlagValuesSelectOurs) {
  // Ours wherever this build has them (RocksDB 7.8).
  ExpectComponents({"--storage_memtable=halfmq", "--storage_wal_zero_fill=true"},
                   storage::StoreOptions());
}

// A broker started without storage flags of its own runs on what the test
// run asks for (HALFMQ_TEST_BROKER_FLAGS; the defaults when it is unset):
// the fallback pass of scripts/test.sh really runs RocksDB's components.
TEST(StorageComponentsTest, TestRunFlagsReachEveryBroker) {
  storage::StoreOptions options;
  storage::ApplyTestFlags(&options);
  ExpectComponents({}, options);
}

}  // namespace
}  // namespace halfmq::testing
