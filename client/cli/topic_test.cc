// Output shapes of `topic create` and `topic list`.
#include "client/cli/topic.h"

#include <gtest/gtest.h>

namespace halfmq::cli {
namespace {

TopicInfo Topic(std::string name, uint32_t queues, bool fifo) {
  TopicInfo t;
  t.name = std::move(name);
  t.queues = queues;
  t.created_ms = 1700000000123;
  t.fifo = fifo;
  return t;
}

TEST(TopicOutputTest, Created) {
  EXPECT_EQ(FormatTopicCreated(Topic("orders", 8, false)), "created topic orders queues=8");
  EXPECT_EQ(FormatTopicCreated(Topic("orders", 4, true)), "created topic orders queues=4 fifo");
}

TEST(TopicOutputTest, ListJsonAndTable) {
  EXPECT_EQ(FormatTopicJson(Topic("orders", 4, true)),
            "{\"name\":\"orders\",\"queues\":4,\"created_ms\":1700000000123,\"fifo\":true}");
  EXPECT_EQ(FormatTopicTable({Topic("orders", 4, true), Topic("a-longer-name", 128, false)}),
            "NAME           QUEUES  CREATED                   FIFO\n"
            "orders         4       2023-11-14T22:13:20.123Z  yes\n"
            "a-longer-name  128     2023-11-14T22:13:20.123Z  no\n");
  EXPECT_EQ(FormatTopicTable({}), "NAME  QUEUES  CREATED  FIFO\n");
}

}  // namespace
}  // namespace halfmq::cli
