// halfmq-bench producers: RunSend.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "benchmarks/bench_runs.h"
#include "halfmq/halfmq.h"

namespace halfmq::bench {
namespace {

// One producer connection's window of outstanding sends. The sending thread
// calls Send*/Drain; the client's io thread runs the completions. Both sides
// touch the counters under mu_.
class SendWindow {
 public:
  SendWindow(const Config& c, Producer* producer, bool keep_ids)
      : c_(c), producer_(producer), keep_ids_(keep_ids) {}

  // Sends --batch messages in one request once they fit in the window
  // (--inflight counts messages).
  void SendBatch(const std::string& body) {
    std::vector<Message> batch;
    batch.reserve(c_.batch);
    for (int b = 0; b < c_.batch; ++b) {
      Message m(c_.topic);
      m.Body(body);  // the client generates ids (and may skip dedup lookups)
      batch.push_back(std::move(m));
    }
    int n = c_.batch;
    Acquire(n, std::max(c_.inflight, c_.batch));
    auto sent_at = Clock::now();
    producer_->SendBatchAsync(batch,
                              [this, sent_at, n](halfmq::Result<std::vector<SendReceipt>> r) {
                                uint64_t us = MicrosSince(sent_at);
                                std::lock_guard<std::mutex> l(mu_);
                                if (r.ok()) {
                                  for (const auto& receipt : *r) Succeeded(us, receipt);
                                } else {
                                  Failed(n, r.status());
                                }
                                outstanding_ -= n;
                                cv_.notify_all();
                              });
  }

  // Sends one message once the window has room.
  void SendOne(const std::string& body) {
    Acquire(1, c_.inflight);
    Message m(c_.topic);
    m.Body(body);  // the client generates the id
    auto sent_at = Clock::now();
    producer_->SendAsync(m, [this, sent_at](halfmq::Result<SendReceipt> r) {
      uint64_t us = MicrosSince(sent_at);
      std::lock_guard<std::mutex> l(mu_);
      if (r.ok()) {
        Succeeded(us, *r);
      } else {
        Failed(1, r.status());
      }
      --outstanding_;
      cv_.notify_all();
    });
  }

  // Waits until every send has completed; then result() and ids() are final.
  void Drain() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return outstanding_ == 0; });
  }
  const RunResult& result() const { return mine_; }
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  void Acquire(int n, int limit) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return outstanding_ + n <= limit; });
    outstanding_ += n;
  }
  void Succeeded(uint64_t latency_us, const SendReceipt& receipt) {
    ++mine_.ok;
    mine_.latency.Record(latency_us);
    if (keep_ids_) ids_.push_back(receipt.message_id);
  }
  void Failed(int n, const Status& status) {
    mine_.errors += static_cast<uint64_t>(n);
    if (mine_.errors <= 3) std::cerr << "send: " << status << "\n";
  }

  const Config& c_;
  Producer* const producer_;
  const bool keep_ids_;
  std::mutex mu_;
  std::condition_variable cv_;
  int outstanding_ = 0;
  RunResult mine_;
  std::vector<std::string> ids_;
};

// What the producer threads share.
struct SendShared {
  std::atomic<uint64_t> issued{0};
  std::mutex mu;
  RunResult total;
};

// One connection's producer loop, until `count` messages were issued by all
// connections together or `stop_at`.
void SendOnConnection(const Config& c, const std::string& address, uint64_t count,
                      Clock::time_point stop_at, std::vector<std::string>* sent_ids,
                      SendShared* shared) {
  ClientOptions options;
  options.broker = address;
  auto producer = Producer::Connect(options);
  if (!producer.ok()) {
    std::cerr << "connect: " << producer.status() << "\n";
    std::lock_guard<std::mutex> l(shared->mu);
    ++shared->total.errors;
    return;
  }
  std::string body(c.size, 'x');
  SendWindow window(c, producer->get(), sent_ids != nullptr);
  double per_conn_rate = c.rate > 0 ? c.rate / c.connections : 0;
  auto next_at = Clock::now();
  for (;;) {
    if (Clock::now() >= stop_at) break;
    if (count > 0 && shared->issued.fetch_add(1) >= count) break;
    if (per_conn_rate > 0) {
      std::this_thread::sleep_until(next_at);  // pacing a load generator, not a test
      next_at += std::chrono::nanoseconds(static_cast<int64_t>(1e9 / per_conn_rate));
    }
    if (c.batch > 1) {
      if (count > 0) shared->issued.fetch_add(c.batch - 1);
      window.SendBatch(body);
    } else {
      window.SendOne(body);
    }
  }
  window.Drain();
  std::lock_guard<std::mutex> l(shared->mu);
  shared->total.ok += window.result().ok;
  shared->total.errors += window.result().errors;
  shared->total.latency.Merge(window.result().latency);
  if (sent_ids) sent_ids->insert(sent_ids->end(), window.ids().begin(), window.ids().end());
}

}  // namespace

RunResult RunSend(const Config& c, const std::string& address, uint64_t count, double duration_s,
                  std::vector<std::string>* sent_ids) {
  SendShared shared;
  auto start = Clock::now();
  auto stop_at = duration_s > 0
                     ? start + std::chrono::microseconds(static_cast<int64_t>(duration_s * 1e6))
                     : Clock::time_point::max();
  std::vector<std::thread> threads;
  for (int conn = 0; conn < c.connections; ++conn) {
    threads.emplace_back([&] { SendOnConnection(c, address, count, stop_at, sent_ids, &shared); });
  }
  for (auto& t : threads) t.join();
  RunResult total = std::move(shared.total);
  total.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return total;
}

}  // namespace halfmq::bench
