// halfmq-bench: load generator with latency histograms and delivery checks.
//
//   halfmq-bench send|txn|consume|e2e [--broker HOST:PORT] [--size BYTES]
//       [--connections N] [--inflight N] [--batch N] (--count N | --duration-s S)
//       [--rate N] [--rollback-pct P] [--unknown-pct P] [--check-answer commit|rollback]
//       [--flush sync|async] [--json]
//
// Without --broker it starts its own halfmq-broker (next to this binary) on
// 127.0.0.1 with a temporary data directory and reports that broker's CPU
// time and peak RSS. See benchmarks/README.md.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "benchmarks/bench_broker.h"
#include "benchmarks/histogram.h"
#include "halfmq/halfmq.h"

namespace halfmq::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  std::string mode;
  std::string broker;
  size_t size = 1024;
  int connections = 1;
  int inflight = 64;
  int batch = 1;
  uint64_t count = 0;
  double duration_s = 0;
  double rate = 0;
  std::string flush = "sync";
  bool json = false;
  bool ack_async = false;  // consume: ack a batch while receiving the next
  std::string topic = "bench";
  uint32_t queues = 8;
  std::string group = "bench-group";
  double rollback_pct = 0;
  double unknown_pct = 0;
  std::string check_answer = "commit";
  uint32_t delay_ms = 10000;  // delay mode
  std::vector<std::string> broker_flags;  // for the broker it starts
  int idle_connections = 10000;           // idle mode
  uint64_t pending = 1000000;             // pending mode
  bool wait_for_open = true;              // txn: wait until check-back settled the rest
  uint32_t immunity_ms = 0;               // txn: check immunity of the transactions
};

[[noreturn]] void Usage(const std::string& error) {
  if (!error.empty()) std::cerr << "halfmq-bench: " << error << "\n";
  std::cerr << "usage: halfmq-bench send|txn|consume|e2e|retry|delay|idle|pending\n"
               "         [--broker HOST:PORT]\n"
               "         [--size BYTES]\n"
               "         [--connections N] [--inflight N] [--batch N]\n"
               "         (--count N | --duration-s S) [--rate N] [--flush sync|async]\n"
               "         [--rollback-pct P] [--unknown-pct P] [--check-answer commit|rollback]\n"
               "         [--delay-ms MS (delay mode)] [--broker-flag --NAME=VALUE]...\n"
               "         [--idle-connections N (idle mode)] [--pending N (pending mode)]\n"
               "         [--ack-async (consume/e2e: ack a batch while receiving the next)]\n"
               "         [--topic T] [--queues N] [--json]\n";
  std::exit(2);
}

Config ParseArgs(int argc, char** argv) {
  Config c;
  if (argc < 2) Usage("missing mode");
  c.mode = argv[1];
  if (c.mode != "send" && c.mode != "txn" && c.mode != "consume" && c.mode != "e2e" &&
      c.mode != "retry" && c.mode != "delay" && c.mode != "idle" && c.mode != "pending") {
    Usage("unknown mode " + c.mode);
  }
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(a + " needs a value");
      return argv[++i];
    };
    auto number = [&]() -> double {
      std::string v = value();
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || d < 0) Usage("bad number for " + a + ": " + v);
      return d;
    };
    if (a == "--broker") c.broker = value();
    else if (a == "--size") c.size = static_cast<size_t>(number());
    else if (a == "--connections") c.connections = static_cast<int>(number());
    else if (a == "--inflight") c.inflight = static_cast<int>(number());
    else if (a == "--batch") c.batch = static_cast<int>(number());
    else if (a == "--count") c.count = static_cast<uint64_t>(number());
    else if (a == "--duration-s") c.duration_s = number();
    else if (a == "--rate") c.rate = number();
    else if (a == "--flush") c.flush = value();
    else if (a == "--topic") c.topic = value();
    else if (a == "--queues") c.queues = static_cast<uint32_t>(number());
    else if (a == "--json") c.json = true;
    else if (a == "--ack-async") c.ack_async = true;
    else if (a == "--rollback-pct") c.rollback_pct = number();
    else if (a == "--unknown-pct") c.unknown_pct = number();
    else if (a == "--check-answer") c.check_answer = value();
    else if (a == "--delay-ms") c.delay_ms = static_cast<uint32_t>(number());
    else if (a == "--broker-flag") c.broker_flags.push_back(value());
    else if (a == "--idle-connections") c.idle_connections = static_cast<int>(number());
    else if (a == "--pending") c.pending = static_cast<uint64_t>(number());
    else Usage("unknown flag " + a);
  }
  if ((c.count == 0) == (c.duration_s == 0)) Usage("give exactly one of --count and --duration-s");
  if (c.connections < 1 || c.inflight < 1 || c.batch < 1) Usage("counts must be >= 1");
  if (c.flush != "sync" && c.flush != "async") Usage("--flush is sync or async");
  if ((c.mode == "consume" || c.mode == "retry" || c.mode == "delay" || c.mode == "idle" ||
       c.mode == "pending") && c.count == 0) {
    Usage(c.mode + " needs --count");
  }
  if (c.check_answer != "commit" && c.check_answer != "rollback") {
    Usage("--check-answer is commit or rollback");
  }
  if (c.rollback_pct + c.unknown_pct > 100) Usage("--rollback-pct + --unknown-pct > 100");
  return c;
}

