// halfmq-bench transactions: RunTxn.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "benchmarks/bench_runs.h"
#include "halfmq/halfmq.h"

namespace halfmq::bench {
namespace {

// How a transaction of the run ends.
enum class Ending { kCommit, kRollback, kLeftOpen };

// One connection's --inflight transaction chains. Each chain runs one
// transaction at a time (half send, then in its callback commit, roll back
// or leave open) and starts the next from the last callback, on the
// client's io thread, so no thread is woken per transaction to refill the
// window. A failed transaction ends its chain. RunToEnd() starts the chains
// and waits for all of them to end; the results are final after it.
class TxnChains {
 public:
  TxnChains(const Config& c, TransactionProducer* producer, TxnState answer, int conn,
            std::atomic<uint64_t>* issued, Clock::time_point stop_at)
      : c_(c),
        producer_(producer),
        answer_(answer),
        issued_(issued),
        stop_at_(stop_at),
        body_(c.size, 'x'),
        rng_(static_cast<uint64_t>(conn) * 1000003u + 17),
        chains_(c.inflight) {}

  void RunToEnd() {
    for (int i = 0; i < c_.inflight; ++i) Next();
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return chains_ == 0; });
  }

  const Histogram& latency() const { return latency_; }
  uint64_t ok() const { return ok_; }
  uint64_t errors() const { return errors_; }
  const std::vector<std::string>& expected() const { return expected_; }
  const std::vector<std::string>& forbidden() const { return forbidden_; }

 private:
  Ending Roll() {
    std::lock_guard<std::mutex> l(mu_);  // rng: chains run on several threads
    double roll = pct_(rng_);
    if (roll < c_.rollback_pct) return Ending::kRollback;
    if (roll < c_.rollback_pct + c_.unknown_pct) return Ending::kLeftOpen;
    return Ending::kCommit;
  }

  void Next() {
    if (Clock::now() >= stop_at_ || (c_.count != 0 && issued_->fetch_add(1) >= c_.count)) {
      return ChainEnds();
    }
    Ending ending = Roll();
    std::string txn_id = producer_->NewTransactionId();
    auto t0 = Clock::now();
    producer_->SendHalfAsync(
        txn_id, {Message(c_.topic).Body(body_)},
        [this, t0, txn_id, ending](halfmq::Result<std::vector<HalfReceipt>> half) {
          if (!half.ok()) return Finish(false, t0, "", ending);
          std::string id = (*half)[0].message_id;
          if (ending == Ending::kLeftOpen) {
            producer_->Abandon(txn_id);  // left to check-back
            return Finish(true, t0, id, ending);
          }
          producer_->EndAsync(txn_id,
                              ending == Ending::kRollback ? TxnState::kRollback : TxnState::kCommit,
                              [this, t0, id, ending](halfmq::Result<EndResult> end) {
                                Finish(end.ok(), t0, id, ending);
                              });
        });
  }

  void Finish(bool success, Clock::time_point t0, const std::string& id, Ending ending) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (success) {
        ++ok_;
        latency_.Record(MicrosSince(t0));
        bool visible = ending == Ending::kCommit ||
                       (ending == Ending::kLeftOpen && answer_ == TxnState::kCommit);
        (visible ? expected_ : forbidden_).push_back(id);
      } else {
        ++errors_;
      }
    }
    if (success) {
      Next();
    } else {
      ChainEnds();
    }
  }

  void ChainEnds() {
    std::lock_guard<std::mutex> l(mu_);
    if (--chains_ == 0) cv_.notify_all();
  }

  const Config& c_;
  TransactionProducer* const producer_;
  const TxnState answer_;
  std::atomic<uint64_t>* const issued_;
  const Clock::time_point stop_at_;
  const std::string body_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::mt19937_64 rng_;                                 // guarded by mu_
  std::uniform_real_distribution<double> pct_{0, 100};  // guarded by mu_
  int chains_;                                          // guarded by mu_
  Histogram latency_;                                   // guarded by mu_
  uint64_t ok_ = 0, errors_ = 0;                        // guarded by mu_
  std::vector<std::string> expected_, forbidden_;       // guarded by mu_
};

// Connects --connections transaction producers of one group whose checker
// answers `answer`. Empty (and `errors` counted) if one fails.
std::vector<std::unique_ptr<TransactionProducer>> ConnectProducers(const Config& c,
                                                                   const std::string& address,
                                                                   TxnState answer,
                                                                   uint64_t* errors) {
  std::vector<std::unique_ptr<TransactionProducer>> producers;
  for (int i = 0; i < c.connections; ++i) {
    ClientOptions options;
    options.broker = address;
    TransactionProducerOptions txn_options;
    txn_options.check_immunity = std::chrono::milliseconds(c.immunity_ms);
    auto p = TransactionProducer::Connect(
        options, "bench-producers", [answer](const CheckRequest&) { return answer; }, txn_options);
    if (!p.ok()) {
      std::cerr << "connect: " << p.status() << "\n";
      ++*errors;
      return {};
    }
    producers.push_back(std::move(p).value());
  }
  return producers;
}

// Transactions left open resolve through check-back: waits (polling broker
// state, at most 120 s) until none is open, while the producers stay
// connected to answer.
void AwaitNoOpenTransactions(const std::string& address) {
  ClientOptions options;
  options.broker = address;
  auto admin = Admin::Connect(options);
  auto deadline = Clock::now() + std::chrono::seconds(120);
  while (admin.ok() && Clock::now() < deadline) {
    auto open = (*admin)->ListTransactions(TxnListState::kAll, 1);
    if (open.ok() && open->empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling broker state
  }
}

}  // namespace

RunResult RunTxn(const Config& c, const std::string& address, std::set<std::string>* expected,
                 std::set<std::string>* forbidden) {
  RunResult total;
  std::mutex mu;
  std::atomic<uint64_t> issued{0};
  auto start = Clock::now();
  auto stop_at = c.duration_s > 0
                     ? start + std::chrono::microseconds(static_cast<int64_t>(c.duration_s * 1e6))
                     : Clock::time_point::max();
  // What the checker answers for transactions left open on purpose.
  TxnState answer = c.check_answer == "commit" ? TxnState::kCommit : TxnState::kRollback;
  auto producers = ConnectProducers(c, address, answer, &total.errors);
  if (producers.empty()) return total;
  // One thread per connection only starts its chains and waits for them.
  std::vector<std::thread> threads;
  for (int conn = 0; conn < c.connections; ++conn) {
    threads.emplace_back([&, conn] {
      TxnChains chains(c, producers[conn].get(), answer, conn, &issued, stop_at);
      chains.RunToEnd();
      std::lock_guard<std::mutex> l(mu);
      total.ok += chains.ok();
      total.errors += chains.errors();
      total.latency.Merge(chains.latency());
      expected->insert(chains.expected().begin(), chains.expected().end());
      forbidden->insert(chains.forbidden().begin(), chains.forbidden().end());
    });
  }
  for (auto& t : threads) t.join();
  total.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (c.wait_for_open) AwaitNoOpenTransactions(address);
  return total;
}

}  // namespace halfmq::bench
