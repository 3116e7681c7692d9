// `group set-retry` flag parsing and the output shapes of `group get`.
#include "client/cli/group.h"

#include <gtest/gtest.h>

namespace halfmq::cli {
namespace {

using std::chrono::milliseconds;

const std::vector<FlagSpec> kSetRetrySpecs = {
    {"initial-ms", FlagKind::kValue},   {"multiplier", FlagKind::kValue},
    {"max-ms", FlagKind::kValue},       {"delays-ms", FlagKind::kValue},
    {"max-attempts", FlagKind::kValue}, {"no-jitter", FlagKind::kBool}};

Result<RetryPolicy> Parse(const std::vector<std::string>& args) {
  auto parsed = ParseArgs(args, kSetRetrySpecs);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return ParseRetryPolicyFlags(*parsed);
}

TEST(RetryPolicyFlagsTest, Exponential) {
  auto p = Parse({"--initial-ms", "500", "--multiplier", "1.5", "--max-ms", "60000"});
  ASSERT_TRUE(p.ok()) << p.status();
  const auto* e = std::get_if<ExponentialBackoff>(&p->schedule);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->initial, milliseconds(500));
  EXPECT_EQ(e->multiplier, 1.5);
  EXPECT_EQ(e->max, milliseconds(60000));
  EXPECT_TRUE(e->jitter);
  EXPECT_EQ(p->max_attempts, 0u);

  p = Parse({"--initial-ms", "10", "--multiplier", "2", "--max-ms", "10", "--no-jitter",
             "--max-attempts", "3"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(std::get<ExponentialBackoff>(p->schedule).jitter);
  EXPECT_EQ(p->max_attempts, 3u);
}

TEST(RetryPolicyFlagsTest, FixedDelays) {
  auto p = Parse({"--delays-ms", "0,1000,30000", "--max-attempts", "5"});
  ASSERT_TRUE(p.ok()) << p.status();
  const auto* f = std::get_if<FixedDelays>(&p->schedule);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->delays,
            (std::vector<milliseconds>{milliseconds(0), milliseconds(1000), milliseconds(30000)}));
  EXPECT_EQ(p->max_attempts, 5u);
}

TEST(RetryPolicyFlagsTest, NothingGivenIsTheBrokerDefault) {
  auto p = Parse({});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(std::holds_alternative<std::monostate>(p->schedule));
  EXPECT_EQ(p->max_attempts, 0u);
  p = Parse({"--max-attempts", "1000"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(std::holds_alternative<std::monostate>(p->schedule));
  EXPECT_EQ(p->max_attempts, 1000u);
}

TEST(RetryPolicyFlagsTest, UsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--initial-ms", "1"}, "--initial-ms, --multiplier and --max-ms go together"},
           {{"--multiplier", "2", "--max-ms", "9"}, "go together"},
           {{"--initial-ms", "1", "--multiplier", "2", "--max-ms", "9", "--delays-ms", "1"},
            "not both"},
           {{"--delays-ms", "1", "--max-ms", "9"}, "not both"},
           {{"--no-jitter"}, "--no-jitter needs --initial-ms"},
           {{"--delays-ms", "1,2", "--no-jitter"}, "--no-jitter needs"},
           {{"--initial-ms", "0", "--multiplier", "2", "--max-ms", "9"}, "--initial-ms must be"},
           {{"--initial-ms", "x", "--multiplier", "2", "--max-ms", "9"}, "--initial-ms must be"},
           {{"--initial-ms", "10", "--multiplier", "2", "--max-ms", "9"},
            "--max-ms must not be below --initial-ms"},
           {{"--initial-ms", "1", "--multiplier", "2", "--max-ms", "43200001"}, "--max-ms must be"},
           {{"--initial-ms", "1", "--multiplier", "0.9", "--max-ms", "9"}, "--multiplier must be"},
           {{"--initial-ms", "1", "--multiplier", "101", "--max-ms", "9"}, "--multiplier must be"},
           {{"--initial-ms", "1", "--multiplier", "nan", "--max-ms", "9"}, "--multiplier must be"},
           {{"--delays-ms", ""}, "--delays-ms has an empty element"},
           {{"--delays-ms", "1,,2"}, "--delays-ms has an empty element"},
           {{"--delays-ms", "1,abc"}, "--delays-ms element must be"},
           {{"--delays-ms", "43200001"}, "--delays-ms element must be"},
           {{"--max-attempts", "0"}, "--max-attempts must be an integer in 1..1000"},
           {{"--max-attempts", "1001"}, "--max-attempts must be an integer in 1..1000"},
       }) {
    auto p = Parse(c.args);
    ASSERT_FALSE(p.ok()) << c.message;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(c.message), std::string::npos) << p.status();
  }
  std::string many = "1";
  for (size_t i = 0; i < kMaxRetryDelays; ++i) many += ",1";
  EXPECT_NE(Parse({"--delays-ms", many}).status().message().find("at most 128"), std::string::npos);
}

GroupConfig Config(RetryPolicy policy) {
  GroupConfig c;
  c.group = "billing";
  c.dead_letter_topic = "%DLQ.billing";
  c.retry_policy = std::move(policy);
  return c;
}

TEST(GroupConfigOutputTest, Exponential) {
  RetryPolicy p;
  p.schedule = ExponentialBackoff{milliseconds(500), 1.5, milliseconds(60000), false};
  p.max_attempts = 5;
  EXPECT_EQ(FormatGroupConfigJson(Config(p)),
            "{\"group\":\"billing\",\"dead_letter_topic\":\"%DLQ.billing\","
            "\"schedule\":\"exponential\",\"initial_ms\":500,\"multiplier\":1.5,"
            "\"max_ms\":60000,\"jitter\":false,\"max_attempts\":5}");
  EXPECT_EQ(FormatGroupConfigText(Config(p)),
            "group: billing\n"
            "dead_letter_topic: %DLQ.billing\n"
            "retry: exponential initial_ms=500 multiplier=1.5 max_ms=60000 jitter=off\n"
            "max_attempts: 5\n");
  p.schedule = ExponentialBackoff{};
  EXPECT_NE(FormatGroupConfigText(Config(p)).find(
                "retry: exponential initial_ms=1000 multiplier=2 max_ms=300000 jitter=on\n"),
            std::string::npos);
}

TEST(GroupConfigOutputTest, FixedAndDefault) {
  RetryPolicy p;
  p.schedule = FixedDelays{{milliseconds(1000), milliseconds(5000)}};
  EXPECT_EQ(FormatGroupConfigJson(Config(p)),
            "{\"group\":\"billing\",\"dead_letter_topic\":\"%DLQ.billing\","
            "\"schedule\":\"fixed\",\"delays_ms\":[1000,5000],\"max_attempts\":0}");
  EXPECT_EQ(FormatGroupConfigText(Config(p)),
            "group: billing\n"
            "dead_letter_topic: %DLQ.billing\n"
            "retry: fixed delays_ms=1000,5000\n"
            "max_attempts: default\n");
  p.schedule = std::monostate();
  p.max_attempts = 16;
  EXPECT_EQ(FormatGroupConfigJson(Config(p)),
            "{\"group\":\"billing\",\"dead_letter_topic\":\"%DLQ.billing\","
            "\"schedule\":\"default\",\"max_attempts\":16}");
  EXPECT_EQ(FormatGroupConfigText(Config(p)),
            "group: billing\n"
            "dead_letter_topic: %DLQ.billing\n"
            "retry: default\n"
            "max_attempts: 16\n");
}

}  // namespace
}  // namespace halfmq::cli