struct Result {
  uint64_t ok = 0;
  uint64_t errors = 0;
  uint64_t lost = 0;
  uint64_t duplicates = 0;
  double seconds = 0;
  Histogram latency;
  // CPU spent during this phase (filled by Measured): by this process (the
  // clients) and by the broker (-1 when it is not ours to observe).
  double client_cpu_s = 0;
  double broker_cpu_s = -1;
};

double SelfCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Runs one phase and records the CPU that the clients and the broker spent
// in it, so a report can say which side bounds the throughput (both share
// the machine's cores).
template <typename Run>
Result Measured(const BenchBroker* own, Run run) {
  double client_before = SelfCpuSeconds();
  double broker_before = own ? own->Usage().cpu_seconds : 0;
  Result r = run();
  r.client_cpu_s = SelfCpuSeconds() - client_before;
  if (own) r.broker_cpu_s = own->Usage().cpu_seconds - broker_before;
  return r;
}

// Runs producers: each connection keeps up to `inflight` sends outstanding.
// Records every successful message id in `sent_ids` when given.
Result RunSend(const Config& c, const std::string& address, uint64_t count, double duration_s,
               std::vector<std::string>* sent_ids) {
  Result total;
  std::mutex total_mu;
  std::string body(c.size, 'x');
  std::atomic<uint64_t> issued{0};
  auto start = Clock::now();
  auto stop_at = duration_s > 0
                     ? start + std::chrono::microseconds(static_cast<int64_t>(duration_s * 1e6))
                     : Clock::time_point::max();
  std::vector<std::thread> threads;
  for (int conn = 0; conn < c.connections; ++conn) {
    threads.emplace_back([&, conn] {
      ClientOptions options;
      options.broker = address;
      auto producer = Producer::Connect(options);
      if (!producer.ok()) {
        std::cerr << "connect: " << producer.status() << "\n";
        std::lock_guard<std::mutex> l(total_mu);
        ++total.errors;
        return;
      }
      Result mine;
      std::vector<std::string> ids;
      std::mutex mu;
      std::condition_variable cv;
      int outstanding = 0;
      double per_conn_rate = c.rate > 0 ? c.rate / c.connections : 0;
      auto next_at = Clock::now();
      for (;;) {
        if (Clock::now() >= stop_at) break;
        if (count > 0 && issued.fetch_add(1) >= count) break;
        if (per_conn_rate > 0) {
          std::this_thread::sleep_until(next_at);  // pacing a load generator, not a test
          next_at += std::chrono::nanoseconds(static_cast<int64_t>(1e9 / per_conn_rate));
        }
        if (c.batch > 1) {
          // --batch messages per request; --inflight counts messages.
          std::vector<Message> batch;
          batch.reserve(c.batch);
          for (int b = 0; b < c.batch; ++b) {
            Message m(c.topic);
            m.Body(body);  // the client generates ids (and may skip dedup lookups)
            batch.push_back(std::move(m));
          }
          if (count > 0) issued.fetch_add(c.batch - 1);
          {
            std::unique_lock<std::mutex> l(mu);
            cv.wait(l, [&] { return outstanding + c.batch <= std::max(c.inflight, c.batch); });
            outstanding += c.batch;
          }
          auto sent_at = Clock::now();
          int n = c.batch;
          (*producer)->SendBatchAsync(
              batch, [&, sent_at, n](halfmq::Result<std::vector<SendReceipt>> r) {
                auto us =
                    std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent_at);
                std::lock_guard<std::mutex> l(mu);
                if (r.ok()) {
                  mine.ok += n;
                  for (int k = 0; k < n; ++k) {
                    mine.latency.Record(static_cast<uint64_t>(us.count()));
                  }
                  if (sent_ids) {
                    for (const auto& receipt : *r) ids.push_back(receipt.message_id);
                  }
                } else {
                  mine.errors += n;
                  if (mine.errors <= 3) std::cerr << "send: " << r.status() << "\n";
                }
                outstanding -= n;
                cv.notify_all();
              });
          continue;
        }
        {
          std::unique_lock<std::mutex> l(mu);
          cv.wait(l, [&] { return outstanding < c.inflight; });
          ++outstanding;
        }
        Message m(c.topic);
        m.Body(body);  // the client generates the id
        auto sent_at = Clock::now();
        (*producer)->SendAsync(m, [&, sent_at](halfmq::Result<SendReceipt> r) {
          auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent_at);
          std::lock_guard<std::mutex> l(mu);
          if (r.ok()) {
            ++mine.ok;
            mine.latency.Record(static_cast<uint64_t>(us.count()));
            if (sent_ids) ids.push_back(r->message_id);
          } else {
            ++mine.errors;
            if (mine.errors <= 3) std::cerr << "send: " << r.status() << "\n";
          }
          --outstanding;
          cv.notify_all();
        });
      }
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return outstanding == 0; });
      }
      std::lock_guard<std::mutex> l(total_mu);
      total.ok += mine.ok;
      total.errors += mine.errors;
      total.latency.Merge(mine.latency);
      if (sent_ids) sent_ids->insert(sent_ids->end(), ids.begin(), ids.end());
    });
  }
  for (auto& t : threads) t.join();
  total.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return total;
}

