// The CLI commands of retries, dead letters, delays, FIFO, lookup and trace,
// as scripts use them: real processes against a real broker.
#include <gtest/gtest.h>

#include "tests/util/cli_broker_test.h"

namespace halfmq::testing {
namespace {

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

using CliRetryTest = CliBrokerTest;

TEST_F(CliRetryTest, NackUntilDeadLetteredThenListAndRedrive) {
  ASSERT_EQ(Cli({"topic", "create", "jobs", "--queues", "1"}).exit_code, 0);
  auto policy = Cli({"group", "set-retry", "workers", "--delays-ms", "10,20", "--max-attempts",
                     "2"});
  ASSERT_EQ(policy.exit_code, 0) << policy.err;
  auto get = Cli({"group", "get", "workers", "--json"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_NE(get.out.find("%DLQ.workers"), std::string::npos) << get.out;
  ASSERT_EQ(Cli({"send", "jobs", "--body", "poison", "--message-id", "job-1"}).exit_code, 0);
  // Two failed deliveries: the second dead-letters it.
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto nacked = Cli({"consume", "jobs", "--group", "workers", "--nack", "--reason",
                       "cannot parse", "--wait-ms", "10000", "--json"});
    ASSERT_EQ(nacked.exit_code, 0) << nacked.err;
    ASSERT_EQ(Lines(nacked.out).size(), 1u) << nacked.out;
    EXPECT_NE(nacked.out.find("\"attempt\":" + std::to_string(attempt)), std::string::npos)
        << nacked.out;
  }
  auto dead = Cli({"dlq", "list", "workers", "--json"});
  ASSERT_EQ(dead.exit_code, 0) << dead.err;
  auto lines = Lines(dead.out);
  ASSERT_EQ(lines.size(), 1u) << dead.out;
  for (const char* field : {"\"message_id\":\"job-1\"", "\"original_topic\":\"jobs\"",
                            "\"attempts\":2", "\"reason\":\"cannot parse\"",
                            "\"dead_lettered_ms\":"}) {
    EXPECT_NE(lines[0].find(field), std::string::npos) << field << " in " << lines[0];
  }
  auto redrive = Cli({"dlq", "redrive", "workers", "--rate", "10"});
  ASSERT_EQ(redrive.exit_code, 0) << redrive.err;
  EXPECT_NE(redrive.out.find("redriven job-1"), std::string::npos) << redrive.out;
  auto again = Cli({"consume", "jobs", "--group", "workers", "--wait-ms", "10000", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("\"attempt\":1"), std::string::npos) << again.out;
  EXPECT_EQ(Lines(Cli({"dlq", "list", "workers", "--json"}).out).size(), 0u);
  auto twice = Cli({"dlq", "redrive", "workers", "--ids", "job-1"});
  EXPECT_EQ(twice.exit_code, 1) << twice.out;

  auto trace = Cli({"msg", "trace", "job-1", "--json"});
  ASSERT_EQ(trace.exit_code, 0) << trace.err;
  for (const char* kind : {"stored", "delivered", "nacked", "dead_lettered", "redriven",
                           "acked"}) {
    EXPECT_NE(trace.out.find(std::string("\"kind\":\"") + kind + "\""), std::string::npos)
        << kind << " missing in " << trace.out;
  }
}

TEST_F(CliRetryTest, DelayedIdempotentAndFifoSends) {
  ASSERT_EQ(Cli({"topic", "create", "ledger", "--queues", "2", "--fifo"}).exit_code, 0);
  auto list = Cli({"topic", "list", "--json"});
  EXPECT_NE(list.out.find("\"fifo\":true"), std::string::npos) << list.out;
  auto delayed = Cli({"send", "ledger", "--body", "later", "--delay-ms", "300", "--json"});
  ASSERT_EQ(delayed.exit_code, 0) << delayed.err;
  EXPECT_NE(delayed.out.find("\"deliver_at_ms\":"), std::string::npos) << delayed.out;
  auto at = Cli({"send", "ledger", "--body", "x", "--deliver-at", "2999-01-01T00:00:00Z"});
  EXPECT_EQ(at.exit_code, 1) << "beyond --max_delay_ms";
  EXPECT_EQ(Cli({"send", "ledger", "--body", "x", "--delay-ms", "1", "--deliver-at",
                 "2030-01-01T00:00:00Z"}).exit_code,
            2);
  auto first = Cli({"send", "ledger", "--body", "once", "--message-id", "order-77", "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto retry = Cli({"send", "ledger", "--body", "once", "--message-id", "order-77", "--json"});
  ASSERT_EQ(retry.exit_code, 0) << retry.err;
  EXPECT_NE(retry.out.find("\"deduplicated\":true"), std::string::npos) << retry.out;
  ASSERT_EQ(Cli({"send", "ledger", "--lines", "--message-group", "acct-1"}, "g1\ng2\n").exit_code,
            0);
  // FIFO: one message of the group at a time (the immediate ones here).
  auto got = Cli({"consume", "ledger", "--group", "audit", "--max", "10", "--wait-ms", "0",
                  "--no-ack", "--json"});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_NE(got.out.find("\"body\":\"g1\""), std::string::npos) << got.out;
  EXPECT_EQ(got.out.find("\"body\":\"g2\""), std::string::npos) << got.out;
  auto found = Cli({"msg", "get", "order-77", "--json"});
  ASSERT_EQ(found.exit_code, 0) << found.err;
  EXPECT_EQ(Lines(found.out).size(), 1u) << found.out;
  EXPECT_EQ(Cli({"msg", "get", "nope"}).exit_code, 1);
}

TEST_F(CliRetryTest, FindByKeyAndTagFilter) {
  ASSERT_EQ(Cli({"topic", "create", "orders"}).exit_code, 0);
  ASSERT_EQ(Cli({"send", "orders", "--key", "cust-1", "--tag", "paid", "--body", "a"}).exit_code,
            0);
  ASSERT_EQ(Cli({"send", "orders", "--key", "cust-1", "--tag", "created", "--body", "b"})
                .exit_code,
            0);
  auto found = Cli({"msg", "find", "--topic", "orders", "--key", "cust-1", "--json"});
  ASSERT_EQ(found.exit_code, 0) << found.err;
  EXPECT_EQ(Lines(found.out).size(), 2u) << found.out;
  auto paid = Cli({"consume", "orders", "--group", "g", "--max", "10", "--wait-ms", "0",
                   "--tag-filter", "paid", "--json"});
  ASSERT_EQ(paid.exit_code, 0) << paid.err;
  ASSERT_EQ(Lines(paid.out).size(), 1u) << paid.out;
  EXPECT_NE(paid.out.find("\"tag\":\"paid\""), std::string::npos);
}

}  // namespace
}  // namespace halfmq::testing
