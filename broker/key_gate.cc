#include "broker/key_gate.h"

namespace halfmq::broker {

bool KeyGate::AllFree(const std::vector<std::string>& keys) const {
  for (const auto& k : keys) {
    if (held_.count(k)) return false;
  }
  return true;
}

bool KeyGate::Available(const std::vector<std::string>& keys) const {
  if (!AllFree(keys)) return false;
  for (const auto& w : waiting_) {
    for (const auto& k : keys) {
      for (const auto& wk : w.keys) {
        if (k == wk) return false;
      }
    }
  }
  return true;
}

void KeyGate::Run(std::vector<std::string> keys, Executor executor, Operation op) {
  RunOn(std::move(keys), std::move(executor), std::move(op));
}

void KeyGate::Run(std::string key, asio::thread_pool& pool, Operation op) {
  RunOn({std::move(key)}, pool.get_executor(), std::move(op));
}

void KeyGate::RunOn(std::vector<std::string> keys, asio::any_io_executor executor, Operation op) {
  {
    MutexLock lock(&mu_);
    // Behind an earlier waiter on the same keys, or on held keys: wait.
    if (!Available(keys)) {
      waiting_.push_back(Waiter{std::move(keys), executor, std::move(op)});
      return;
    }
    for (const auto& k : keys) held_.insert(k);
  }
  Start(std::move(keys), std::move(executor), std::move(op));
}

void KeyGate::Start(std::vector<std::string> keys, asio::any_io_executor executor,
                    Operation op) {
  auto lease = std::make_shared<Lease>(this, std::move(keys));
  asio::post(executor, [op = std::move(op), lease = std::move(lease)]() mutable {
    op(std::move(lease));
  });
}

void KeyGate::Release(const std::vector<std::string>& keys) {
  std::vector<Waiter> ready;
  {
    MutexLock lock(&mu_);
    for (const auto& k : keys) held_.erase(k);
    // Start waiters whose keys are free, in order; a waiter that cannot
    // start holds back later ones that share its keys.
    std::unordered_set<std::string> claimed_by_earlier;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      bool free = AllFree(it->keys);
      for (const auto& k : it->keys) free = free && !claimed_by_earlier.count(k);
      if (free) {
        for (const auto& k : it->keys) held_.insert(k);
        ready.push_back(std::move(*it));
        it = waiting_.erase(it);
      } else {
        for (const auto& k : it->keys) claimed_by_earlier.insert(k);
        ++it;
      }
    }
  }
  for (auto& w : ready) Start(std::move(w.keys), std::move(w.executor), std::move(w.op));
}

std::shared_ptr<KeyGate::Lease> KeyGate::TryAcquire(const std::vector<std::string>& keys) {
  {
    MutexLock lock(&mu_);
    if (!Available(keys)) return nullptr;
    for (const auto& k : keys) held_.insert(k);
  }
  return std::make_shared<Lease>(this, keys);
}

std::shared_ptr<KeyGate::Lease> KeyGate::TryAcquire(std::string key) {
  std::vector<std::string> keys{std::move(key)};
  return TryAcquire(keys);
}

size_t KeyGate::held() const {
  MutexLock lock(&mu_);
  return held_.size();
}

size_t KeyGate::waiting() const {
  MutexLock lock(&mu_);
  return waiting_.size();
}

}  // namespace halfmq::broker