// Runs consumers of one group until `expected` distinct messages were acked
// or nothing arrives for 2 s. Latency is per receive+ack round.
Result RunConsume(const Config& c, const std::string& address, uint64_t expected,
                  const std::set<std::string>* must_see,
                  const std::set<std::string>* must_not_see = nullptr) {
  Result total;
  std::mutex mu;
  std::unordered_map<std::string, int> seen;
  std::atomic<uint64_t> distinct{0};
  std::atomic<uint64_t> distinct_acked{0};  // of `distinct`, acked durably
  std::atomic<bool> done{false};
  std::atomic<int64_t> finished_ns{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int conn = 0; conn < c.connections; ++conn) {
    threads.emplace_back([&] {
      ClientOptions options;
      options.broker = address;
      auto consumer = Consumer::Connect(options, c.group);
      if (!consumer.ok()) {
        std::lock_guard<std::mutex> l(mu);
        ++total.errors;
        return;
      }
      ReceiveOptions ro;
      ro.max_messages = static_cast<uint32_t>(std::max(c.batch, 32));
      ro.wait = std::chrono::milliseconds(2000);
      ro.invisible_for = std::chrono::milliseconds(60000);
      Histogram latency;
      uint64_t errors = 0;
      // --ack-async: at most one ack in flight, overlapping the next receive;
      // its messages count once the ack is durable.
      std::future<void> ack_done;
      std::atomic<uint64_t> async_errors{0};
      std::mutex latency_mu;
      auto finish_if_all = [&] {
        if (distinct_acked.load() >= expected && !done.exchange(true)) {
          finished_ns.store((Clock::now() - start).count());
        }
      };
      while (!done.load()) {
        auto t0 = Clock::now();
        auto got = (*consumer)->Receive(c.topic, ro);
        if (!got.ok()) {
          ++errors;
          continue;
        }
        if (got->empty()) break;  // idle for 2 s: nothing left
        std::vector<std::string> handles;
        uint64_t fresh = 0;
        {
          std::lock_guard<std::mutex> l(mu);
          for (const auto& m : *got) {
            if (++seen[m.message_id] == 1) {
              distinct.fetch_add(1);
              ++fresh;
            }
            handles.push_back(m.receipt_handle);
          }
        }
        if (c.ack_async) {
          if (ack_done.valid()) ack_done.get();
          auto promise = std::make_shared<std::promise<void>>();
          ack_done = promise->get_future();
          (*consumer)->AckBatchAsync(handles, [&, promise, t0, fresh](
                                                  halfmq::Result<std::vector<Status>> acked) {
            if (!acked.ok()) async_errors.fetch_add(1);
            {
              std::lock_guard<std::mutex> l(latency_mu);
              latency.Record(static_cast<uint64_t>(
                  std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0)
                      .count()));
            }
            distinct_acked.fetch_add(fresh);
            finish_if_all();
            promise->set_value();
          });
          continue;
        }
        auto acked = (*consumer)->AckBatch(handles);
        if (!acked.ok()) ++errors;
        latency.Record(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
        distinct_acked.fetch_add(fresh);
        finish_if_all();
      }
      if (ack_done.valid()) ack_done.get();
      std::lock_guard<std::mutex> l(mu);
      total.errors += errors + async_errors.load();
      std::lock_guard<std::mutex> ll(latency_mu);
      total.latency.Merge(latency);
    });
  }
  for (auto& t : threads) t.join();
  // Throughput counts until the last expected message was acked, not the
  // idle wait of the other consumers after it.
  total.seconds = finished_ns.load() > 0
                      ? static_cast<double>(finished_ns.load()) / 1e9
                      : std::chrono::duration<double>(Clock::now() - start).count();
  total.ok = distinct.load();
  for (const auto& [id, n] : seen) {
    if (n > 1) total.duplicates += static_cast<uint64_t>(n - 1);
  }
  if (must_see) {
    for (const auto& id : *must_see) {
      if (!seen.count(id)) ++total.lost;
    }
  }
  if (must_not_see) {
    for (const auto& id : *must_not_see) {
      if (seen.count(id)) {
        ++total.errors;
        if (total.errors <= 3) std::cerr << "rolled-back message consumed: " << id << "\n";
      }
    }
  }
  return total;
}

