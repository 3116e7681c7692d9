// halfmq-bench consumers: RunConsume and RunRetry.
#include <algorithm>
#include <atomic>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "benchmarks/bench_runs.h"
#include "halfmq/halfmq.h"

namespace halfmq::bench {
namespace {

ReceiveOptions BenchReceiveOptions(const Config& c) {
  ReceiveOptions ro;
  ro.max_messages = static_cast<uint32_t>(std::max(c.batch, 32));
  ro.wait = std::chrono::milliseconds(2000);
  ro.invisible_for = std::chrono::milliseconds(60000);
  return ro;
}

// What the consumer threads of one RunConsume share.
class ConsumeShared {
 public:
  explicit ConsumeShared(uint64_t expected) : expected_(expected), start_(Clock::now()) {}

  // Counts the messages of one receive; returns how many were seen for the
  // first time, and their receipt handles in `handles`.
  uint64_t Record(const std::vector<ReceivedMessage>& got, std::vector<std::string>* handles) {
    uint64_t fresh = 0;
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& m : got) {
      if (++seen_[m.message_id] == 1) {
        distinct_.fetch_add(1);
        ++fresh;
      }
      handles->push_back(m.receipt_handle);
    }
    return fresh;
  }
  // `fresh` messages were acked durably; the phase ends with the last one.
  void Acked(uint64_t fresh) {
    if (distinct_acked_.fetch_add(fresh) + fresh >= expected_ && !done_.exchange(true)) {
      finished_ns_.store((Clock::now() - start_).count());
    }
  }
  bool done() const { return done_.load(); }
  void AddConsumer(uint64_t errors, const Histogram& latency) {
    std::lock_guard<std::mutex> l(mu_);
    total_.errors += errors;
    total_.latency.Merge(latency);
  }
  // After every consumer thread has ended.
  RunResult Finish(const std::set<std::string>* must_see,
                   const std::set<std::string>* must_not_see);

 private:
  const uint64_t expected_;
  const Clock::time_point start_;
  std::mutex mu_;
  std::unordered_map<std::string, int> seen_;  // guarded by mu_
  RunResult total_;                            // guarded by mu_
  std::atomic<uint64_t> distinct_{0};
  std::atomic<uint64_t> distinct_acked_{0};  // of distinct_, acked durably
  std::atomic<bool> done_{false};
  std::atomic<int64_t> finished_ns_{0};
};

RunResult ConsumeShared::Finish(const std::set<std::string>* must_see,
                                const std::set<std::string>* must_not_see) {
  RunResult total = std::move(total_);
  // Throughput counts until the last expected message was acked, not the
  // idle wait of the other consumers after it.
  total.seconds = finished_ns_.load() > 0
                      ? static_cast<double>(finished_ns_.load()) / 1e9
                      : std::chrono::duration<double>(Clock::now() - start_).count();
  total.ok = distinct_.load();
  for (const auto& [id, n] : seen_) {
    if (n > 1) total.duplicates += static_cast<uint64_t>(n - 1);
  }
  if (must_see) {
    for (const auto& id : *must_see) {
      if (!seen_.count(id)) ++total.lost;
    }
  }
  if (must_not_see) {
    for (const auto& id : *must_not_see) {
      if (seen_.count(id)) {
        ++total.errors;
        if (total.errors <= 3) std::cerr << "rolled-back message consumed: " << id << "\n";
      }
    }
  }
  return total;
}

// One consumer connection: receives and acks until the phase is done or
// nothing arrives for 2 s. With --ack-async at most one ack is in flight,
// overlapping the next receive, and its messages count once it is durable
// (its completion runs on the client's io thread).
class ConsumerLoop {
 public:
  ConsumerLoop(const Config& c, Consumer* consumer, ConsumeShared* shared)
      : c_(c), consumer_(consumer), shared_(shared) {}

