#include "cluster/etcd_json.h"

#include <string>

#include <gtest/gtest.h>

namespace halfmq::cluster {
namespace {

constexpr char kEndpoint[] = "127.0.0.1:1";

Status AnswerStatus(unsigned http_status, const std::string& body) {
  return InterpretGatewayAnswer(kEndpoint, http_status, body).status();
}

TEST(InterpretGatewayAnswerTest, ReturnsTheObjectOfA200Answer) {
  Result<JsonValue> v = InterpretGatewayAnswer(kEndpoint, 200, R"({"header":{"revision":"7"}})");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*HeaderRevision(*v), 7);
}

TEST(InterpretGatewayAnswerTest, UnwrapsStreamingResults) {
  Result<JsonValue> v =
      InterpretGatewayAnswer(kEndpoint, 200, "{\"result\":{\"header\":{},\"TTL\":\"5\"}}\n");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*IntMember(*v, "TTL"), 5);
  EXPECT_EQ(*HeaderRevision(*v), 0);  // proto3 leaves a zero revision out
}

TEST(InterpretGatewayAnswerTest, MapsEtcdErrorsWithTheirMessage) {
  Status unary = AnswerStatus(
      404,
      R"({"error":"etcdserver: requested lease not found","code":5,"message":"etcdserver: requested lease not found"})");
  EXPECT_EQ(unary, Status::NotFound("etcd: etcdserver: requested lease not found"));
  Status stream = AnswerStatus(
      200,
      R"({"error":{"grpc_code":9,"http_code":400,"message":"bad state","http_status":"Bad Request"}})");
  EXPECT_EQ(stream, Status::FailedPrecondition("etcd: bad state"));
  EXPECT_EQ(AnswerStatus(400, R"({"error":"x","code":3,"message":"key is not provided"})").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(AnswerStatus(503, R"({"error":"x","code":14,"message":"no leader"})").code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(AnswerStatus(500, R"({"error":"x","code":13,"message":"boom"})").code(),
            StatusCode::kInternal);
}

TEST(InterpretGatewayAnswerTest, RefusesWhatIsNotTheGateway) {
  Status not_json = AnswerStatus(200, "{\"header\":");
  EXPECT_EQ(not_json.code(), StatusCode::kInternal);
  EXPECT_NE(not_json.message().find("malformed answer: json: "), std::string::npos) << not_json;
  EXPECT_EQ(AnswerStatus(200, "[1]").code(), StatusCode::kInternal);
  EXPECT_EQ(AnswerStatus(200, R"({"result":3})").code(), StatusCode::kInternal);
  Status page = AnswerStatus(404, "404 page not found\xff");
  EXPECT_EQ(page, Status::Internal("etcd 127.0.0.1:1 answered HTTP 404: 404 page not found?"));
  EXPECT_EQ(AnswerStatus(502, "{}").code(), StatusCode::kInternal);
}

TEST(ParseKvsTest, ReadsProto3JsonAndRejectsBadFields) {
  Result<JsonValue> answer = ParseJson(
      R"({"kvs":[{"key":"AP8=","create_revision":"2","mod_revision":"3","version":"2","lease":"7587862065839523914"},{"key":"YQ==","value":"Yg=="}]})");
  ASSERT_TRUE(answer.ok());
  Result<std::vector<KeyValue>> kvs = ParseKvs(*answer);
  ASSERT_TRUE(kvs.ok()) << kvs.status();
  ASSERT_EQ(kvs->size(), 2u);
  EXPECT_EQ((*kvs)[0].key, std::string("\x00\xff", 2));
  EXPECT_EQ((*kvs)[0].value, "");
  EXPECT_EQ((*kvs)[0].lease, 7587862065839523914);
  EXPECT_EQ((*kvs)[1].value, "b");
  EXPECT_EQ((*kvs)[1].version, 0);
  for (const char* bad : {R"({"kvs":[{"key":"A"}]})", R"({"kvs":[{"key":"YQ==","version":"x"}]})",
                          R"({"kvs":{}})", R"({"kvs":[1]})", R"({"kvs":[{"key":1}]})"}) {
    Result<JsonValue> doc = ParseJson(bad);
    ASSERT_TRUE(doc.ok()) << bad;
    EXPECT_EQ(ParseKvs(*doc).status().code(), StatusCode::kInternal) << bad;
  }
}

}  // namespace
}  // namespace halfmq::cluster
