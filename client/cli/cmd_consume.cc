// `halfmq consume`: receive, print, then ack (or nack) what was printed.
#include <algorithm>
#include <iostream>

#include "client/cli/command.h"
#include "client/cli/msg.h"
#include "common/json.h"
#include "common/limits.h"
#include "halfmq/consumer.h"

namespace halfmq::cli {
namespace {

constexpr uint64_t kMaxConsume = uint64_t{1} << 40;  // effectively unbounded

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
  bool nack = args.Has("nack");
  if (nack && args.Has("no-ack")) return ctx.Usage("give at most one of --nack and --no-ack");
  std::optional<std::string> reason = args.Value("reason");
  if (reason.has_value() && !nack) return ctx.Usage("--reason needs --nack");
  bool ack = !args.Has("no-ack") && !nack;
  std::string tag_filter = args.Value("tag-filter").value_or("");
  const std::string& topic = args.positionals()[0];

  auto consumer = Consumer::Connect(ctx.options, *group);
  if (!consumer.ok()) return ctx.Fail(consumer.status());
  uint64_t held = 0;
  bool settle_failed = false;
  while (held < *max) {
    ReceiveOptions receive;
    receive.max_messages =
        static_cast<uint32_t>(std::min<uint64_t>(*max - held, kMaxReceiveMessages));
    receive.wait = std::chrono::milliseconds(*wait_ms);
    receive.invisible_for = std::chrono::milliseconds(*invisible_ms);
    receive.tag_filter = tag_filter;
    auto messages = (*consumer)->Receive(topic, receive);
    if (!messages.ok()) return ctx.Fail(messages.status());
    if (messages->empty()) break;  // nothing new within --wait-ms
    held += messages->size();
    std::vector<std::string> handles;
    for (const ReceivedMessage& m : *messages) {
      *ctx.out << FormatReceivedMessage(m, json) << "\n";
      handles.push_back(m.receipt_handle);
    }
    // Ack only what really reached stdout, so a consumer killed by a closed
    // pipe leaves its messages to be redelivered.
    ctx.out->flush();
    if (!*ctx.out) return ctx.Fail(Status::Unavailable("writing stdout failed; not acking"));
    if (nack) {
      // Without a delay: the group's retry policy decides when (and whether,
      // after its last attempt) the message comes back.
      for (const ReceivedMessage& m : *messages) {
        Status status = (*consumer)->Nack(m, reason.value_or(""));
        if (status.ok()) continue;
        settle_failed = true;
        *ctx.err << "halfmq: nack of message " << m.message_id << " failed: " << status.ToString()
                 << "\n";
      }
      continue;
    }
    if (!ack) continue;
    auto results = (*consumer)->AckBatch(handles);
    if (!results.ok()) return ctx.Fail(results.status());
    for (size_t i = 0; i < results->size(); ++i) {
      if ((*results)[i].ok()) continue;
      settle_failed = true;
      *ctx.err << "halfmq: ack of message " << (*messages)[i].message_id
               << " failed: " << (*results)[i].ToString() << "\n";
    }
  }
  return settle_failed ? kExitError : kExitOk;
}

}  // namespace

std::string FormatReceivedMessage(const ReceivedMessage& m, bool json) {
  if (!json) return m.body;
  JsonObject o;
  o.Str("message_id", m.message_id)
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
      .Str("message_group", m.message_group);
  if (m.dead_letter.has_value()) {
    const DeadLetterInfo& d = *m.dead_letter;
    o.Object("dead_letter", JsonObject()
                                .Str("original_topic", d.original_topic)
                                .Uint("original_queue", d.original_queue)
                                .Uint("original_offset", d.original_offset)
                                .Uint("attempts", d.attempts)
                                .Str("reason", d.reason)
                                .Int("dead_lettered_ms", d.dead_lettered_ms)
                                .Str("group", d.group));
  }
  return o.str();
}

void AddConsumeCommands(std::vector<Command>* commands) {
  commands->push_back(Command{
      .words = {"consume"},
      .positionals = {"TOPIC"},
      .synopsis = "--group G [--max N] [--wait-ms MS] [--no-ack | --nack [--reason TEXT]] "
                  "[--tag-filter EXPR] [--invisible-ms MS] [--json]",
      .summary = "receive up to N messages (default 1) as group G, print and ack (or nack) them",
      .help = "  Receives until it holds N messages or a receive waits --wait-ms (default\n"
              "  1000) without a new message. Prints each message's body followed by a\n"
              "  newline (bodies are printed raw; use --json for metadata or binary bodies),\n"
              "  or with --json {\"message_id\",\"topic\",\"queue\",\"offset\",\"key\",\"tag\",\n"
              "  \"body\",\"attempt\",\"keys\",\"properties\",\"receipt_handle\" (hex),\n"
              "  \"born_time_ms\",\"store_time_ms\",\"message_group\"} plus, for a dead letter,\n"
              "  \"dead_letter\":{\"original_topic\",\"original_queue\",\"original_offset\",\n"
              "  \"attempts\",\"reason\",\"dead_lettered_ms\",\"group\"}. Printed messages are\n"
              "  acked after each batch unless --no-ack; they stay invisible to the group for\n"
              "  --invisible-ms (default 30000; 0 = broker default).\n"
              "  --nack nacks them instead (with --reason TEXT as the reason): the group's\n"
              "  retry policy redelivers them later, or dead-letters them after the last\n"
              "  attempt. A failed ack or nack is reported on stderr and exits 1.\n"
              "  --tag-filter EXPR sets the group's tag filter for the topic: \"*\" or tags\n"
              "  joined by \"||\", e.g. 'paid||refunded'. It applies to the whole group and\n"
              "  stays until another filter is given; without the flag the filter is kept.\n",
      .flags = {{"group", FlagKind::kValue},
                {"max", FlagKind::kValue},
                {"wait-ms", FlagKind::kValue},
                {"no-ack", FlagKind::kBool},
                {"invisible-ms", FlagKind::kValue},
                {"json", FlagKind::kBool},
                {"nack", FlagKind::kBool},
                {"reason", FlagKind::kValue},
                {"tag-filter", FlagKind::kValue}},
      .run = Consume,
  });
}

}  // namespace halfmq::cli
