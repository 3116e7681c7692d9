// Shared by the crash-under-load tests (crash_load_test.cc: sends and acks;
// crash_load_txn_test.cc: transactions): the test fixture, which starts the
// broker with quick check-backs and reads everything back after a restart, the
// pipelined load connection and the checks' reporting. See crash_load_test.cc
// for what the tests do and why nothing in them waits on time.
#ifndef HALFMQ_TESTS_INTEGRATION_CRASH_LOAD_TEST_H_
#define HALFMQ_TESTS_INTEGRATION_CRASH_LOAD_TEST_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "halfmq/halfmq.h"
#include "tests/util/broker_process.h"
#include "tests/util/eventually.h"
#include "tests/util/raw_client.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {

inline constexpr size_t kWindow = 64;      // requests in flight on the load connection
inline constexpr int kDeadlineMs = 60000;  // turns a hang into a failure; never a timing bound

// Body of a message, derived from its id so that any copy can be checked.
// Sizes straddle --message_blob_min_bytes (256), so both the LSM tree and
// blob files are exercised.
inline std::string BodyOf(const std::string& id, size_t n) {
  return id + ":" + std::string(10 + (n * 37) % 600, static_cast<char>('a' + n % 26));
}

// Where a message is stored, as a SendResult or a delivery says.
struct Location {
  uint32_t queue = 0;
  uint64_t offset = 0;
  bool operator==(const Location& o) const { return queue == o.queue && offset == o.offset; }
  std::string ToString() const { return std::to_string(queue) + "/" + std::to_string(offset); }
};

// Violations found by the checks after a restart, by kind, reported when it
// goes out of scope: a broker that lost state fails with one line per kind
// (a count and the first few cases) rather than thousands of lines.
class Violations {
 public:
  Violations() = default;
  Violations(const Violations&) = delete;
  Violations& operator=(const Violations&) = delete;
  ~Violations() {
    for (const auto& [kind, found] : by_kind_) {
      std::string first;
      for (const auto& d : found.first) first += "\n  " + d;
      ADD_FAILURE() << found.second << " x " << kind << ", e.g.:" << first;
    }
  }

  // Records `detail` as a violation of `kind` unless `ok`.
  void Check(bool ok, const std::string& kind, const std::string& detail) {
    if (ok) return;
    auto& found = by_kind_[kind];
    if (found.first.size() < 5) found.first.push_back(detail);
    ++found.second;
  }

 private:
  std::map<std::string, std::pair<std::vector<std::string>, size_t>> by_kind_;
};

// What a consumer group saw of a topic: every delivery, by message id.
struct Delivered {
  struct Copy {
    Location where;
    std::string body;
    uint32_t attempt = 0;
  };
  std::map<std::string, Copy> by_id;
  // queue -> offsets delivered
  std::map<uint32_t, std::set<uint64_t>> offsets;
};

class CrashLoadTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Check-back is quick (so pending transactions are resolved within the
  // test once a checker is online) and not rate-limited. The load answers
  // its checks UNKNOWN, so however long it runs (sanitizer builds), a
  // transaction must not run out of checks and become unresolved.
  void Start() {
    broker_ = BrokerProcess::Start(
        dir_.Sub("data"),
        {"--storage_memtable=" + GetParam(), "--flush=sync", "--txn_check_delay_ms=300",
         "--txn_check_backoff_max_ms=400", "--txn_scan_interval_ms=20",
         "--txn_check_rate_per_group=100000", "--txn_max_checks=1000"});
    ASSERT_NE(broker_, nullptr);
    admin_ = std::make_unique<RawClient>(broker_->address());
    ASSERT_TRUE(admin_->connected());
  }

  void Restart() {
    broker_.reset();  // already killed; the object only reaped it
    Start();
  }

  v1::Frame Call(v1::Frame f) {
    auto r = admin_->Call(std::move(f));
    EXPECT_TRUE(r.has_value()) << broker_->LogTail();
    return r.value_or(v1::Frame());
  }

  void CreateTopic(const std::string& name, uint32_t queues) {
    v1::Frame f;
    f.mutable_create_topic()->set_name(name);
    f.mutable_create_topic()->set_queues(queues);
    ASSERT_EQ(Call(f).status().code(), v1::Status::OK);
  }

  std::vector<v1::QueueLag> Lag(const std::string& group, const std::string& topic) {
    v1::Frame f;
    f.mutable_get_lag()->set_group(group);
    f.mutable_get_lag()->set_topic(topic);
    v1::Frame r = Call(f);
    EXPECT_EQ(r.status().code(), v1::Status::OK) << r.status().message();
    return {r.get_lag_response().queues().begin(), r.get_lag_response().queues().end()};
  }

  // Pending and unresolved transactions, every page.
  std::map<std::string, v1::TransactionInfo> ListTransactions() {
    std::map<std::string, v1::TransactionInfo> all;
    std::string after;
    for (;;) {
      v1::Frame f;
      f.mutable_list_transactions()->set_start_after(after);
      v1::Frame r = Call(f);
      EXPECT_EQ(r.status().code(), v1::Status::OK) << r.status().message();
      const auto& page = r.list_transactions_response().transactions();
      if (page.empty()) return all;
      for (const auto& t : page) all[t.txn_id()] = t;
      after = page.rbegin()->txn_id();
    }
  }

  // Receives everything the group has not received yet (with a long
  // invisibility, so nothing comes twice unless it is stored twice) until
  // the group's lag shows every queue delivered to its end. Adds to `seen`,
  // failing on an id delivered twice.
  void ReceiveAll(const std::string& group, const std::string& topic, Delivered* seen) {
    Violations bad;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDeadlineMs);
    for (;;) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "never delivered to the end";
      v1::Frame f;
      auto* r = f.mutable_receive();
      r->set_group(group);
      r->set_topic(topic);
      r->set_max_messages(1024);
      r->set_invisible_ms(600000);
      r->set_wait_ms(100);
      v1::Frame got = Call(f);
      ASSERT_EQ(got.status().code(), v1::Status::OK) << got.status().message();
      for (const auto& m : got.receive_response().messages()) {
        const std::string& id = m.message().message_id();
        Location where{m.queue_id(), m.offset()};
        auto [it, fresh] =
            seen->by_id.emplace(id, Delivered::Copy{where, m.message().body(), m.attempt()});
        bad.Check(fresh, "id stored twice",
                  id + " at " + where.ToString() + " and " + it->second.where.ToString());
        bad.Check(seen->offsets[where.queue].insert(where.offset).second, "offset delivered twice",
                  where.ToString());
      }
      if (got.receive_response().messages_size() > 0) continue;
      bool at_end = true;
      for (const auto& q : Lag(group, topic)) at_end &= q.delivered_offset() == q.end_offset();
      if (at_end) return;
    }
  }

  // Offsets of every queue are dense from 0: exactly one message at each
  // offset below the queue's end, and the group received each of them.
  void ExpectDense(const std::string& group, const std::string& topic, const Delivered& seen) {
    uint64_t total = 0;
    for (const auto& q : Lag(group, topic)) {
      EXPECT_EQ(q.min_offset(), 0u);
      total += q.end_offset();
      auto it = seen.offsets.find(q.queue_id());
      size_t n = it == seen.offsets.end() ? 0 : it->second.size();
      EXPECT_EQ(n, q.end_offset()) << "queue " << q.queue_id();
      if (n > 0) {
        EXPECT_EQ(*it->second.rbegin(), q.end_offset() - 1) << "queue " << q.queue_id();
      }
    }
    EXPECT_EQ(total, seen.by_id.size());
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<RawClient> admin_;
};

// Keeps kWindow requests in flight on one raw connection. The caller posts
// requests with a tag and consumes responses one at a time; transaction
// checks the broker sends meanwhile are answered UNKNOWN (the load's
// transactions are still "running" as far as it knows).
class Pipeline {
 public:
  explicit Pipeline(const std::string& address) : c_(address) {}
  bool connected() const { return c_.connected(); }
  size_t inflight() const { return tags_.size(); }

  // False if the request could not be written (the broker is gone); it is
  // then never answered.
  bool Post(v1::Frame request, uint64_t tag) {
    uint64_t id = c_.Post(std::move(request));
    if (id == 0) return false;
    tags_[id] = tag;
    return true;
  }

  // The next response and its request's tag; nullopt once the connection
  // is closed (the broker died).
  std::optional<std::pair<uint64_t, v1::Frame>> Next() {
    for (;;) {
      auto f = c_.ReadFrame(kDeadlineMs);
      if (!f) return std::nullopt;
      if (f->type() == v1::REQUEST) {
        v1::Frame answer;
        answer.mutable_check_transaction_response()->set_outcome(v1::UNKNOWN);
        c_.Reply(*f, std::move(answer));  // may fail once the broker is gone
        continue;
      }
      auto it = tags_.find(f->request_id());
      if (it == tags_.end()) {
        ADD_FAILURE() << "response to an unknown request " << f->request_id();
        continue;
      }
      uint64_t tag = it->second;
      tags_.erase(it);
      return std::make_pair(tag, std::move(*f));
    }
  }

 private:
  RawClient c_;
  std::map<uint64_t, uint64_t> tags_;  // request id -> tag
};

}  // namespace halfmq::testing

#endif  // HALFMQ_TESTS_INTEGRATION_CRASH_LOAD_TEST_H_
