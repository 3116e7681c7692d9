#include "proto/read_buffer.h"

#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace halfmq::proto {
namespace {

void Write(ReadBuffer* b, const std::string& s) {
  b->Reserve(s.size());
  ASSERT_GE(b->writable(), s.size());
  std::memcpy(b->write_ptr(), s.data(), s.size());
  b->Commit(s.size());
}

std::string Pending(const ReadBuffer& b) { return std::string(b.data(), b.size()); }

TEST(ReadBufferTest, GrowsKeepingPendingBytes) {
  ReadBuffer b;
  EXPECT_EQ(b.capacity(), 0u);
  Write(&b, "abcdef");
  EXPECT_EQ(b.capacity(), 6u);
  b.Consume(2);
  Write(&b, "ghij");  // no room behind: grows (pending 4 + 4 > 6)
  EXPECT_EQ(Pending(b), "cdefghij");
  EXPECT_GE(b.capacity(), 8u);
}

TEST(ReadBufferTest, CompactsWhenThatFreesEnoughSpace) {
  ReadBuffer b;
  b.Reserve(16);
  Write(&b, "0123456789abcdef");  // full
  EXPECT_EQ(b.capacity(), 16u);
  b.Consume(12);                   // "cdef" pending at the back
  Write(&b, "XYZ");                // 12 free bytes in front: moved, not grown
  EXPECT_EQ(b.capacity(), 16u);
  EXPECT_EQ(Pending(b), "cdefXYZ");
}

TEST(ReadBufferTest, EmptiedBufferStartsOverAndReleaseFreesIt) {
  ReadBuffer b;
  Write(&b, "abcd");
  b.Consume(4);
  Write(&b, "efgh");  // begin reset to the front: fits without growing
  EXPECT_EQ(b.capacity(), 4u);
  EXPECT_EQ(Pending(b), "efgh");
  b.Release();
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_EQ(b.size(), 0u);
}

}  // namespace
}  // namespace halfmq::proto