// Transactions: each of --inflight threads per connection runs
// Begin -> Send (half) -> Commit, or Rollback (--rollback-pct), or leaves the
// transaction open (--unknown-pct) for check-back to settle with
// --check-answer. Latency is half send + end. Fills `expected` (must be
// consumed) and `forbidden` (must never be consumed).
Result RunTxn(const Config& c, const std::string& address, std::set<std::string>* expected,
              std::set<std::string>* forbidden) {
  Result total;
  std::mutex mu;
  std::string body(c.size, 'x');
  std::atomic<uint64_t> issued{0};
  auto start = Clock::now();
  auto stop_at = c.duration_s > 0
                     ? start + std::chrono::microseconds(static_cast<int64_t>(c.duration_s * 1e6))
                     : Clock::time_point::max();
  // What the checker answers for transactions left open on purpose.
  TxnState answer = c.check_answer == "commit" ? TxnState::kCommit : TxnState::kRollback;
  std::vector<std::unique_ptr<TransactionProducer>> producers;
  for (int i = 0; i < c.connections; ++i) {
    ClientOptions options;
    options.broker = address;
    TransactionProducerOptions txn_options;
    txn_options.check_immunity = std::chrono::milliseconds(c.immunity_ms);
    auto p = TransactionProducer::Connect(options, "bench-producers",
                                          [answer](const CheckRequest&) { return answer; },
                                          txn_options);
    if (!p.ok()) {
      std::cerr << "connect: " << p.status() << "\n";
      ++total.errors;
      return total;
    }
    producers.push_back(std::move(p).value());
  }
  // One thread per connection keeps --inflight transactions going with the
  // asynchronous API: --inflight chains, each running one transaction at a
  // time (half send, then in its callback commit, rollback or leave open)
  // and starting the next from the last callback, on the client's io
  // thread. The connection's thread only starts the chains and waits for
  // them to run out, so no thread is woken per transaction to refill the
  // window. A failed transaction ends its chain.
  std::vector<std::thread> threads;
  for (int conn = 0; conn < c.connections; ++conn) {
    threads.emplace_back([&, conn] {
      std::mt19937_64 rng(static_cast<uint64_t>(conn) * 1000003u + 17);
      std::uniform_real_distribution<double> pct(0, 100);
      TransactionProducer& producer = *producers[conn];
      std::mutex mine_mu;
      std::condition_variable cv;
      int chains = c.inflight;
      Histogram latency;
      uint64_t ok = 0, errors = 0;
      std::vector<std::string> exp, forb;
      std::function<void()> next;
      auto chain_ends = [&] {
        std::lock_guard<std::mutex> l(mine_mu);
        if (--chains == 0) cv.notify_all();
      };
      auto finish = [&](bool success, Clock::time_point t0, const std::string& id, int kind) {
        {
          std::lock_guard<std::mutex> l(mine_mu);
          if (success) {
            ++ok;
            latency.Record(static_cast<uint64_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
            if (kind == 0) exp.push_back(id);
            if (kind == 1) forb.push_back(id);
            if (kind == 2) (answer == TxnState::kCommit ? exp : forb).push_back(id);
          } else {
            ++errors;
          }
        }
        if (success) {
          next();
        } else {
          chain_ends();
        }
      };
      next = [&] {
        if (Clock::now() >= stop_at || (c.count != 0 && issued.fetch_add(1) >= c.count)) {
          return chain_ends();
        }
        int kind;
        {
          std::lock_guard<std::mutex> l(mine_mu);  // rng: chains run on several threads
          double roll = pct(rng);
          kind = roll < c.rollback_pct ? 1 : roll < c.rollback_pct + c.unknown_pct ? 2 : 0;
        }
        std::string txn_id = producer.NewTransactionId();
        auto t0 = Clock::now();
        producer.SendHalfAsync(
            txn_id, {Message(c.topic).Body(body)},
            [&, t0, txn_id, kind](halfmq::Result<std::vector<HalfReceipt>> half) {
              if (!half.ok()) return finish(false, t0, "", kind);
              std::string id = (*half)[0].message_id;
              if (kind == 2) {
                producer.Abandon(txn_id);  // left to check-back
                return finish(true, t0, id, kind);
              }
              producer.EndAsync(txn_id, kind == 1 ? TxnState::kRollback : TxnState::kCommit,
                                [&, t0, id, kind](halfmq::Result<EndResult> end) {
                                  finish(end.ok(), t0, id, kind);
                                });
            });
      };
      for (int i = 0; i < c.inflight; ++i) next();
      std::unique_lock<std::mutex> l(mine_mu);
      cv.wait(l, [&] { return chains == 0; });
      std::lock_guard<std::mutex> g(mu);
      total.ok += ok;
      total.errors += errors;
      total.latency.Merge(latency);
      expected->insert(exp.begin(), exp.end());
      forbidden->insert(forb.begin(), forb.end());
    });
  }
  for (auto& t : threads) t.join();
  total.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // Transactions left open resolve through check-back; wait for that (the
  // producers stay connected to answer) before the caller verifies.
  ClientOptions options;
  options.broker = address;
  auto admin = Admin::Connect(options);
  auto deadline = Clock::now() + std::chrono::seconds(c.wait_for_open ? 120 : 0);
  while (admin.ok() && Clock::now() < deadline) {
    auto open = (*admin)->ListTransactions(TxnListState::kAll, 1);
    if (open.ok() && open->empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling broker state
  }
  return total;
}

// The retry path: every message is received, nacked with no delay, received
// again (attempt 2) and acked. Latency is nack -> redelivery, per message.
Result RunRetry(const Config& c, const std::string& address, uint64_t expected) {
  Result total;
  ClientOptions options;
  options.broker = address;
  auto consumer = Consumer::Connect(options, c.group);
  if (!consumer.ok()) {
    ++total.errors;
    return total;
  }
  ReceiveOptions ro;
  ro.max_messages = static_cast<uint32_t>(std::max(c.batch, 32));
  ro.wait = std::chrono::milliseconds(2000);
  ro.invisible_for = std::chrono::milliseconds(60000);
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
        if (it != nacked_at.end()) {
          total.latency.Record(static_cast<uint64_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - it->second)
                  .count()));
        }
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

// Delayed delivery: --count messages are sent with --delay-ms, so they are
// all pending at once; the consumer then measures how late each one arrives
// after its deliver-at (client and broker share this machine's clock).
Result RunDelay(const Config& c, const std::string& address, const BenchBroker* own,
                double* idle_cpu_per_s) {
  Result total;
  ClientOptions options;
  options.broker = address;
  auto producer = Producer::Connect(options);
  auto consumer = Consumer::Connect(options, c.group);
  if (!producer.ok() || !consumer.ok()) {
    ++total.errors;
    return total;
  }
  std::string body(c.size, 'x');
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  uint64_t sent = 0;
  std::unordered_map<std::string, int64_t> due_of;  // message id -> deliver_at
  auto send_start = Clock::now();
  for (uint64_t i = 0; i < c.count; ++i) {
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return outstanding < c.inflight; });
      ++outstanding;
    }
    (*producer)->SendAsync(Message(c.topic).Body(body).Delay(std::chrono::milliseconds(c.delay_ms)),
                           [&](halfmq::Result<SendReceipt> r) {
                             std::lock_guard<std::mutex> l(mu);
                             if (r.ok()) {
                               ++sent;
                               due_of[r->message_id] = r->deliver_at_ms;
                             } else {
                               ++total.errors;
                             }
                             --outstanding;
                             cv.notify_all();
                           });
  }
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return outstanding == 0; });
  }
  double send_s = std::chrono::duration<double>(Clock::now() - send_start).count();
  std::fprintf(stderr, "stored %llu delayed messages in %.2fs (%.0f/s)\n",
               static_cast<unsigned long long>(sent), send_s, sent / send_s);
  // The broker's CPU while they all wait (half the delay, at most 5 s).
  if (own) {
    double before = own->Usage().cpu_seconds;
    auto idle = std::chrono::milliseconds(std::min<uint32_t>(c.delay_ms / 2, 5000));
    std::this_thread::sleep_for(idle);  // measuring an idle period, not synchronising
    *idle_cpu_per_s = (own->Usage().cpu_seconds - before) /
                      std::chrono::duration<double>(idle).count();
  }
  ReceiveOptions ro;
  ro.max_messages = 256;
  ro.wait = std::chrono::milliseconds(c.delay_ms + 5000);
  ro.invisible_for = std::chrono::milliseconds(60000);
  auto first = Clock::now();
  bool started = false;
  while (total.ok < sent) {
    auto got = (*consumer)->Receive(c.topic, ro);
    if (!got.ok()) {
      ++total.errors;
      continue;
    }
    if (got->empty()) break;
    if (!started) {
      first = Clock::now();
      started = true;
    }
    int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    std::vector<std::string> handles;
    for (const auto& m : *got) {
      // How late after its deliver-at it reached the consumer.
      auto it = due_of.find(m.message_id);
      int64_t due = it != due_of.end() ? it->second : m.store_time_ms;
      total.latency.Record(static_cast<uint64_t>(std::max<int64_t>(0, now_ms - due)) * 1000);
      handles.push_back(m.receipt_handle);
    }
    total.ok += got->size();
    (*consumer)->AckBatch(handles).IgnoreError();
  }
  total.seconds = std::chrono::duration<double>(Clock::now() - first).count();
  total.lost = sent > total.ok ? sent - total.ok : 0;
  return total;
}

