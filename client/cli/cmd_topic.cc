// `halfmq topic create|list`.
#include <algorithm>
#include <iostream>

#include "client/cli/command.h"
#include "client/cli/json.h"
#include "common/limits.h"
#include "halfmq/admin.h"

namespace halfmq::cli {
namespace {

int TopicCreate(const ParsedArgs& args, Context& ctx) {
  auto queues = args.Uint("queues", kDefaultQueuesPerTopic, 1, kMaxQueuesPerTopic);
  if (!queues.ok()) return ctx.Usage(queues.status().message());
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  auto topic = (*admin)->CreateTopic(args.positionals()[0], static_cast<uint32_t>(*queues));
  if (!topic.ok()) return ctx.Fail(topic.status());
  *ctx.out << "created topic " << topic->name << " queues=" << topic->queues << "\n";
  return kExitOk;
}

int TopicList(const ParsedArgs& args, Context& ctx) {
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  auto topics = (*admin)->ListTopics();
  if (!topics.ok()) return ctx.Fail(topics.status());
  if (args.Has("json")) {
    for (const TopicInfo& t : *topics) {
      *ctx.out << JsonObject()
                      .Str("name", t.name)
                      .Uint("queues", t.queues)
                      .Int("created_ms", t.created_ms)
                      .str()
               << "\n";
    }
    return kExitOk;
  }
  size_t width = 4;  // "NAME"
  for (const TopicInfo& t : *topics) width = std::max(width, t.name.size());
  auto pad = [](std::string s, size_t w) {
    s.resize(std::max(s.size(), w), ' ');
    return s;
  };
  *ctx.out << pad("NAME", width) << "  QUEUES  CREATED\n";
  for (const TopicInfo& t : *topics) {
    *ctx.out << pad(t.name, width) << "  " << pad(std::to_string(t.queues), 6) << "  "
             << FormatTimeMs(t.created_ms) << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddTopicCommands(std::vector<Command>* commands) {
  commands->push_back(Command{
      .words = {"topic", "create"},
      .positionals = {"NAME"},
      .synopsis = "[--queues N]",
      .summary = "create a topic with N queues (default 8)",
      .help = "  prints: created topic NAME queues=N\n",
      .flags = {{"queues", FlagKind::kValue}},
      .run = TopicCreate,
  });
  commands->push_back(Command{
      .words = {"topic", "list"},
      .positionals = {},
      .synopsis = "[--json]",
      .summary = "list topics",
      .help = "  prints a table NAME QUEUES CREATED (UTC), or with --json one\n"
              "  {\"name\",\"queues\",\"created_ms\"} object per topic\n",
      .flags = {{"json", FlagKind::kBool}},
      .run = TopicList,
  });
}

}  // namespace halfmq::cli
