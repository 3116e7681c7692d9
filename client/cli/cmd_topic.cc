// `halfmq topic create|list`.
#include <algorithm>
#include <iostream>

#include "client/cli/command.h"
#include "client/cli/topic.h"
#include "common/json.h"
#include "common/limits.h"
#include "halfmq/admin.h"

namespace halfmq::cli {
namespace {

int TopicCreate(const ParsedArgs& args, Context& ctx) {
  auto queues = args.Uint("queues", kDefaultQueuesPerTopic, 1, kMaxQueuesPerTopic);
  if (!queues.ok()) return ctx.Usage(queues.status().message());
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  TopicOptions options;
  options.queues = static_cast<uint32_t>(*queues);
  options.fifo = args.Has("fifo");
  auto topic = (*admin)->CreateTopic(args.positionals()[0], options);
  if (!topic.ok()) return ctx.Fail(topic.status());
  *ctx.out << FormatTopicCreated(*topic) << "\n";
  return kExitOk;
}

int TopicList(const ParsedArgs& args, Context& ctx) {
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  auto topics = (*admin)->ListTopics();
  if (!topics.ok()) return ctx.Fail(topics.status());
  if (args.Has("json")) {
    for (const TopicInfo& t : *topics) *ctx.out << FormatTopicJson(t) << "\n";
    return kExitOk;
  }
  *ctx.out << FormatTopicTable(*topics);
  return kExitOk;
}

}  // namespace

std::string FormatTopicCreated(const TopicInfo& t) {
  return "created topic " + t.name + " queues=" + std::to_string(t.queues) +
         (t.fifo ? " fifo" : "");
}

std::string FormatTopicJson(const TopicInfo& t) {
  return JsonObject()
      .Str("name", t.name)
      .Uint("queues", t.queues)
      .Int("created_ms", t.created_ms)
      .Bool("fifo", t.fifo)
      .str();
}

std::string FormatTopicTable(const std::vector<TopicInfo>& topics) {
  // FIFO is the last column so that the older ones keep their places.
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAME", "QUEUES", "CREATED", "FIFO"});
  for (const TopicInfo& t : topics) {
    rows.push_back(
        {t.name, std::to_string(t.queues), FormatTimeMs(t.created_ms), t.fifo ? "yes" : "no"});
  }
  return FormatTable(rows);
}

void AddTopicCommands(std::vector<Command>* commands) {
  commands->push_back(Command{
      .words = {"topic", "create"},
      .positionals = {"NAME"},
      .synopsis = "[--queues N] [--fifo]",
      .summary = "create a topic with N queues (default 8), optionally FIFO",
      .help = "  prints: created topic NAME queues=N, followed by ` fifo` for a FIFO topic.\n"
              "  On a FIFO topic a message group's next message is delivered only after the\n"
              "  previous one was acked or dead-lettered (`send --message-group G`).\n",
      .flags = {{"queues", FlagKind::kValue}, {"fifo", FlagKind::kBool}},
      .run = TopicCreate,
  });
  commands->push_back(Command{
      .words = {"topic", "list"},
      .positionals = {},
      .synopsis = "[--json]",
      .summary = "list topics",
      .help = "  prints a table NAME QUEUES CREATED (UTC) FIFO (yes/no), or with --json one\n"
              "  {\"name\",\"queues\",\"created_ms\",\"fifo\"} object per topic\n",
      .flags = {{"json", FlagKind::kBool}},
      .run = TopicList,
  });
}

}  // namespace halfmq::cli
