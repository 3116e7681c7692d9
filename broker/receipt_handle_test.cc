#include "broker/receipt_handle.h"

#include <gtest/gtest.h>

namespace halfmq::broker {
namespace {

TEST(ReceiptHandleTest, RoundTrips) {
  ReceiptHandle h{SubscriptionId(7), QueueId(3), Offset(1ull << 40), 5};
  std::string bytes = h.Encode();
  EXPECT_EQ(bytes.size(), 21u);
  auto back = ReceiptHandle::Decode(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->sub, SubscriptionId(7));
  EXPECT_EQ(back->queue, QueueId(3));
  EXPECT_EQ(back->offset, Offset(1ull << 40));
  EXPECT_EQ(back->attempt, 5u);
}

TEST(ReceiptHandleTest, RejectsGarbage) {
  EXPECT_FALSE(ReceiptHandle::Decode("").has_value());
  EXPECT_FALSE(ReceiptHandle::Decode(std::string(21, '\x02')).has_value());  // bad version
  EXPECT_FALSE(ReceiptHandle::Decode(std::string(20, '\x01')).has_value());  // short
  std::string zero_attempt = ReceiptHandle{SubscriptionId(1), QueueId(0), Offset(0), 1}.Encode();
  zero_attempt[20] = 0;
  EXPECT_FALSE(ReceiptHandle::Decode(zero_attempt).has_value());
}

}  // namespace
}  // namespace halfmq::broker
