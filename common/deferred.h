// DeferScope: coalesces per-object work that many callbacks on one thread
// would otherwise each do. While a scope is open on a thread, Defer(key, fn)
// records `fn` once per key (later calls with the same key are dropped); the
// recorded functions run, in first-deferred order, when the outermost scope
// closes. Without an open scope Defer runs `fn` at once.
//
// The committer opens a scope around the callbacks of one group commit, so a
// connection that receives 16 answers from one group writes them to its
// socket with one system call instead of 16.
//
// A scope may be opened as `busy`: the thread has more work waiting, so
// deferred functions should hand slow work (system calls) to other threads
// rather than do it inline. Busy() reports it to the deferred functions.
//
// Not thread-safe by design: a scope belongs to the thread that opened it.
#ifndef HALFMQ_COMMON_DEFERRED_H_
#define HALFMQ_COMMON_DEFERRED_H_

#include <functional>
#include <utility>
#include <vector>

namespace halfmq {

class DeferScope {
 public:
  explicit DeferScope(bool busy = false);
  ~DeferScope();
  DeferScope(const DeferScope&) = delete;
  DeferScope& operator=(const DeferScope&) = delete;

  // Runs `fn` when the calling thread's outermost scope closes, or now if the
  // thread has no open scope. One function per `key` per scope.
  static void Defer(const void* key, std::function<void()> fn);
  static bool Active();
  // True while the outermost open scope was opened busy.
  static bool Busy();
};

}  // namespace halfmq

#endif  // HALFMQ_COMMON_DEFERRED_H_