  void Run() {
    ReceiveOptions ro = BenchReceiveOptions(c_);
    while (!shared_->done()) {
      auto t0 = Clock::now();
      auto got = consumer_->Receive(c_.topic, ro);
      if (!got.ok()) {
        ++errors_;
        continue;
      }
      if (got->empty()) break;  // idle for 2 s: nothing left
      std::vector<std::string> handles;
      uint64_t fresh = shared_->Record(*got, &handles);
      if (c_.ack_async) {
        AckAsync(handles, t0, fresh);
        continue;
      }
      auto acked = consumer_->AckBatch(handles);
      if (!acked.ok()) ++errors_;
      RecordLatency(t0);
      shared_->Acked(fresh);
    }
    if (ack_done_.valid()) ack_done_.get();
    std::lock_guard<std::mutex> l(latency_mu_);
    shared_->AddConsumer(errors_ + async_errors_.load(), latency_);
  }

 private:
  void AckAsync(const std::vector<std::string>& handles, Clock::time_point t0, uint64_t fresh) {
    if (ack_done_.valid()) ack_done_.get();
    auto promise = std::make_shared<std::promise<void>>();
    ack_done_ = promise->get_future();
    consumer_->AckBatchAsync(handles,
                             [this, promise, t0, fresh](halfmq::Result<std::vector<Status>> acked) {
                               if (!acked.ok()) async_errors_.fetch_add(1);
                               RecordLatency(t0);
                               shared_->Acked(fresh);
                               promise->set_value();
                             });
  }
  void RecordLatency(Clock::time_point t0) {
    std::lock_guard<std::mutex> l(latency_mu_);
    latency_.Record(MicrosSince(t0));
  }

  const Config& c_;
  Consumer* const consumer_;
  ConsumeShared* const shared_;
  uint64_t errors_ = 0;  // the loop's thread only
  std::atomic<uint64_t> async_errors_{0};
  std::future<void> ack_done_;
  std::mutex latency_mu_;
  Histogram latency_;  // guarded by latency_mu_
};

}  // namespace

RunResult RunConsume(const Config& c, const std::string& address, uint64_t expected,
                     const std::set<std::string>* must_see,
                     const std::set<std::string>* must_not_see) {
  ConsumeShared shared(expected);
  std::vector<std::thread> threads;
  for (int conn = 0; conn < c.connections; ++conn) {
    threads.emplace_back([&] {
      ClientOptions options;
      options.broker = address;
      auto consumer = Consumer::Connect(options, c.group);
      if (!consumer.ok()) {
        shared.AddConsumer(1, Histogram());
        return;
      }
      ConsumerLoop(c, consumer->get(), &shared).Run();
    });
  }
  for (auto& t : threads) t.join();
  return shared.Finish(must_see, must_not_see);
}

RunResult RunRetry(const Config& c, const std::string& address, uint64_t expected) {
  RunResult total;
  ClientOptions options;
  options.broker = address;
  auto consumer = Consumer::Connect(options, c.group);
  if (!consumer.ok()) {
    ++total.errors;
    return total;
  }
  ReceiveOptions ro = BenchReceiveOptions(c);
  std::unordered_map<std::string, Clock::time_point> nacked_at;
  uint64_t acked = 0;
  auto start = Clock::now();
  while (acked < expected) {
    auto got = (*consumer)->Receive(c.topic, ro);
    if (!got.ok()) {
      ++total.errors;
      continue;
    }
    if (got->empty()) break;
    std::vector<std::string> to_ack;
    for (const auto& m : *got) {
      if (m.attempt == 1) {
        nacked_at[m.message_id] = Clock::now();
        if (!(*consumer)->Nack(m, std::chrono::milliseconds(0), "bench").ok()) ++total.errors;
      } else {
        auto it = nacked_at.find(m.message_id);
        if (it != nacked_at.end()) total.latency.Record(MicrosSince(it->second));
        to_ack.push_back(m.receipt_handle);
      }
    }
    if (!to_ack.empty()) {
      auto r = (*consumer)->AckBatch(to_ack);
      if (!r.ok()) ++total.errors;
      acked += to_ack.size();
    }
  }
  total.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  total.ok = acked;
  total.lost = expected > acked ? expected - acked : 0;
  return total;
}

}  // namespace halfmq::bench
