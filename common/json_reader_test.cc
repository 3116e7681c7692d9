#include "common/json_reader.h"

#include <string>

#include <gtest/gtest.h>

namespace halfmq {
namespace {

JsonValue Parse(std::string_view text) {
  Result<JsonValue> r = ParseJson(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return r.ok() ? *r : JsonValue();
}

std::string ParseError(std::string_view text, int max_depth = kDefaultJsonMaxDepth) {
  Result<JsonValue> r = ParseJson(text, max_depth);
  if (r.ok()) return "parsed";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(JsonReaderTest, ParsesScalars) {
  EXPECT_TRUE(Parse("null").is_null());
  EXPECT_TRUE(Parse(" true ").bool_value());
  JsonValue f = Parse("false");
  EXPECT_TRUE(f.is_bool());
  EXPECT_FALSE(f.bool_value());
  EXPECT_EQ(Parse("-0").text(), "-0");
  EXPECT_EQ(Parse("12.5e-3").text(), "12.5e-3");
  EXPECT_EQ(Parse("1E+9").text(), "1E+9");
  EXPECT_EQ(Parse("\"abc\"").text(), "abc");
  EXPECT_EQ(Parse("\"\"").text(), "");
}

TEST(JsonReaderTest, ParsesNestedDocuments) {
  JsonValue v = Parse(R"( {"a": [1, {"b": null}, []], "c": {}, "d": "x"} )");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v.key(0), "a");
  const JsonValue* a = v.Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->is_array());
  ASSERT_EQ(a->size(), 3u);
  EXPECT_EQ(a->at(0).text(), "1");
  ASSERT_NE(a->at(1).Find("b"), nullptr);
  EXPECT_TRUE(a->at(1).Find("b")->is_null());
  EXPECT_EQ(a->at(2).size(), 0u);
  EXPECT_TRUE(v.Find("c")->is_object());
  EXPECT_EQ(v.Find("d")->text(), "x");
  EXPECT_EQ(v.Find("missing"), nullptr);
  EXPECT_EQ(a->Find("a"), nullptr);  // not an object
}

TEST(JsonReaderTest, DecodesEveryEscape) {
  EXPECT_EQ(Parse(R"("\" \\ \/ \b \f \n \r \t")").text(), "\" \\ / \b \f \n \r \t");
  EXPECT_EQ(Parse(R"("\u0041\u00e9\u20AC")").text(), "A\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(Parse(R"("\u0000")").text(), std::string(1, '\0'));
  // U+1F600 as a surrogate pair.
  EXPECT_EQ(Parse(R"("\ud83d\ude00")").text(), "\xf0\x9f\x98\x80");
  // Raw UTF-8 is copied.
  EXPECT_EQ(Parse("\"caf\xc3\xa9\"").text(), "caf\xc3\xa9");
}

TEST(JsonReaderTest, ReadsIntegersFromNumbersAndStrings) {
  EXPECT_EQ(*Parse("42").AsInt64(), 42);
  EXPECT_EQ(*Parse("-7").AsInt64(), -7);
  EXPECT_EQ(*Parse("\"9223372036854775807\"").AsInt64(), INT64_MAX);
  EXPECT_EQ(*Parse("\"18446744073709551615\"").AsUint64(), UINT64_MAX);
  EXPECT_FALSE(Parse("\"9223372036854775808\"").AsInt64().ok());
  EXPECT_FALSE(Parse("\"-1\"").AsUint64().ok());
  EXPECT_FALSE(Parse("1.5").AsInt64().ok());
  EXPECT_FALSE(Parse("1e3").AsInt64().ok());
  EXPECT_FALSE(Parse("\"12a\"").AsInt64().ok());
  EXPECT_FALSE(Parse("\"\"").AsInt64().ok());
  EXPECT_FALSE(Parse("true").AsInt64().ok());
}

// Shapes of etcd 3.4's JSON gateway answers.
TEST(JsonReaderTest, ParsesEtcdStyleResponses) {
  JsonValue range = Parse(R"({"header":{"cluster_id":"14841639068965178418","member_id":
    "10276657743932975437","revision":"5","raft_term":"2"},"kvs":[{"key":"Zm9v",
    "create_revision":"4","mod_revision":"5","version":"2","value":"YmFy"}],"count":"1"})");
  EXPECT_EQ(*range.Find("header")->Find("revision")->AsInt64(), 5);
  EXPECT_EQ(*range.Find("header")->Find("cluster_id")->AsUint64(), 14841639068965178418u);
  const JsonValue& kv = range.Find("kvs")->at(0);
  EXPECT_EQ(kv.Find("key")->text(), "Zm9v");
  EXPECT_EQ(kv.Find("lease"), nullptr);  // proto3 leaves zero fields out
  JsonValue error = Parse(R"({"error":"etcdserver: requested lease not found","code":5,
    "message":"etcdserver: requested lease not found"})");
  EXPECT_EQ(*error.Find("code")->AsInt64(), 5);
  EXPECT_EQ(error.Find("message")->text(), "etcdserver: requested lease not found");
}

