#include "common/host_port.h"

#include <gtest/gtest.h>

namespace halfmq {
namespace {

TEST(HostPortTest, ParsesIpv4AndNames) {
  auto a = ParseHostPort("127.0.0.1:7480");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7480);
  auto b = ParseHostPort("broker-1.example:1");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->host, "broker-1.example");
  EXPECT_EQ(b->port, 1);
  auto c = ParseHostPort("localhost:65535");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->port, 65535);
}

TEST(HostPortTest, ParsesBracketedIpv6) {
  auto a = ParseHostPort("[::1]:9");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 9);
  auto b = ParseHostPort("[fe80::1:2]:65535");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->host, "fe80::1:2");
}

TEST(HostPortTest, PortZeroOnlyWhenAllowed) {
  EXPECT_FALSE(ParseHostPort("127.0.0.1:0").ok());
  auto a = ParseHostPort("127.0.0.1:0", PortZero::kAllow);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->port, 0);
  EXPECT_FALSE(ParseHostPort("127.0.0.1:65536", PortZero::kAllow).ok());
}

TEST(HostPortTest, RejectsMalformedWithTheReason) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"", "has no port"},
           {"localhost", "has no port"},
           {"127.0.0.1:", "has a bad port"},
           {":7480", "has no host"},
           {"[]:7480", "has no host"},
           {"host:0", "outside 1..65535"},
           {"host:65536", "outside 1..65535"},
           {"host:99999", "outside 1..65535"},
           {"host:123456", "has a bad port"},
           {"host:12x", "has a bad port"},
           {"host:-1", "has a bad port"},
           {"host:+1", "has a bad port"},
           {"host: 1", "has a bad port"},
           {"::1:7480", "needs [] around an IPv6 address"},
           {"[::1]", "has no port"},
           {"[::1:7480", "unclosed '['"},
           {"[::1]7480", "has no port"},
           {"a b:1", "bad character in the host"},
           {"a\tb:1", "bad character in the host"},
       }) {
    auto r = ParseHostPort(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(r.status().message().find(c.why), std::string::npos)
        << c.text << ": " << r.status().message();
    EXPECT_NE(r.status().message().find(std::string("'") + c.text + "'"), std::string::npos)
        << r.status().message();
  }
}

TEST(HostPortTest, FormatRoundTrips) {
  for (const char* text : {"127.0.0.1:7480", "[::1]:9", "broker.example:1"}) {
    auto a = ParseHostPort(text);
    ASSERT_TRUE(a.ok()) << text;
    EXPECT_EQ(FormatHostPort(*a), text);
  }
}

}  // namespace
}  // namespace halfmq
