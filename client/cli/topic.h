// Output shapes of `topic create` and `topic list`, exposed for tests. Pure
// functions, thread-safe.
#ifndef HALFMQ_CLIENT_CLI_TOPIC_H_
#define HALFMQ_CLIENT_CLI_TOPIC_H_

#include <string>
#include <vector>

#include "halfmq/admin.h"

namespace halfmq::cli {

// `created topic NAME queues=N`, plus ` fifo` for a FIFO topic.
std::string FormatTopicCreated(const TopicInfo& t);

// {"name","queues","created_ms","fifo"}
std::string FormatTopicJson(const TopicInfo& t);

// The `topic list` table: NAME QUEUES CREATED FIFO, header included.
std::string FormatTopicTable(const std::vector<TopicInfo>& topics);

}  // namespace halfmq::cli

#endif  // HALFMQ_CLIENT_CLI_TOPIC_H_
