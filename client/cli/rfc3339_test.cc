#include "client/cli/rfc3339.h"

#include <gtest/gtest.h>

namespace halfmq::cli {
namespace {

constexpr int64_t k20261127T10Z = 1795773600000;  // 2026-11-27T10:00:00Z

TEST(ParseRfc3339Test, UtcAndOffsets) {
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-27T10:00:00Z"), k20261127T10Z);
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-27t10:00:00z"), k20261127T10Z);
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-27T11:00:00+01:00"), k20261127T10Z);
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-27T04:30:00-05:30"), k20261127T10Z);
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-27T10:00:00+00:00"), k20261127T10Z);
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-27T10:00:00-00:00"), k20261127T10Z);
  // An offset that crosses midnight and a month end.
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-28T09:00:00+23:00"), k20261127T10Z);
  EXPECT_EQ(*ParseRfc3339Ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339Ms("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(*ParseRfc3339Ms("1969-12-31T23:59:59Z"), -1000);
  EXPECT_EQ(*ParseRfc3339Ms("9999-12-31T23:59:59Z"), 253402300799000);
}

TEST(ParseRfc3339Test, FractionsTruncateToMilliseconds) {
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-27T10:00:00.5Z"), k20261127T10Z + 500);
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-27T10:00:00.25Z"), k20261127T10Z + 250);
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-27T10:00:00.123Z"), k20261127T10Z + 123);
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-27T10:00:00.123999999Z"), k20261127T10Z + 123);
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-27T11:00:00.001+01:00"), k20261127T10Z + 1);
}

TEST(ParseRfc3339Test, LeapYears) {
  EXPECT_EQ(*ParseRfc3339Ms("2024-02-29T23:59:59.999Z"), 1709251199999);
  EXPECT_TRUE(ParseRfc3339Ms("2000-02-29T00:00:00Z").ok());   // divisible by 400
  EXPECT_FALSE(ParseRfc3339Ms("2100-02-29T00:00:00Z").ok());  // by 100, not 400
  EXPECT_FALSE(ParseRfc3339Ms("2026-02-29T00:00:00Z").ok());
}

TEST(ParseRfc3339Test, RejectsMalformedInput) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : {
           Case{"", "YYYY-MM-DD"},
           Case{"2026-11-27", "joined by 'T'"},
           Case{"2026-11-27T10:00:00", "needs a zone"},
           Case{"2026-11-27 10:00:00Z", "joined by 'T'"},
           Case{"2026-11-27T10:00Z", "HH:MM:SS"},
           Case{"26-11-27T10:00:00Z", "YYYY-MM-DD"},
           Case{"2026-1-27T10:00:00Z", "YYYY-MM-DD"},
           Case{"2026-11-27T1:00:00Z", "HH:MM:SS"},
           Case{"2026-13-01T00:00:00Z", "month out of range"},
           Case{"2026-00-01T00:00:00Z", "month out of range"},
           Case{"2026-11-31T00:00:00Z", "day out of range"},
           Case{"2026-11-00T00:00:00Z", "day out of range"},
           Case{"2026-11-27T24:00:00Z", "time out of range"},
           Case{"2026-11-27T10:60:00Z", "time out of range"},
           Case{"2026-11-27T10:00:60Z", "time out of range"},
           Case{"2026-11-27T10:00:00.Z", "no digits after '.'"},
           Case{"2026-11-27T10:00:00+1:00", "+HH:MM"},
           Case{"2026-11-27T10:00:00+01", "+HH:MM"},
           Case{"2026-11-27T10:00:00+0100", "+HH:MM"},
           Case{"2026-11-27T10:00:00+24:00", "offset out of range"},
           Case{"2026-11-27T10:00:00+01:60", "offset out of range"},
           Case{"2026-11-27T10:00:00ZZ", "unexpected text"},
           Case{"2026-11-27T10:00:00Z ", "unexpected text"},
           Case{" 2026-11-27T10:00:00Z", "YYYY-MM-DD"},
           Case{"2026-11-27T10:00:00UTC", "needs a zone"},
           Case{"1795773600000", "YYYY-MM-DD"},
       }) {
    auto r = ParseRfc3339Ms(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.why), std::string::npos) << r.status();
    EXPECT_NE(r.status().message().find("not an RFC 3339 time"), std::string::npos);
  }
}

}  // namespace
}  // namespace halfmq::cli
