#include "proto/framing.h"

#include <string>

#include <gtest/gtest.h>

namespace halfmq::proto {
namespace {

v1::Frame SendFrame(uint64_t id, const std::string& body) {
  v1::Frame f;
  f.set_request_id(id);
  auto* m = f.mutable_send()->add_messages();
  m->set_topic("orders");
  m->set_body(body);
  return f;
}

TEST(FramingTest, LengthIsBigEndian) {
  uint8_t h[4];
  EncodeFrameLength(0x01020304, h);
  EXPECT_EQ(h[0], 1);
  EXPECT_EQ(h[3], 4);
  EXPECT_EQ(DecodeFrameLength(h), 0x01020304u);
}

TEST(FramingTest, RoundTripsPipelinedFramesFedByteByByte) {
  std::string wire;
  ASSERT_TRUE(AppendFrame(SendFrame(1, "a"), 1 << 20, &wire));
  ASSERT_TRUE(AppendFrame(SendFrame(2, std::string(1000, 'b')), 1 << 20, &wire));
  FrameDecoder decoder(1 << 20);
  std::vector<uint64_t> ids;
  for (char c : wire) {
    decoder.Feed(std::string_view(&c, 1));
    v1::Frame f;
    auto r = decoder.Next(&f);
    if (r == FrameDecoder::Result::kFrame) ids.push_back(f.request_id());
    ASSERT_NE(r, FrameDecoder::Result::kMalformed);
  }
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2}));
}

TEST(FramingTest, OversizeHeaderIsRejectedBeforeBodyArrives) {
  uint8_t h[4];
  EncodeFrameLength(1 << 21, h);
  FrameDecoder decoder(1 << 20);
  decoder.Feed(std::string_view(reinterpret_cast<char*>(h), 4));
  v1::Frame f;
  EXPECT_EQ(decoder.Next(&f), FrameDecoder::Result::kTooLarge);
}

TEST(FramingTest, GarbageBodyIsMalformed) {
  std::string body = "\xff\xff\xff\xff\xff\xff\xff";
  uint8_t h[4];
  EncodeFrameLength(static_cast<uint32_t>(body.size()), h);
  FrameDecoder decoder(1 << 20);
  decoder.Feed(std::string_view(reinterpret_cast<char*>(h), 4));
  decoder.Feed(body);
  v1::Frame f;
  EXPECT_EQ(decoder.Next(&f), FrameDecoder::Result::kMalformed);
}

TEST(FramingTest, RequestWithoutBodyIsMalformed) {
  v1::Frame empty;
  empty.set_request_id(9);
  std::string wire;
  ASSERT_TRUE(AppendFrame(empty, 1 << 20, &wire));
  FrameDecoder decoder(1 << 20);
  decoder.Feed(wire);
  v1::Frame f;
  EXPECT_EQ(decoder.Next(&f), FrameDecoder::Result::kMalformed);
}

TEST(FramingTest, AppendRefusesFrameOverLimit) {
  std::string wire;
  EXPECT_FALSE(AppendFrame(SendFrame(1, std::string(2000, 'x')), 1000, &wire));
  EXPECT_TRUE(wire.empty());
}

}  // namespace
}  // namespace halfmq::proto
