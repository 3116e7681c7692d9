// `halfmq consume`: receive, print, then ack what was printed.
#include <algorithm>
#include <iostream>

#include "client/cli/command.h"
#include "client/cli/json.h"
#include "common/limits.h"
#include "halfmq/consumer.h"

namespace halfmq::cli {
namespace {

constexpr uint64_t kMaxConsume = uint64_t{1} << 40;  // effectively unbounded

std::string FormatMessage(const ReceivedMessage& m, bool json) {
  if (!json) return m.body;
  return JsonObject()
      .Str("message_id", m.message_id)
      .Str("topic", m.topic)
      .Uint("queue", m.queue_id)
      .Uint("offset", m.offset)
      .Str("key", m.keys.empty() ? std::string() : m.keys.front())
      .Str("tag", m.tag)
      .Str("body", m.body)
      .Uint("attempt", m.attempt)
      .StrArray("keys", m.keys)
      .StrMap("properties", m.properties)
      .Str("receipt_handle", HexEncode(m.receipt_handle))
      .Int("born_time_ms", m.born_time_ms)
      .Int("store_time_ms", m.store_time_ms)
      .str();
}

int Consume(const ParsedArgs& args, Context& ctx) {
  std::optional<std::string> group = args.Value("group");
  if (!group.has_value()) return ctx.Usage("missing --group");
  auto max = args.Uint("max", 1, 1, kMaxConsume);
  if (!max.ok()) return ctx.Usage(max.status().message());
  auto wait_ms = args.Uint("wait-ms", 1000, 0, kMaxWaitMs);
  if (!wait_ms.ok()) return ctx.Usage(wait_ms.status().message());
  auto invisible_ms = args.Uint("invisible-ms", 30000, 0, kMaxInvisibleMs);
  if (!invisible_ms.ok()) return ctx.Usage(invisible_ms.status().message());
  bool json = args.Has("json");
  bool ack = !args.Has("no-ack");
  const std::string& topic = args.positionals()[0];

  auto consumer = Consumer::Connect(ctx.options, *group);
  if (!consumer.ok()) return ctx.Fail(consumer.status());
  uint64_t held = 0;
  bool ack_failed = false;
  while (held < *max) {
    ReceiveOptions receive;
    receive.max_messages =
        static_cast<uint32_t>(std::min<uint64_t>(*max - held, kMaxReceiveMessages));
    receive.wait = std::chrono::milliseconds(*wait_ms);
    receive.invisible_for = std::chrono::milliseconds(*invisible_ms);
    auto messages = (*consumer)->Receive(topic, receive);
    if (!messages.ok()) return ctx.Fail(messages.status());
    if (messages->empty()) break;  // nothing new within --wait-ms
    held += messages->size();
    std::vector<std::string> handles;
    for (const ReceivedMessage& m : *messages) {
      *ctx.out << FormatMessage(m, json) << "\n";
      handles.push_back(m.receipt_handle);
    }
    // Ack only what really reached stdout, so a consumer killed by a closed
    // pipe leaves its messages to be redelivered.
    ctx.out->flush();
    if (!*ctx.out) return ctx.Fail(Status::Unavailable("writing stdout failed; not acking"));
    if (!ack) continue;
    auto results = (*consumer)->AckBatch(handles);
    if (!results.ok()) return ctx.Fail(results.status());
    for (size_t i = 0; i < results->size(); ++i) {
      if ((*results)[i].ok()) continue;
      ack_failed = true;
      *ctx.err << "halfmq: ack of message " << (*messages)[i].message_id
               << " failed: " << (*results)[i].ToString() << "\n";
    }
  }
  return ack_failed ? kExitError : kExitOk;
}

}  // namespace

void AddConsumeCommands(std::vector<Command>* commands) {
  commands->push_back(Command{
      .words = {"consume"},
      .positionals = {"TOPIC"},
      .synopsis = "--group G [--max N] [--wait-ms MS] [--no-ack] [--invisible-ms MS] [--json]",
      .summary = "receive up to N messages (default 1) as group G, print and ack them",
      .help = "  Receives until it holds N messages or a receive waits --wait-ms (default\n"
              "  1000) without a new message. Prints each message's body followed by a\n"
              "  newline (bodies are printed raw; use --json for metadata or binary bodies),\n"
              "  or with --json {\"message_id\",\"topic\",\"queue\",\"offset\",\"key\",\"tag\",\n"
              "  \"body\",\"attempt\",\"keys\",\"properties\",\"receipt_handle\" (hex),\n"
              "  \"born_time_ms\",\"store_time_ms\"}. Printed messages are acked after each\n"
              "  batch unless --no-ack; they stay invisible to the group for --invisible-ms\n"
              "  (default 30000; 0 = broker default).\n",
      .flags = {{"group", FlagKind::kValue},
                {"max", FlagKind::kValue},
                {"wait-ms", FlagKind::kValue},
                {"no-ack", FlagKind::kBool},
                {"invisible-ms", FlagKind::kValue},
                {"json", FlagKind::kBool}},
      .run = Consume,
  });
}

}  // namespace halfmq::cli
