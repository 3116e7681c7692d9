#include "proto/frame_reader.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "proto/framing.h"

namespace halfmq::proto {
namespace {

constexpr size_t kChunk = 1024;
constexpr size_t kMaxFrame = 1 << 20;

std::string Framed(const std::string& body) {
  uint8_t header[kFrameHeaderBytes];
  EncodeFrameLength(static_cast<uint32_t>(body.size()), header);
  return std::string(reinterpret_cast<const char*>(header), kFrameHeaderBytes) + body;
}

// A body of `size` bytes that differs from every other body of the test.
std::string Body(size_t size, int seed) {
  std::string b(size, '\0');
  for (size_t i = 0; i < size; ++i) b[i] = static_cast<char>((i * 131 + seed * 7919) >> 3);
  return b;
}

// Feeds `wire` to `reader` in pieces chosen by `piece` (each capped by the
// space the reader offers) and returns the bodies it yields; checks on the
// way that the reader never offers space past a large frame and that its
// large buffer stays within the frame's length.
std::vector<std::string> Drain(FrameReader* reader, const std::string& wire,
                               const std::function<size_t()>& piece) {
  std::vector<std::string> bodies;
  size_t at = 0;
  for (;;) {
    std::string_view body;
    FrameReader::Result r = reader->Next(&body);
    if (r == FrameReader::Result::kFrame) {
      bodies.emplace_back(body);
      continue;
    }
    EXPECT_EQ(r, FrameReader::Result::kNeedMore);
    if (r != FrameReader::Result::kNeedMore || at == wire.size()) break;
    size_t target = reader->large_target();
    if (target > 0) {
      EXPECT_LE(target, reader->claimed_length());
    }
    FrameReader::Space space = reader->PrepareRead();
    EXPECT_GE(space.size, 1u);
    EXPECT_LE(space.size, kChunk > target ? kChunk : target);
    size_t n = std::min({space.size, piece(), wire.size() - at});
    std::memcpy(space.data, wire.data() + at, n);
    reader->CommitRead(n);
    at += n;
  }
  return bodies;
}

TEST(FrameReaderTest, PipelinedFramesOfEverySizeSplitAnywhere) {
  // Sizes around every boundary: empty, tiny, the chunk, several chunks, the
  // largest frame.
  const std::vector<size_t> sizes = {0,          1,          3,           4,
                                     kChunk - 5, kChunk - 4, kChunk - 1,  kChunk,
                                     kChunk + 1, kChunk + 4, 2 * kChunk,  5 * kChunk + 3,
                                     64 << 10,   300000,     kMaxFrame - 1, kMaxFrame};
  std::mt19937 rng(12345);
  for (int round = 0; round < 40; ++round) {
    std::vector<std::string> expected;
    std::string wire;
    for (int i = 0; i < 30; ++i) {
      size_t size = sizes[rng() % sizes.size()];
      expected.push_back(Body(size, round * 100 + i));
      wire += Framed(expected.back());
    }
    // Pieces from one byte to several chunks, so reads end anywhere: inside
    // headers, on frame boundaries, a few bytes into the next frame.
    size_t max_piece = round % 4 == 0 ? 7 : round % 4 == 1 ? kChunk : 3 * kChunk + 17;
    std::uniform_int_distribution<size_t> piece(1, max_piece);
    FrameReader reader(kMaxFrame, kChunk);
    std::vector<std::string> got = Drain(&reader, wire, [&] { return piece(rng); });
    ASSERT_EQ(got.size(), expected.size()) << "round " << round;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].size(), expected[i].size()) << "round " << round << " frame " << i;
      ASSERT_TRUE(got[i] == expected[i]) << "round " << round << " frame " << i;
    }
    EXPECT_TRUE(reader.empty());
  }
}

TEST(FrameReaderTest, ALargeFrameFollowedByOthersInOneReadKeepsThemApart) {
  // The case that overflowed the old reader: one read brings a large
  // frame's start together with bytes of the frames after it. Here every
  // read is as large as the reader allows.
  std::string wire = Framed(Body(3 * kChunk, 1)) + Framed("a") + Framed(Body(2 * kChunk, 2)) +
                     Framed("bc");
  FrameReader reader(kMaxFrame, kChunk);
  std::vector<std::string> got = Drain(&reader, wire, [] { return SIZE_MAX; });
  ASSERT_EQ(got.size(), 4u);
  EXPECT_TRUE(got[0] == Body(3 * kChunk, 1));
  EXPECT_EQ(got[1], "a");
  EXPECT_TRUE(got[2] == Body(2 * kChunk, 2));
  EXPECT_EQ(got[3], "bc");
}

TEST(FrameReaderTest, ClaimedLengthIsNotAllocatedBeforeTheBytesArrive) {
  FrameReader reader(kMaxFrame, kChunk);
  std::string wire = Framed(Body(kMaxFrame, 3)).substr(0, kFrameHeaderBytes + 10);
  Drain(&reader, wire, [] { return SIZE_MAX; });
  // The header claims 1 MiB; 10 bytes came: the next read may bring one
  // chunk, not the claimed megabyte.
  EXPECT_EQ(reader.claimed_length(), kMaxFrame);
  EXPECT_EQ(reader.large_target(), 10 + kChunk);
  EXPECT_FALSE(reader.empty());
}

TEST(FrameReaderTest, TheLargeBufferGrowsAtMostTwofoldPerStep) {
  FrameReader reader(kMaxFrame, kChunk);
  std::string wire = Framed(Body(kMaxFrame, 4));
  size_t at = 0;
  size_t steps = 0;
  std::string_view body;
  while (reader.Next(&body) == FrameReader::Result::kNeedMore) {
    size_t have = at > kFrameHeaderBytes ? at - kFrameHeaderBytes : 0;
    size_t target = reader.large_target();
    if (target > 0) {
      EXPECT_LE(target, std::max(2 * have, have + kChunk));
    }
    FrameReader::Space space = reader.PrepareRead();
    size_t n = std::min(space.size, wire.size() - at);
    std::memcpy(space.data, wire.data() + at, n);
    reader.CommitRead(n);
    at += n;
    ++steps;
  }
  EXPECT_TRUE(body == Body(kMaxFrame, 4));
  EXPECT_LT(steps, 20u);  // doubling: about log2(1 MiB / 1 KiB) reads
}

TEST(FrameReaderTest, AFrameOverTheLimitIsRejectedBeforeItsBody) {
  FrameReader reader(100, kChunk);
  std::string wire = Framed(Body(101, 5));
  std::string_view body;
  FrameReader::Space space = reader.PrepareRead();
  std::memcpy(space.data, wire.data(), kFrameHeaderBytes);
  reader.CommitRead(kFrameHeaderBytes);
  EXPECT_EQ(reader.Next(&body), FrameReader::Result::kTooLarge);
  EXPECT_EQ(reader.claimed_length(), 101u);
}

TEST(FrameReaderTest, ReleaseFreesTheBuffersOfAnIdleReader) {
  FrameReader reader(kMaxFrame, kChunk);
  std::vector<std::string> got =
      Drain(&reader, Framed(Body(4 * kChunk, 6)) + Framed("x"), [] { return SIZE_MAX; });
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(reader.empty());
  reader.Release();
  got = Drain(&reader, Framed("after release"), [] { return SIZE_MAX; });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "after release");
}

}  // namespace
}  // namespace halfmq::proto
