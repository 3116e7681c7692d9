// The `halfmq` CLI as scripts use it: real processes against a real broker,
// checking output shapes and exit codes.
#include <gtest/gtest.h>

#include "tests/util/cli_broker_test.h"

namespace halfmq::testing {
namespace {

class CliTest : public CliBrokerTest {
 protected:
  static std::vector<std::string> Lines(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < s.size()) {
      size_t end = s.find('\n', start);
      if (end == std::string::npos) end = s.size();
      out.push_back(s.substr(start, end - start));
      start = end + 1;
    }
    return out;
  }
};

TEST_F(CliTest, SendConsumeLagRoundTrip) {
  auto created = Cli({"topic", "create", "orders", "--queues", "2"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto listed = Cli({"topic", "list", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("\"name\":\"orders\""), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("\"queues\":2"), std::string::npos) << listed.out;

  auto sent = Cli({"send", "orders", "--lines", "--json", "--key", "k1", "--tag", "paid",
                   "--property", "currency=EUR"},
                  "first\nsecond\nthird\n");
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  auto sent_lines = Lines(sent.out);
  ASSERT_EQ(sent_lines.size(), 3u) << sent.out;
  for (const auto& l : sent_lines) {
    EXPECT_NE(l.find("\"message_id\":\""), std::string::npos) << l;
    EXPECT_NE(l.find("\"topic\":\"orders\""), std::string::npos) << l;
    EXPECT_NE(l.find("\"offset\":"), std::string::npos) << l;
  }

  // --no-ack leaves them in flight; the next consume with a short
  // invisibility gets them back.
  auto peek = Cli({"consume", "orders", "--group", "g", "--max", "3", "--no-ack",
                   "--invisible-ms", "100", "--json"});
  ASSERT_EQ(peek.exit_code, 0) << peek.err;
  ASSERT_EQ(Lines(peek.out).size(), 3u) << peek.out;
  EXPECT_NE(peek.out.find("\"attempt\":1"), std::string::npos);

  auto got = Cli({"consume", "orders", "--group", "g", "--max", "3", "--wait-ms", "10000",
                  "--json"});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  auto lines = Lines(got.out);
  ASSERT_EQ(lines.size(), 3u) << got.out;
  for (const auto& body : {"first", "second", "third"}) {
    EXPECT_NE(got.out.find(std::string("\"body\":\"") + body + "\""), std::string::npos);
  }
  EXPECT_NE(got.out.find("\"attempt\":2"), std::string::npos);
  EXPECT_NE(got.out.find("\"key\":\"k1\""), std::string::npos);
  EXPECT_NE(got.out.find("\"tag\":\"paid\""), std::string::npos);

  auto lag = Cli({"group", "lag", "g", "--json"});
  ASSERT_EQ(lag.exit_code, 0) << lag.err;
  auto lag_lines = Lines(lag.out);
  ASSERT_EQ(lag_lines.size(), 2u) << lag.out;
  for (const auto& l : lag_lines) {
    EXPECT_NE(l.find("\"lag\":0"), std::string::npos) << l;
    EXPECT_NE(l.find("\"inflight\":0"), std::string::npos) << l;
  }

  auto empty = Cli({"consume", "orders", "--group", "g", "--wait-ms", "0", "--json"});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(empty.out, "");
}

TEST_F(CliTest, ErrorsExitOneWithAOneLineMessage) {
  auto r = Cli({"send", "missing", "--body", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("NOT_FOUND"), std::string::npos) << r.err;
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  ASSERT_EQ(Cli({"topic", "create", "t"}).exit_code, 0);
  auto again = Cli({"topic", "create", "t"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("ALREADY_EXISTS"), std::string::npos) << again.err;
  auto bad = Cli({"topic", "create", "bad name"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("INVALID_ARGUMENT"), std::string::npos) << bad.err;
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Cli({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Cli({"send"}).exit_code, 2);
  EXPECT_EQ(Cli({"send", "t", "--body", "x", "--lines"}).exit_code, 2);
  EXPECT_EQ(Cli({"consume", "t"}).exit_code, 2) << "--group is required";
  EXPECT_EQ(Cli({"topic", "create", "t", "--queues", "many"}).exit_code, 2);
  EXPECT_EQ(RunCommand({"halfmq", "--help"}).exit_code, 0);
}

TEST_F(CliTest, UnreachableBrokerIsAnError) {
  // A port nothing listens on: the broker we started is stopped first.
  std::string address = broker_->address();
  broker_->Terminate();
  auto r = RunCommand({"halfmq", "--broker", address, "topic", "list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("UNAVAILABLE"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace halfmq::testing
