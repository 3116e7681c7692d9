// `halfmq group lag|create`.
#include <algorithm>
#include <iostream>

#include "client/cli/command.h"
#include "client/cli/json.h"
#include "halfmq/admin.h"

namespace halfmq::cli {
namespace {

int GroupLag(const ParsedArgs& args, Context& ctx) {
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  auto lags = (*admin)->GetLag(args.positionals()[0], args.Value("topic").value_or(""));
  if (!lags.ok()) return ctx.Fail(lags.status());
  if (args.Has("json")) {
    for (const QueueLag& q : *lags) {
      *ctx.out << JsonObject()
                      .Str("topic", q.topic)
                      .Uint("queue", q.queue_id)
                      .Uint("lag", q.lag)
                      .Uint("inflight", q.inflight)
                      .Uint("min_offset", q.min_offset)
                      .Uint("end_offset", q.end_offset)
                      .Uint("delivered_offset", q.delivered_offset)
                      .Uint("skipped", q.skipped)
                      .str()
               << "\n";
    }
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"TOPIC", "QUEUE", "LAG", "INFLIGHT", "MIN", "END", "DELIVERED", "SKIPPED"});
  for (const QueueLag& q : *lags) {
    rows.push_back({q.topic, std::to_string(q.queue_id), std::to_string(q.lag),
                    std::to_string(q.inflight), std::to_string(q.min_offset),
                    std::to_string(q.end_offset), std::to_string(q.delivered_offset),
                    std::to_string(q.skipped)});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) line += "  ";
      // Names left-aligned, numbers right-aligned.
      std::string fill(widths[c] - row[c].size(), ' ');
      line += c == 0 ? row[c] + fill : fill + row[c];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    *ctx.out << line << "\n";
  }
  return kExitOk;
}

int GroupCreate(const ParsedArgs& args, Context& ctx) {
  std::optional<std::string> topic = args.Value("topic");
  if (!topic.has_value()) return ctx.Usage("missing --topic");
  std::string from = args.Value("from").value_or("earliest");
  StartPosition start;
  if (from == "earliest") {
    start = StartPosition::kEarliest;
  } else if (from == "latest") {
    start = StartPosition::kLatest;
  } else {
    return ctx.Usage("--from must be 'earliest' or 'latest', not '" + from + "'");
  }
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  Status status = (*admin)->CreateSubscription(args.positionals()[0], *topic, start);
  if (!status.ok()) return ctx.Fail(status);
  *ctx.out << "created subscription group=" << args.positionals()[0] << " topic=" << *topic
           << " from=" << from << "\n";
  return kExitOk;
}

}  // namespace

void AddGroupCommands(std::vector<Command>* commands) {
  commands->push_back(Command{
      .words = {"group", "lag"},
      .positionals = {"GROUP"},
      .synopsis = "[--topic T] [--json]",
      .summary = "show the group's lag per queue (all its topics, or T)",
      .help =
          "  prints a table TOPIC QUEUE LAG INFLIGHT MIN END DELIVERED SKIPPED, or with\n"
          "  --json one {\"topic\",\"queue\",\"lag\",\"inflight\",\"min_offset\",\"end_offset\",\n"
          "  \"delivered_offset\",\"skipped\"} object per queue\n",
      .flags = {{"topic", FlagKind::kValue}, {"json", FlagKind::kBool}},
      .run = GroupLag,
  });
  commands->push_back(Command{
      .words = {"group", "create"},
      .positionals = {"GROUP"},
      .synopsis = "--topic T [--from earliest|latest]",
      .summary = "subscribe the group to T, from its earliest (default) or latest message",
      .help = "",
      .flags = {{"topic", FlagKind::kValue}, {"from", FlagKind::kValue}},
      .run = GroupCreate,
  });
}

}  // namespace halfmq::cli
