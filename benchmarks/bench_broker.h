// A halfmq-broker child process owned by halfmq-bench: started on
// 127.0.0.1 with a fresh temporary data directory, measured (CPU time, peak
// RSS from /proc), stopped with SIGTERM, directory removed. If it dies
// before Stop(), a watchdog ends the benchmark at once with exit status 3,
// printing how it ended and the tail of its log (kept, with the data
// directory), instead of letting the clients retry into a dead address.
#ifndef HALFMQ_BENCHMARKS_BENCH_BROKER_H_
#define HALFMQ_BENCHMARKS_BENCH_BROKER_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace halfmq::bench {

struct BrokerUsage {
  double cpu_seconds = 0;
  int64_t peak_rss_bytes = 0;
  int64_t rss_bytes = 0;
};

class BenchBroker {
 public:
  // `argv0` locates halfmq-broker (same directory). Errors: UNAVAILABLE if it
  // does not start.
  static Result<std::unique_ptr<BenchBroker>> Start(const std::string& argv0,
                                                    const std::vector<std::string>& flags);
  ~BenchBroker();

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }
  BrokerUsage Usage() const;
  // Returns once the broker used less than 50 ms of CPU in a second (its
  // flushes and compactions done), or after 3 minutes.
  void AwaitQuiet() const;
  void Stop();

 private:
  BenchBroker() = default;
  void Watch();

  pid_t pid_ = -1;
  std::string address_;
  std::string dir_;
  std::atomic<bool> stopping_{false};
  std::thread watchdog_;
};

}  // namespace halfmq::bench

#endif  // HALFMQ_BENCHMARKS_BENCH_BROKER_H_
