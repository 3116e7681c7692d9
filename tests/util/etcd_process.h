// Runs a real single-member etcd for tests of the cluster module.
//
// etcd listens on 127.0.0.1 on two free ports (client and peer, never the
// standard 2379/2380, so a system etcd does not matter) with its own data
// directory under `dir`; its output goes to <dir>/etcd.log. Start returns
// once etcd answers GET /health with health true, polled with a bounded
// number of attempts and a time bound (etcd has no readiness pipe). Only
// the process started here is ever signalled, by PID; the destructor kills
// it. Not thread-safe; one owner.
//
// The etcd binary is $HALFMQ_ETCD if set (it must then be executable), else
// `etcd` on PATH, else /usr/bin/etcd (Debian's etcd-server). Without one, Start FAILS the test
// naming scripts/install-deps.sh: a missing etcd is a broken setup, not a skip.
#ifndef HALFMQ_TESTS_UTIL_ETCD_PROCESS_H_
#define HALFMQ_TESTS_UTIL_ETCD_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "tests/util/temp_dir.h"

namespace halfmq::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound and released;
// another process may take it before us, which Start survives by retrying).
uint16_t PickFreePort();

class EtcdProcess {
 public:
  // ADD_FAILURE + nullptr when etcd is missing or not healthy within 30 s.
  static std::unique_ptr<EtcdProcess> Start(const std::string& dir);
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // "127.0.0.1:PORT" of the client port: what EtcdClient dials.
  std::string client_address() const;
  // "127.0.0.1:PORT" of the peer (raft) port: an HTTP server that is not
  // the JSON gateway.
  std::string peer_address() const;
  pid_t pid() const { return pid_; }

  // SIGKILL and reap.
  void Kill9();
  std::string LogTail(size_t bytes = 4000) const;

 private:
  EtcdProcess() = default;
  // One attempt on fresh ports; false if etcd exited or never got healthy.
  bool TryStart(const std::string& binary, const std::string& dir, int attempt);

  pid_t pid_ = -1;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  std::string log_path_;
};

// A fixture base with one etcd for the whole suite (starting one takes
// about a second): tests of a derived suite use etcd_, null when it did not
// start, and keep apart by key prefix.
class EtcdSuiteTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>();
    etcd_ = EtcdProcess::Start(dir_->path());
  }
  static void TearDownTestSuite() {
    etcd_.reset();
    dir_.reset();
  }

  static inline std::unique_ptr<TempDir> dir_;
  static inline std::unique_ptr<EtcdProcess> etcd_;
};

}  // namespace halfmq::testing

#endif  // HALFMQ_TESTS_UTIL_ETCD_PROCESS_H_
