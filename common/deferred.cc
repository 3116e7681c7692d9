#include "common/deferred.h"

#include <unordered_set>

namespace halfmq {
namespace {

struct ThreadState {
  int depth = 0;
  bool busy = false;
  std::vector<std::function<void()>> pending;
  std::unordered_set<const void*> keys;  // of `pending`
};

ThreadState& State() {
  thread_local ThreadState state;
  return state;
}

}  // namespace

DeferScope::DeferScope(bool busy) {
  ThreadState& state = State();
  if (state.depth++ == 0) state.busy = busy;
}

DeferScope::~DeferScope() {
  ThreadState& state = State();
  if (state.depth > 1) {
    --state.depth;
    return;
  }
  // Deferred functions may defer more (they run inside the scope still, so
  // their keys coalesce too); drain until nothing is left.
  while (!state.pending.empty()) {
    auto work = std::move(state.pending);
    state.pending.clear();
    state.keys.clear();
    for (auto& fn : work) fn();
  }
  state.depth = 0;
  state.busy = false;
}

void DeferScope::Defer(const void* key, std::function<void()> fn) {
  ThreadState& state = State();
  if (state.depth == 0) return fn();
  if (!state.keys.insert(key).second) return;
  state.pending.push_back(std::move(fn));
}

bool DeferScope::Active() { return State().depth > 0; }

bool DeferScope::Busy() { return State().busy; }

}  // namespace halfmq
