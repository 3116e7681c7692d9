#include "common/args.h"

#include <gtest/gtest.h>

namespace halfmq {
namespace {

const std::vector<FlagSpec> kSpecs = {
    {"json", FlagKind::kBool},    {"help", FlagKind::kBool}, {"tag", FlagKind::kValue},
    {"key", FlagKind::kRepeated}, {"max", FlagKind::kValue},
};

TEST(ParseArgsTest, FlagsAndPositionalsInAnyOrder) {
  auto r = ParseArgs({"orders", "--key", "a", "--json", "--key=b", "--tag", "t", "extra"}, kSpecs);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->positionals(), (std::vector<std::string>{"orders", "extra"}));
  EXPECT_TRUE(r->Has("json"));
  EXPECT_FALSE(r->Has("max"));
  EXPECT_EQ(r->Value("tag"), "t");
  EXPECT_EQ(r->Values("key"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r->Value("max"), std::nullopt);
  EXPECT_TRUE(r->Values("max").empty());
}

TEST(ParseArgsTest, ValuesMayLookLikeFlagsOrBeEmpty) {
  auto r = ParseArgs({"--tag", "--json", "--key=", "--key", "-"}, kSpecs);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Value("tag"), "--json");
  EXPECT_FALSE(r->Has("json"));
  EXPECT_EQ(r->Values("key"), (std::vector<std::string>{"", "-"}));
}

TEST(ParseArgsTest, DoubleDashEndsFlagsAndDashIsPositional) {
  auto r = ParseArgs({"-", "--", "--json", "-h"}, kSpecs);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->positionals(), (std::vector<std::string>{"-", "--json", "-h"}));
  EXPECT_FALSE(r->Has("json"));
}

TEST(ParseArgsTest, ShortHelp) {
  auto r = ParseArgs({"-h"}, kSpecs);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->Has("help"));
}

TEST(ParseArgsTest, UsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--nope"}, "unknown flag '--nope'"},
           {{"-x"}, "unknown flag '-x'"},
           {{"--tag"}, "'--tag' needs a value"},
           {{"--json=1"}, "'--json' takes no value"},
           {{"--tag", "a", "--tag", "b"}, "'--tag' given more than once"},
       }) {
    auto r = ParseArgs(c.args, kSpecs);
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status();
  }
}

TEST(ParsedArgsTest, UintWithDefaultAndRange) {
  auto r = ParseArgs({"--max", "42"}, kSpecs);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r->Uint("max", 1, 1, 100), 42u);
  EXPECT_EQ(*r->Uint("tag", 7, 1, 100), 7u);  // absent: the default
  EXPECT_FALSE(r->Uint("max", 1, 1, 10).ok());
  EXPECT_FALSE(r->Uint("max", 1, 50, 100).ok());
}

TEST(ParseUintTest, AcceptsDecimalOnly) {
  EXPECT_EQ(*ParseUint("n", "0", 0, 10), 0u);
  EXPECT_EQ(*ParseUint("n", "18446744073709551615", 0, UINT64_MAX), UINT64_MAX);
  for (const char* bad : {"", "-1", "+1", "1.5", "0x10", " 1", "1 ", "18446744073709551616",
                          "99999999999999999999999"}) {
    EXPECT_FALSE(ParseUint("n", bad, 0, UINT64_MAX).ok()) << bad;
  }
  Status s = ParseUint("--queues", "abc", 1, 256).status();
  EXPECT_EQ(s.message(), "--queues must be an integer in 1..256, not 'abc'");
}

TEST(ParsePropertyTest, SplitsAtFirstEquals) {
  auto p = ParseProperty("a=b=c");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->first, "a");
  EXPECT_EQ(p->second, "b=c");
  EXPECT_EQ(ParseProperty("k=")->second, "");
  EXPECT_FALSE(ParseProperty("novalue").ok());
  EXPECT_FALSE(ParseProperty("=v").ok());
}

}  // namespace
}  // namespace halfmq

namespace halfmq {
namespace {

TEST(ParseDoubleTest, DecimalNumbersInRange) {
  EXPECT_EQ(*ParseDouble("x", "2", 1, 100), 2.0);
  EXPECT_EQ(*ParseDouble("x", "1.5", 1, 100), 1.5);
  EXPECT_EQ(*ParseDouble("x", "1e2", 1, 100), 100.0);
  EXPECT_EQ(*ParseDouble("x", "1", 1, 100), 1.0);
  for (const char* bad :
       {"", "abc", "0.5", "100.1", "-2", "+2", "nan", "inf", "1.5x", " 2", "2 ", ".5", "1,5"}) {
    EXPECT_FALSE(ParseDouble("x", bad, 1, 100).ok()) << bad;
  }
  EXPECT_EQ(ParseDouble("--multiplier", "0.5", 1, 100).status().message(),
            "--multiplier must be a number in 1..100, not '0.5'");
}

TEST(FormatDoubleTest, ShortestExactForm) {
  EXPECT_EQ(FormatDouble(2.0), "2");
  EXPECT_EQ(FormatDouble(1.5), "1.5");
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(1.0 / 3), "0.3333333333333333");
}

TEST(ParseListTest, CommaSeparatedWithoutEmptyElements) {
  EXPECT_EQ(*ParseList("--ids", "a"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(*ParseList("--ids", "a,b,c"), (std::vector<std::string>{"a", "b", "c"}));
  for (const char* bad : {"", ",", "a,", ",a", "a,,b"}) {
    auto r = ParseList("--ids", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("--ids has an empty element"), std::string::npos);
  }
}

TEST(ParseUintListTest, EveryElementInRange) {
  EXPECT_EQ(*ParseUintList("--delays-ms", "0,1000,60000", 0, 60000),
            (std::vector<uint64_t>{0, 1000, 60000}));
  EXPECT_FALSE(ParseUintList("--delays-ms", "1,x", 0, 10).ok());
  EXPECT_FALSE(ParseUintList("--delays-ms", "1,11", 0, 10).ok());
  EXPECT_FALSE(ParseUintList("--delays-ms", "1,-1", 0, 10).ok());
  EXPECT_FALSE(ParseUintList("--delays-ms", "1,,2", 0, 10).ok());
  EXPECT_NE(ParseUintList("--delays-ms", "1,x", 0, 10).status().message().find("--delays-ms"),
            std::string::npos);
}

}  // namespace
}  // namespace halfmq
