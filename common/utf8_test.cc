#include "common/utf8.h"

#include <string>

#include <gtest/gtest.h>

namespace halfmq {
namespace {

TEST(Utf8Test, AcceptsWellFormed) {
  for (const std::string& ok : {std::string(""), std::string("plain ascii"),
                                std::string("caf\xc3\xa9"),       // é
                                std::string("\xe2\x82\xac"),      // €
                                std::string("\xed\x9f\xbf"),      // U+D7FF
                                std::string("\xee\x80\x80"),      // U+E000
                                std::string("\xf0\x9f\x98\x80"),  // 😀
                                std::string("\xf4\x8f\xbf\xbf"),  // U+10FFFF
                                std::string("nul\0inside", 10)}) {
    EXPECT_TRUE(IsValidUtf8(ok)) << ok;
  }
}

TEST(Utf8Test, RejectsIllFormed) {
  for (const std::string& bad : {std::string("\x80"),              // lone continuation
                                 std::string("\xc3"),              // truncated
                                 std::string("\xc3\x28"),          // bad continuation
                                 std::string("\xc0\xaf"),          // overlong '/'
                                 std::string("\xc1\xbf"),          // overlong
                                 std::string("\xe0\x80\xaf"),      // overlong 3-byte
                                 std::string("\xed\xa0\x80"),      // surrogate U+D800
                                 std::string("\xf0\x80\x80\xaf"),  // overlong 4-byte
                                 std::string("\xf4\x90\x80\x80"),  // above U+10FFFF
                                 std::string("\xf5\x80\x80\x80"),  // F5
                                 std::string("\xff"), std::string("ok\xe2\x82")}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << testing::PrintToString(bad);
  }
}

TEST(Utf8Test, SequenceLengths) {
  std::string s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff";
  EXPECT_EQ(Utf8SequenceLength(s, 0), 1u);
  EXPECT_EQ(Utf8SequenceLength(s, 1), 2u);
  EXPECT_EQ(Utf8SequenceLength(s, 3), 3u);
  EXPECT_EQ(Utf8SequenceLength(s, 6), 4u);
  EXPECT_EQ(Utf8SequenceLength(s, 10), 0u);
}

TEST(Utf8Test, SanitizeReplacesOnlyBadBytes) {
  EXPECT_EQ(SanitizeUtf8("caf\xc3\xa9 \xff\xfe!"),
            "caf\xc3\xa9 ?"
            "?!");
  EXPECT_EQ(SanitizeUtf8("\xe2\x82"), "??");
}

}  // namespace
}  // namespace halfmqent
