#include "common/coding.h"

#include <gtest/gtest.h>

#include <string>

namespace halfmq {
namespace {

TEST(CodingTest, MostSignificantByteComesFirst) {
  std::string s;
  PutFixed32BE(&s, 0x01020304u);
  PutFixed64BE(&s, 0x05060708090a0b0cull);
  EXPECT_EQ(s, std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12));
}

TEST(CodingTest, RoundTripsIncludingHighBits) {
  for (uint32_t v : {0u, 1u, 0x7fu, 0x80u, 0xffu, 0x12345678u, 0xffffffffu}) {
    std::string s;
    PutFixed32BE(&s, v);
    ASSERT_EQ(s.size(), 4u);
    EXPECT_EQ(DecodeFixed32BE(s.data()), v);
  }
  for (uint64_t v : {0ull, 0x80ull, 0xffffffffull, 0x100000000ull, 0x8000000000000000ull,
                     0xffffffffffffffffull}) {
    std::string s;
    PutFixed64BE(&s, v);
    ASSERT_EQ(s.size(), 8u);
    EXPECT_EQ(DecodeFixed64BE(s.data()), v);
  }
}

TEST(CodingTest, ByteOrderIsNumericOrder) {
  uint64_t values[] = {0, 1, 255, 256, 65535, 65536, 1ull << 32, (1ull << 63) + 5};
  for (size_t i = 0; i + 1 < std::size(values); ++i) {
    std::string a, b;
    PutFixed64BE(&a, values[i]);
    PutFixed64BE(&b, values[i + 1]);
    EXPECT_LT(a, b) << values[i] << " vs " << values[i + 1];
  }
}

}  // namespace
}  // namespace halfmq
