// halfmq-bench delayed delivery: RunDelay.
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "benchmarks/bench_runs.h"
#include "halfmq/halfmq.h"

namespace halfmq::bench {
namespace {

// Sends --count messages delayed by --delay-ms, --inflight at a time.
// Returns message id -> deliver_at_ms of those stored; counts failures in
// `errors`.
std::unordered_map<std::string, int64_t> SendDelayed(const Config& c, Producer* producer,
                                                     uint64_t* errors) {
  std::string body(c.size, 'x');
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  std::unordered_map<std::string, int64_t> due_of;
  for (uint64_t i = 0; i < c.count; ++i) {
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return outstanding < c.inflight; });
      ++outstanding;
    }
    producer->SendAsync(Message(c.topic).Body(body).Delay(std::chrono::milliseconds(c.delay_ms)),
                        [&](halfmq::Result<SendReceipt> r) {
                          std::lock_guard<std::mutex> l(mu);
                          if (r.ok()) {
                            due_of[r->message_id] = r->deliver_at_ms;
                          } else {
                            ++*errors;
                          }
                          --outstanding;
                          cv.notify_all();
                        });
  }
  std::unique_lock<std::mutex> l(mu);
  cv.wait(l, [&] { return outstanding == 0; });
  return due_of;
}

// Receives and acks the delayed messages until all `due_of` arrived or
// nothing comes for --delay-ms + 5 s, recording how late after its
// deliver-at each reached the consumer (client and broker share this
// machine's clock).
void ReceiveDelayed(const Config& c, Consumer* consumer,
                    const std::unordered_map<std::string, int64_t>& due_of, RunResult* total) {
  ReceiveOptions ro;
  ro.max_messages = 256;
  ro.wait = std::chrono::milliseconds(c.delay_ms + 5000);
  ro.invisible_for = std::chrono::milliseconds(60000);
  auto first = Clock::now();
  bool started = false;
  while (total->ok < due_of.size()) {
    auto got = consumer->Receive(c.topic, ro);
    if (!got.ok()) {
      ++total->errors;
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
      auto it = due_of.find(m.message_id);
      int64_t due = it != due_of.end() ? it->second : m.store_time_ms;
      total->latency.Record(static_cast<uint64_t>(std::max<int64_t>(0, now_ms - due)) * 1000);
      handles.push_back(m.receipt_handle);
    }
    total->ok += got->size();
    consumer->AckBatch(handles).IgnoreError();
  }
  total->seconds = std::chrono::duration<double>(Clock::now() - first).count();
}

}  // namespace

RunResult RunDelay(const Config& c, const std::string& address, const BenchBroker* own,
                   double* idle_cpu_per_s) {
  RunResult total;
  ClientOptions options;
  options.broker = address;
  auto producer = Producer::Connect(options);
  auto consumer = Consumer::Connect(options, c.group);
  if (!producer.ok() || !consumer.ok()) {
    ++total.errors;
    return total;
  }
  auto send_start = Clock::now();
  auto due_of = SendDelayed(c, producer->get(), &total.errors);
  uint64_t sent = due_of.size();
  double send_s = std::chrono::duration<double>(Clock::now() - send_start).count();
  std::fprintf(stderr, "stored %llu delayed messages in %.2fs (%.0f/s)\n",
               static_cast<unsigned long long>(sent), send_s, sent / send_s);
  // The broker's CPU while they all wait (half the delay, at most 5 s).
  if (own) {
    double before = own->Usage().cpu_seconds;
    auto idle = std::chrono::milliseconds(std::min<uint32_t>(c.delay_ms / 2, 5000));
    std::this_thread::sleep_for(idle);  // measuring an idle period, not synchronising
    *idle_cpu_per_s =
        (own->Usage().cpu_seconds - before) / std::chrono::duration<double>(idle).count();
  }
  ReceiveDelayed(c, consumer->get(), due_of, &total);
  total.lost = sent > total.ok ? sent - total.ok : 0;
  return total;
}

}  // namespace halfmq::bench
