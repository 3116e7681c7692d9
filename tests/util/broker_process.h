// Runs a real halfmq-broker process for integration tests.
//
// The broker listens on 127.0.0.1 with an OS-chosen port and reports
// readiness by writing its address to a pipe (--ready_fd), so tests wait on
// that event instead of sleeping. Its log goes to <data_dir>.log. Only the
// process started here is ever signalled, by PID.
//
// HALFMQ_TEST_BROKER_FLAGS (whitespace-separated flags) is given to every
// broker started here, before the test's own flags, which win where both
// name a flag. scripts/test.sh uses it to run the storage and crash tests on
// RocksDB's own components as well ("--storage_memtable=rocksdb
// --storage_wal_zero_fill=false"; storage/test_util.h reads it too).
#ifndef HALFMQ_TESTS_UTIL_BROKER_PROCESS_H_
#define HALFMQ_TESTS_UTIL_BROKER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace halfmq::testing {

// The flags of HALFMQ_TEST_BROKER_FLAGS, in order (none if unset).
std::vector<std::string> TestRunBrokerFlags();

class BrokerProcess {
 public:
  // Starts a broker on `data_dir` with extra flags ("--flush=async", ...)
  // after those of TestRunBrokerFlags().
  // Aborts the test (ADD_FAILURE + nullptr) if it does not become ready
  // within 60 s.
  static std::unique_ptr<BrokerProcess> Start(const std::string& data_dir,
                                              const std::vector<std::string>& flags = {});
  ~BrokerProcess();

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // SIGKILL and reap: a crash, no shutdown code runs.
  void Kill9();
  // SIGTERM and wait for exit; returns the exit code (or -signal).
  int Terminate();
  // Last lines of the broker log, for failure messages.
  std::string LogTail(size_t bytes = 4000) const;

 private:
  BrokerProcess() = default;
  pid_t pid_ = -1;
  std::string address_;
  std::string log_path_;
};

// A child process (argv[0] relative to BinDir() if it has no '/') whose
// stdout and stderr the test reads line by line, as events: "the process
// has printed X". Killed (SIGKILL) on destruction if still running.
class ChildProcess {
 public:
  static std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& argv);
  ~ChildProcess();

  // Next complete line of stdout / stderr, without the newline; nullopt at
  // EOF or after timeout_ms (a safety net, not a synchronisation device).
  std::optional<std::string> ReadStdoutLine(int timeout_ms = 60000);
  std::optional<std::string> ReadStderrLine(int timeout_ms = 60000);
  void Kill9();
  // Waits for exit; returns the exit code (or -signal).
  int Wait();
  pid_t pid() const { return pid_; }

 private:
  ChildProcess() = default;
  std::optional<std::string> ReadLine(int fd, std::string* buffer, int timeout_ms);
  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::string out_buffer_;
  std::string err_buffer_;
};

// Directory of the built binaries (HALFMQ_BIN_DIR, set by ctest).
std::string BinDir();

// Runs a command (argv[0] relative to BinDir() if it has no '/'), feeding
// `stdin_data`, and captures stdout and stderr. Returns the exit code.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_data = "");

}  // namespace halfmq::testing

#endif  // HALFMQ_TESTS_UTIL_BROKER_PROCESS_H_
