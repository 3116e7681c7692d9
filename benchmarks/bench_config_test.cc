#include "benchmarks/bench_config.h"

#include <gtest/gtest.h>

namespace halfmq::bench {
namespace {

Result<Config> Parse(std::vector<std::string> args) { return ParseConfig(args); }

TEST(BenchConfigTest, ReadsEveryFlag) {
  auto c = Parse({"txn",
                  "--broker",
                  "127.0.0.1:7480",
                  "--size",
                  "2048",
                  "--connections",
                  "2",
                  "--inflight",
                  "64",
                  "--batch",
                  "16",
                  "--count",
                  "50000",
                  "--rate",
                  "1000.5",
                  "--flush",
                  "async",
                  "--topic",
                  "t",
                  "--queues",
                  "4",
                  "--json",
                  "--ack-async",
                  "--rollback-pct",
                  "5",
                  "--unknown-pct",
                  "1.5",
                  "--check-answer",
                  "rollback",
                  "--delay-ms",
                  "250",
                  "--broker-flag",
                  "--v=1",
                  "--broker-flag=--x=2",
                  "--idle-connections",
                  "10",
                  "--pending",
                  "300"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->mode, "txn");
  EXPECT_EQ(c->broker, "127.0.0.1:7480");
  EXPECT_EQ(c->size, 2048u);
  EXPECT_EQ(c->connections, 2);
  EXPECT_EQ(c->inflight, 64);
  EXPECT_EQ(c->batch, 16);
  EXPECT_EQ(c->count, 50000u);
  EXPECT_EQ(c->rate, 1000.5);
  EXPECT_EQ(c->flush, "async");
  EXPECT_EQ(c->topic, "t");
  EXPECT_EQ(c->queues, 4u);
  EXPECT_TRUE(c->json);
  EXPECT_TRUE(c->ack_async);
  EXPECT_EQ(c->rollback_pct, 5);
  EXPECT_EQ(c->unknown_pct, 1.5);
  EXPECT_EQ(c->check_answer, "rollback");
  EXPECT_EQ(c->delay_ms, 250u);
  EXPECT_EQ(c->broker_flags, (std::vector<std::string>{"--v=1", "--x=2"}));
  EXPECT_EQ(c->idle_connections, 10);
  EXPECT_EQ(c->pending, 300u);
}

TEST(BenchConfigTest, DefaultsAndDuration) {
  auto c = Parse({"send", "--duration-s", "2.5"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->duration_s, 2.5);
  EXPECT_EQ(c->count, 0u);
  EXPECT_EQ(c->size, 1024u);
  EXPECT_EQ(c->inflight, 64);
  EXPECT_EQ(c->flush, "sync");
  EXPECT_TRUE(c->broker.empty());
  EXPECT_FALSE(c->json);
}

TEST(BenchConfigTest, RejectsOverflowingAndGarbageNumbers) {
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           // Once cast to int unchecked: these wrapped around or truncated.
           {"--inflight", "4294967297"},
           {"--inflight", "99999999999999999999999"},
           {"--connections", "2147483648"},
           {"--batch", "1e9"},
           {"--idle-connections", "18446744073709551617"},
           {"--count", "18446744073709551616"},
           {"--queues", "4294967296"},
           {"--delay-ms", "4294967296"},
           {"--size", "99999999999999"},
           // Garbage, signs, fractions where an integer is wanted.
           {"--count", "12x"},
           {"--count", "-1"},
           {"--count", "1.5"},
           {"--count", ""},
           {"--inflight", "0"},
           {"--connections", "0"},
           {"--rate", "fast"},
           {"--rate", "inf"},
           {"--rate", "nan"},
           {"--duration-s", "-1"},
           {"--rollback-pct", "101"},
       }) {
    std::vector<std::string> args = {"send", flag, value};
    if (flag != "--count" && flag != "--duration-s") args.insert(args.end(), {"--count", "10"});
    auto c = Parse(args);
    ASSERT_FALSE(c.ok()) << flag << " " << value;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find(flag), std::string::npos) << c.status().message();
  }
}

TEST(BenchConfigTest, RejectsBadCombinationsAndWords) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"--count", "1"},
           {"fly", "--count", "1"},
           {"send", "extra", "--count", "1"},
           {"send"},
           {"send", "--count", "1", "--duration-s", "1"},
           {"consume", "--duration-s", "1"},
           {"send", "--count", "1", "--flush", "maybe"},
           {"txn", "--count", "1", "--check-answer", "unknown"},
           {"txn", "--count", "1", "--rollback-pct", "60", "--unknown-pct", "50"},
           {"send", "--count", "1", "--broker", "nohost"},
           {"send", "--count", "1", "--broker", "127.0.0.1:0"},
           {"send", "--count", "1", "--no-such-flag"},
           {"send", "--count", "1", "--json=yes"},
           {"send", "--count", "1", "--inflight"},
       }) {
    auto c = Parse(args);
    EXPECT_FALSE(c.ok()) << testing::PrintToString(args);
    if (!c.ok()) {
      EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace halfmq::bench
