#include "client/options_util.h"

#include <gtest/gtest.h>

#include "common/limits.h"

namespace halfmq::client {
namespace {

using std::chrono::milliseconds;

TEST(ParseBrokerAddressTest, AcceptsHostPortAndBracketedV6) {
  auto a = ParseBrokerAddress("127.0.0.1:7480");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7480);
  auto b = ParseBrokerAddress("broker-1.example:1");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "broker-1.example");
  auto c = ParseBrokerAddress("[::1]:65535");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 65535);
}

TEST(ParseBrokerAddressTest, RejectsMalformed) {
  for (const char* bad :
       {"", "localhost", ":7480", "host:", "host:0", "host:65536", "host:12x", "host:-1",
        "::1:7480", "[::1]", "[::1:7480", "[::1]7480", "a b:1", "host:123456"}) {
    auto r = ParseBrokerAddress(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
      // The message names the option, the text and the reason.
      EXPECT_EQ(r.status().message().rfind(std::string("broker address '") + bad + "' ", 0), 0u)
          << r.status().message();
    }
  }
}

TEST(ResolveClientOptionsTest, DefaultsAreValidAndFillClientId) {
  auto r = ResolveClientOptions(ClientOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->client_id.empty());
  EXPECT_NE(r->client_id.find('-'), std::string::npos);
}

TEST(ResolveClientOptionsTest, KeepsAnExplicitClientId) {
  ClientOptions o;
  o.client_id = "payments-7";
  auto r = ResolveClientOptions(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->client_id, "payments-7");
}

TEST(ResolveClientOptionsTest, AcceptsShortTestTimeouts) {
  ClientOptions o;
  o.connect_timeout = milliseconds(1);
  o.request_timeout = milliseconds(1);
  o.reconnect_backoff_initial = milliseconds(1);
  o.reconnect_backoff_max = milliseconds(1);
  o.max_retries = 0;
  o.max_inflight_requests = 1;
  EXPECT_TRUE(ResolveClientOptions(o).ok());
}

TEST(ResolveClientOptionsTest, RejectsEachBadField) {
  auto expect_bad = [](ClientOptions o, const std::string& field) {
    auto r = ResolveClientOptions(o);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status();
  };
  ClientOptions o;
  o.broker = "nohost";
  expect_bad(o, "broker address");
  o = ClientOptions();
  o.connect_timeout = milliseconds(0);
  expect_bad(o, "connect_timeout");
  o = ClientOptions();
  o.request_timeout = milliseconds(-1);
  expect_bad(o, "request_timeout");
  o = ClientOptions();
  o.reconnect_backoff_initial = milliseconds(0);
  expect_bad(o, "reconnect_backoff_initial");
  o = ClientOptions();
  o.reconnect_backoff_initial = milliseconds(100);
  o.reconnect_backoff_max = milliseconds(10);
  expect_bad(o, "reconnect_backoff_max");
  o = ClientOptions();
  o.max_retries = -1;
  expect_bad(o, "max_retries");
  o = ClientOptions();
  o.max_frame_bytes = 10;
  expect_bad(o, "max_frame_bytes");
  o = ClientOptions();
  o.max_frame_bytes = size_t{1} << 33;
  expect_bad(o, "max_frame_bytes");
  o = ClientOptions();
  o.max_inflight_requests = 0;
  expect_bad(o, "max_inflight_requests");
  o = ClientOptions();
  o.client_id = "bad\xff";
  expect_bad(o, "client_id");
  o = ClientOptions();
  o.client_id = std::string(kMaxClientIdBytes + 1, 'c');
  expect_bad(o, "client_id");
  o = ClientOptions();
  o.client_id = "pay\nments";
  expect_bad(o, "client_id has a control byte");
}

TEST(ResolveClientOptionsTest, ClientIdUpToTheBrokersLimit) {
  ClientOptions o;
  o.client_id = std::string(kMaxClientIdBytes, 'c');
  EXPECT_TRUE(ResolveClientOptions(o).ok());
  EXPECT_LE(DefaultClientId().size(), kMaxClientIdBytes);
  EXPECT_TRUE(ValidateClientId(DefaultClientId()).ok());
}

}  // namespace
}  // namespace halfmq::client
