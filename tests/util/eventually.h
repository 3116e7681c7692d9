// Polls an observable broker state (a counter, a listing, a query) until
// `done` holds. Used where the broker offers no push notification for the
// event a test waits on (a scanner pass, a sweeper run); the deadline only
// turns a hang into a failure and is never a timing assertion.

#ifndef HALFMQ_TESTS_UTIL_EVENTUALLY_H_
#define HALFMQ_TESTS_UTIL_EVENTUALLY_H_

#include <chrono>
#include <thread>

namespace halfmq::testing {

template <typename Fn>
bool Eventually(Fn done, int timeout_ms = 30000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace halfmq::testing

#endif  // HALFMQ_TESTS_UTIL_EVENTUALLY_H_