// Opens `n` TCP connections that send nothing. Returns their descriptors.
std::vector<int> OpenIdleConnections(const std::string& address, int n) {
  std::vector<int> fds;
  auto colon = address.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      break;
    }
    fds.push_back(fd);
  }
  return fds;
}

int64_t BrokerStat(const std::string& address, const std::string& name) {
  ClientOptions options;
  options.broker = address;
  auto admin = Admin::Connect(options);
  if (!admin.ok()) return -1;
  auto stats = (*admin)->GetBrokerStats();
  return stats.ok() ? (*stats)[name] : -1;
}

void Report(const Config& c, const Result& r, const BenchBroker* own, const std::string& label) {
  double tput = r.seconds > 0 ? static_cast<double>(r.ok) / r.seconds : 0;
  BrokerUsage usage = own ? own->Usage() : BrokerUsage{};
  if (c.json) {
    std::printf(
        "{\"mode\":\"%s\",\"throughput_per_s\":%.0f,\"count\":%llu,\"duration_s\":%.3f,"
        "\"p50_us\":%llu,\"p99_us\":%llu,\"p999_us\":%llu,\"max_us\":%llu,\"mean_us\":%.1f,"
        "\"errors\":%llu,\"lost\":%llu,\"duplicates\":%llu,\"broker_peak_rss_bytes\":%lld,"
        "\"broker_cpu_s\":%.2f,\"phase_broker_cpu_s\":%.2f,\"phase_client_cpu_s\":%.2f,"
        "\"size\":%zu,\"connections\":%d,\"inflight\":%d,\"batch\":%d,"
        "\"flush\":\"%s\"}\n",
        label.c_str(), tput, static_cast<unsigned long long>(r.ok), r.seconds,
        static_cast<unsigned long long>(r.latency.Percentile(0.5)),
        static_cast<unsigned long long>(r.latency.Percentile(0.99)),
        static_cast<unsigned long long>(r.latency.Percentile(0.999)),
        static_cast<unsigned long long>(r.latency.max()), r.latency.mean(),
        static_cast<unsigned long long>(r.errors), static_cast<unsigned long long>(r.lost),
        static_cast<unsigned long long>(r.duplicates),
        static_cast<long long>(own ? usage.peak_rss_bytes : -1), usage.cpu_seconds,
        r.broker_cpu_s, r.client_cpu_s, c.size,
        c.connections, c.inflight, c.batch, c.flush.c_str());
  } else {
    std::printf("%-8s %10.0f msg/s  n=%llu in %.2fs  p50=%lluus p99=%lluus p99.9=%lluus max=%lluus"
                "  errors=%llu lost=%llu dup=%llu",
                label.c_str(), tput, static_cast<unsigned long long>(r.ok), r.seconds,
                static_cast<unsigned long long>(r.latency.Percentile(0.5)),
                static_cast<unsigned long long>(r.latency.Percentile(0.99)),
                static_cast<unsigned long long>(r.latency.Percentile(0.999)),
                static_cast<unsigned long long>(r.latency.max()),
                static_cast<unsigned long long>(r.errors), static_cast<unsigned long long>(r.lost),
                static_cast<unsigned long long>(r.duplicates));
    if (own) {
      std::printf("  broker: cpu=%.2fs peak_rss=%.1fMiB", usage.cpu_seconds,
                  static_cast<double>(usage.peak_rss_bytes) / (1 << 20));
    }
    if (r.ok > 0 && r.broker_cpu_s >= 0) {
      std::printf("  cpu/op: broker=%.1fus client=%.1fus", r.broker_cpu_s * 1e6 / r.ok,
                  r.client_cpu_s * 1e6 / r.ok);
    }
    std::printf("\n");
  }
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  Config c = ParseArgs(argc, argv);
  std::unique_ptr<BenchBroker> own;
  std::string address = c.broker;
  if (address.empty()) {
    // Short check delay so that transactions left open settle within a run.
    std::vector<std::string> flags = {"--flush=" + c.flush, "--txn_check_delay_ms=500",
                                      "--txn_check_backoff_max_ms=1000"};
    flags.insert(flags.end(), c.broker_flags.begin(), c.broker_flags.end());
    auto started = BenchBroker::Start(argv[0], flags);
    if (!started.ok()) {
      std::cerr << "halfmq-bench: " << started.status() << "\n";
      return 1;
    }
    own = std::move(started).value();
    address = own->address();
  }
  {
    ClientOptions options;
    options.broker = address;
    auto admin = Admin::Connect(options);
    if (!admin.ok()) {
      std::cerr << "halfmq-bench: " << admin.status() << "\n";
      return 1;
    }
    auto created = (*admin)->CreateTopic(c.topic, c.queues);
    if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
      std::cerr << "halfmq-bench: " << created.status() << "\n";
      return 1;
    }
    if (c.mode != "send") {  // subscribe before producing, at the latest offset
      Status s = (*admin)->CreateSubscription(c.group, c.topic, StartPosition::kLatest);
      if (!s.ok() && s.code() != StatusCode::kAlreadyExists) {
        std::cerr << "halfmq-bench: " << s << "\n";
        return 1;
      }
    }
  }
  int failures = 0;
  if (c.mode == "send") {
    Result r = Measured(own.get(), [&] { return RunSend(c, address, c.count, c.duration_s, nullptr); });
    Report(c, r, own.get(), "send");
    failures = r.errors > 0;
  } else if (c.mode == "txn") {
    std::set<std::string> expected, forbidden;
    Result r = Measured(own.get(), [&] { return RunTxn(c, address, &expected, &forbidden); });
    Report(c, r, own.get(), "txn");
    // Verify: every committed message consumed, none rolled back consumed.
    Result got = Measured(own.get(), [&] { return RunConsume(c, address, expected.size(), &expected, &forbidden); });
    Report(c, got, own.get(), "txn-recv");
    failures = r.errors > 0 || got.lost > 0 || got.errors > 0;
  } else if (c.mode == "retry") {
    Result fill = Measured(own.get(), [&] { return RunSend(c, address, c.count, 0, nullptr); });
    Result r = Measured(own.get(), [&] { return RunRetry(c, address, fill.ok); });
    Report(c, r, own.get(), "retry");
    failures = r.errors > 0 || r.lost > 0;
  } else if (c.mode == "delay") {
    double idle_cpu = 0;
    Result r = Measured(own.get(), [&] { return RunDelay(c, address, own.get(), &idle_cpu); });
    Report(c, r, own.get(), "delay");
    if (own) std::fprintf(stderr, "broker CPU while they were pending: %.3f s/s\n", idle_cpu);
    failures = r.errors > 0 || r.lost > 0;
  } else if (c.mode == "idle") {
    // Send load alone, then with --idle-connections idle clients open.
    Result before = Measured(own.get(), [&] { return RunSend(c, address, c.count, 0, nullptr); });
    Report(c, before, own.get(), "send-alone");
    int64_t rss_before = own ? own->Usage().rss_bytes : -1;
    std::vector<int> fds = OpenIdleConnections(address, c.idle_connections);
    // Wait (polling the broker's own counter) until it has accepted them.
    for (int i = 0; i < 6000 && BrokerStat(address, "connections_open") <
                                    static_cast<int64_t>(fds.size());
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    int64_t rss_idle = own ? own->Usage().rss_bytes : -1;
    Result with = Measured(own.get(), [&] { return RunSend(c, address, c.count, 0, nullptr); });
    Report(c, with, own.get(), "send-with-idle");
    std::fprintf(stderr,
                 "%zu idle connections: broker RSS %.1f MiB -> %.1f MiB (+%.1f MiB, %.1f KiB "
                 "each)\n",
                 fds.size(), rss_before / 1048576.0, rss_idle / 1048576.0,
                 (rss_idle - rss_before) / 1048576.0,
                 fds.empty() ? 0.0 : (rss_idle - rss_before) / 1024.0 / fds.size());
    for (int fd : fds) ::close(fd);
    failures = before.errors > 0 || with.errors > 0 ||
               static_cast<int>(fds.size()) < c.idle_connections;
  } else if (c.mode == "pending") {
    // Transaction throughput with no transaction pending, then with
    // --pending half messages left open (their checks far in the future).
    // Both in steady state: a fresh broker defers all compaction work (its
    // first run of transactions flushes memtables but compacts nothing), so
    // the empty case runs once unmeasured first and is measured after the
    // broker has settled, like the pending case after its fill.
    std::set<std::string> expected, forbidden;
    {
      std::set<std::string> unused1, unused2;
      Result warmed = RunTxn(c, address, &unused1, &unused2);
      std::fprintf(stderr, "warm-up: %llu transactions\n",
                   static_cast<unsigned long long>(warmed.ok));
      if (own) own->AwaitQuiet();
    }
    Result empty = Measured(own.get(), [&] { return RunTxn(c, address, &expected, &forbidden); });
    Report(c, empty, own.get(), "txn-empty");
    Config fill = c;
    fill.unknown_pct = 100;  // leave them all open
    fill.rollback_pct = 0;
    fill.count = c.pending;
    fill.duration_s = 0;
    fill.wait_for_open = false;
    fill.immunity_ms = 3600 * 1000;  // not checked during the run
    std::set<std::string> unused1, unused2;
    auto fill_start = Clock::now();
    Result filled = Measured(own.get(), [&] { return RunTxn(fill, address, &unused1, &unused2); });
    std::fprintf(stderr, "left %llu transactions pending in %.1fs\n",
                 static_cast<unsigned long long>(filled.ok),
                 std::chrono::duration<double>(Clock::now() - fill_start).count());
    // Let the broker finish compacting what the fill wrote: the target is
    // the steady state with that many pending, not the aftermath of writing
    // them.
    if (own) own->AwaitQuiet();
    double cpu_before = own ? own->Usage().cpu_seconds : 0;
    std::this_thread::sleep_for(std::chrono::seconds(5));  // measuring an idle period
    double idle_cpu = own ? (own->Usage().cpu_seconds - cpu_before) / 5.0 : 0;
    std::set<std::string> expected2, forbidden2;
    Config again = c;
    again.wait_for_open = false;
    Result loaded = Measured(own.get(), [&] { return RunTxn(again, address, &expected2, &forbidden2); });
    Report(c, loaded, own.get(), "txn-pending");
    std::fprintf(stderr,
                 "with %llu pending: %.0f%% of the empty throughput; broker CPU while idle with "
                 "them pending: %.3f s/s (txn_pending=%lld)\n",
                 static_cast<unsigned long long>(filled.ok),
                 empty.seconds > 0 && loaded.seconds > 0
                     ? 100.0 * (loaded.ok / loaded.seconds) / (empty.ok / empty.seconds)
                     : 0.0,
                 idle_cpu, static_cast<long long>(BrokerStat(address, "txn_pending")));
    failures = empty.errors > 0 || loaded.errors > 0;
  } else if (c.mode == "consume") {
    Result fill = Measured(own.get(), [&] { return RunSend(c, address, c.count, 0, nullptr); });
    if (fill.errors > 0) {
      std::cerr << "halfmq-bench: " << fill.errors << " sends failed while filling\n";
      return 1;
    }
    Result r = Measured(own.get(), [&] { return RunConsume(c, address, fill.ok, nullptr); });
    Report(c, r, own.get(), "consume");
    failures = r.errors > 0 || r.ok < fill.ok;
  } else {  // e2e: send, then drain and check every acknowledged send arrived
    std::vector<std::string> ids;
    Result sent = Measured(own.get(), [&] { return RunSend(c, address, c.count, c.duration_s, &ids); });
    Report(c, sent, own.get(), "e2e-send");
    std::set<std::string> must(ids.begin(), ids.end());
    Result got = Measured(own.get(), [&] { return RunConsume(c, address, must.size(), &must); });
    Report(c, got, own.get(), "e2e-recv");
    failures = sent.errors > 0 || got.lost > 0;
  }
  if (own) own->Stop();
  return failures ? 1 : 0;
}

}  // namespace
}  // namespace halfmq::bench

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  return halfmq::bench::Main(argc, argv);
}
