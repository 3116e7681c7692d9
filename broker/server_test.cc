#include "broker/server.h"

#include <gtest/gtest.h>

namespace halfmq::broker {
namespace {

TEST(ParseEndpointTest, AcceptsHostPort) {
  auto e = ParseEndpoint("127.0.0.1:7480");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->port(), 7480);
  EXPECT_TRUE(ParseEndpoint("localhost:0").ok());
  EXPECT_TRUE(ParseEndpoint("[::1]:9").ok());
}

TEST(ParseEndpointTest, RejectsBadInput) {
  for (const char* bad : {"", "7480", ":7480", "127.0.0.1:", "127.0.0.1:99999", "host:1",
                          "127.0.0.1:12ab"}) {
    auto e = ParseEndpoint(bad);
    EXPECT_FALSE(e.ok()) << bad;
    if (!e.ok()) {
      EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

}  // namespace
}  // namespace halfmq::broker