TEST(JsonReaderTest, RejectsTruncatedInput) {
  for (const char* bad : {"", " ", "{", "[", "[1,", "{\"a\"", "{\"a\":", "\"abc", "tru", "nul", "-",
                          "1.", "1e", "\"\\u12", "\"\\"}) {
    std::string error = ParseError(bad);
    EXPECT_NE(error.find("at offset"), std::string::npos) << bad << ": " << error;
  }
}

TEST(JsonReaderTest, RejectsTrailingGarbage) {
  EXPECT_EQ(ParseError("{} x"), "json: trailing characters after the value at offset 3");
  EXPECT_EQ(ParseError("1 2"), "json: trailing characters after the value at offset 2");
  EXPECT_NE(ParseError("[1,]"), "parsed");
  EXPECT_NE(ParseError("{\"a\":1,}"), "parsed");
}

TEST(JsonReaderTest, RejectsBadEscapesAndStrings) {
  EXPECT_EQ(ParseError(R"("\x")"), "json: invalid escape at offset 1");
  EXPECT_EQ(ParseError(R"("ab\u12g4")"), "json: invalid hex digit in \\u escape at offset 7");
  EXPECT_EQ(ParseError(R"("\udc00")"), "json: lone low surrogate at offset 1");
  EXPECT_EQ(ParseError(R"("\ud83d")"), "json: high surrogate without a low one at offset 1");
  EXPECT_EQ(ParseError(R"("\ud83d\u0041")"), "json: high surrogate without a low one at offset 1");
  EXPECT_EQ(ParseError("\"a\nb\""), "json: control character in string at offset 2");
  EXPECT_EQ(ParseError("\"\xff\""), "json: invalid UTF-8 in string at offset 1");
}

TEST(JsonReaderTest, RejectsOtherMalformedDocuments) {
  EXPECT_EQ(ParseError("01"), "json: leading zero in a number at offset 1");
  EXPECT_EQ(ParseError("+1"), "json: unexpected character at offset 0");
  EXPECT_EQ(ParseError("{a:1}"), "json: expected a member name at offset 1");
  EXPECT_EQ(ParseError("{\"a\" 1}"), "json: expected ':' at offset 5");
  EXPECT_EQ(ParseError("{\"a\":1,\"a\":2}"), "json: duplicate member name at offset 7");
  EXPECT_EQ(ParseError("[1 2]"), "json: expected ',' or ']' at offset 3");
  EXPECT_EQ(ParseError("True"), "json: unexpected character at offset 0");
}

TEST(JsonReaderTest, LimitsNesting) {
  std::string ok = std::string(64, '[') + std::string(64, ']');
  EXPECT_EQ(ParseError(ok), "parsed");
  std::string deep = std::string(65, '[') + std::string(65, ']');
  EXPECT_EQ(ParseError(deep), "json: nesting too deep at offset 64");
  // A hostile document far deeper than the stack could take.
  std::string hostile(1000000, '[');
  EXPECT_EQ(ParseError(hostile), "json: nesting too deep at offset 64");
  EXPECT_EQ(ParseError("{\"a\":{\"b\":[]}}", 2), "json: nesting too deep at offset 10");
}

}  // namespace
}  // namespace halfmq
