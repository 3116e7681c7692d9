#include "common/json.h"

#include <cmath>
#include <string>

#include <gtest/gtest.h>

namespace halfmq {
namespace {

std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

TEST(JsonStringTest, EscapesQuotesBackslashesAndControlBytes) {
  EXPECT_EQ(Json("plain"), "\"plain\"");
  EXPECT_EQ(Json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Json("line\nnext\ttab\r"), "\"line\\u000anext\\u0009tab\\u000d\"");
  EXPECT_EQ(Json(std::string("\0\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(Json("/ and ' stay"), "\"/ and ' stay\"");
}

TEST(JsonStringTest, CopiesValidUtf8) {
  EXPECT_EQ(Json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST(JsonStringTest, EscapesBytesOfInvalidUtf8) {
  EXPECT_EQ(Json("\xff"), "\"\\u00ff\"");
  EXPECT_EQ(Json("a\x80z"), "\"a\\u0080z\"");
  // Truncated sequence: both bytes escaped, the following ASCII kept.
  EXPECT_EQ(Json("\xe2\x82!"), "\"\\u00e2\\u0082!\"");
  // Overlong and surrogate encodings are not valid UTF-8.
  EXPECT_EQ(Json("\xc0\xaf"), "\"\\u00c0\\u00af\"");
  EXPECT_EQ(Json("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"");
  // A valid sequence right after an invalid byte is still copied.
  EXPECT_EQ(Json("\xff\xc3\xa9"), "\"\\u00ff\xc3\xa9\"");
}

TEST(JsonObjectTest, BuildsOneLineInInsertionOrder) {
  std::string s = JsonObject()
                      .Str("message_id", "m1")
                      .Uint("queue", 3)
                      .Int("created_ms", -1)
                      .Bool("ok", true)
                      .StrArray("keys", {"a", "b\""})
                      .StrMap("properties", {{"k", "v"}})
                      .IntMap("counters", {{"x", 5}})
                      .str();
  EXPECT_EQ(s,
            "{\"message_id\":\"m1\",\"queue\":3,\"created_ms\":-1,\"ok\":true,"
            "\"keys\":[\"a\",\"b\\\"\"],\"properties\":{\"k\":\"v\"},\"counters\":{\"x\":5}}");
  EXPECT_EQ(JsonObject().str(), "{}");
  EXPECT_EQ(JsonObject().StrArray("k", {}).StrMap("m", {}).str(), "{\"k\":[],\"m\":{}}");
  EXPECT_EQ(JsonObject().ObjectArray("a", {JsonObject().Int("x", 1), JsonObject()}).str(),
            "{\"a\":[{\"x\":1},{}]}");
  EXPECT_EQ(JsonObject().ObjectArray("a", {}).str(), "{\"a\":[]}");
}

TEST(HexEncodeTest, LowercaseTwoDigitsPerByte) {
  EXPECT_EQ(HexEncode(std::string("\x00\x0f\xab\xff", 4)), "000fabff");
  EXPECT_EQ(HexEncode(""), "");
}

}  // namespace
}  // namespace halfmq

namespace halfmq {
namespace {

TEST(JsonObjectTest, DoublesArraysAndNestedObjects) {
  EXPECT_EQ(JsonObject()
                .Double("a", 2.0)
                .Double("b", 1.5)
                .Double("nan", std::nan(""))
                .Double("inf", HUGE_VAL)
                .UintArray("u", {1, 20})
                .UintArray("none", {})
                .Object("o", JsonObject().Str("k", "v").Uint("n", 1))
                .Object("empty", JsonObject())
                .str(),
            "{\"a\":2,\"b\":1.5,\"nan\":null,\"inf\":null,\"u\":[1,20],\"none\":[],"
            "\"o\":{\"k\":\"v\",\"n\":1},\"empty\":{}}");
}

}  // namespace
}  // namespace halfmq

namespace halfmq {
namespace {

TEST(JsonObjectTest, FixedRoundsLikePrintfAndNullsNonFinite) {
  EXPECT_EQ(JsonObject().Fixed("a", 6538.4, 0).Fixed("b", 0.1234, 3).Fixed("c", 2.0, 2).str(),
            "{\"a\":6538,\"b\":0.123,\"c\":2.00}");
  EXPECT_EQ(JsonObject().Fixed("x", -1.25, 1).str(), "{\"x\":-1.2}");
  EXPECT_EQ(JsonObject().Fixed("n", std::nan(""), 2).Fixed("i", INFINITY, 0).str(),
            "{\"n\":null,\"i\":null}");
}

}  // namespace
}  // namespace halfmq
