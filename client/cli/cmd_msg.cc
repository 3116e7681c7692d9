// `halfmq msg get|find|trace`: message lookup by id and by key, and a
// message's trace.
#include <iostream>

#include "client/cli/command.h"
#include "client/cli/msg.h"
#include "common/json.h"
#include "halfmq/admin.h"

namespace halfmq::cli {
namespace {

constexpr uint64_t kDefaultFindLimit = 100;
constexpr uint64_t kMaxFindLimit = 1000;

int PrintMessages(const std::vector<StoredMessage>& messages, bool json, Context& ctx) {
  for (const StoredMessage& m : messages) {
    *ctx.out << (json ? FormatStoredMessageJson(m) + "\n" : FormatStoredMessageText(m));
  }
  return kExitOk;
}

int MsgGet(const ParsedArgs& args, Context& ctx) {
  const std::string& id = args.positionals()[0];
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  auto messages = (*admin)->GetMessage(id, args.Value("topic").value_or(""));
  if (!messages.ok()) return ctx.Fail(messages.status());
  if (messages->empty()) return ctx.Fail(Status::NotFound("message " + id + " not found"));
  return PrintMessages(*messages, args.Has("json"), ctx);
}

int MsgFind(const ParsedArgs& args, Context& ctx) {
  std::optional<std::string> topic = args.Value("topic");
  if (!topic.has_value()) return ctx.Usage("missing --topic");
  std::optional<std::string> key = args.Value("key");
  if (!key.has_value()) return ctx.Usage("missing --key");
  auto limit = args.Uint("limit", kDefaultFindLimit, 1, kMaxFindLimit);
  if (!limit.ok()) return ctx.Usage(limit.status().message());
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  auto messages = (*admin)->FindMessages(*topic, *key, static_cast<uint32_t>(*limit));
  if (!messages.ok()) return ctx.Fail(messages.status());
  return PrintMessages(*messages, args.Has("json"), ctx);
}

int MsgTrace(const ParsedArgs& args, Context& ctx) {
  const std::string& id = args.positionals()[0];
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  auto events = (*admin)->TraceMessage(id);
  if (!events.ok()) return ctx.Fail(events.status());
  if (events->empty()) return ctx.Fail(Status::NotFound("no trace of message " + id));
  if (args.Has("json")) {
    for (const TraceEvent& e : *events) *ctx.out << FormatTraceEventJson(e) << "\n";
  } else {
    *ctx.out << FormatTraceTable(*events);
  }
  return kExitOk;
}

}  // namespace

std::string OneLine(std::string_view s) {
  if (s.empty()) return "-";
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::string FormatStoredMessageJson(const StoredMessage& m) {
  return JsonObject()
      .Str("message_id", m.message_id)
      .Str("topic", m.topic)
      .Uint("queue", m.queue_id)
      .Uint("offset", m.offset)
      .Str("key", m.keys.empty() ? std::string() : m.keys.front())
      .StrArray("keys", m.keys)
      .Str("tag", m.tag)
      .StrMap("properties", m.properties)
      .Str("body", m.body)
      .Str("message_group", m.message_group)
      .Int("born_time_ms", m.born_time_ms)
      .Int("store_time_ms", m.store_time_ms)
      .str();
}

std::string FormatStoredMessageText(const StoredMessage& m) {
  auto quoted = [](std::string_view s) {
    std::string out;
    AppendJsonString(s, &out);
    return out;
  };
  std::string out = "message_id: " + m.message_id + "\n";
  out += "topic: " + m.topic + "\n";
  out += "queue: " + std::to_string(m.queue_id) + "\n";
  out += "offset: " + std::to_string(m.offset) + "\n";
  out += "stored: " + FormatTimeMs(m.store_time_ms) + "\n";
  if (m.born_time_ms != 0) out += "born: " + FormatTimeMs(m.born_time_ms) + "\n";
  for (const std::string& key : m.keys) out += "key: " + quoted(key) + "\n";
  if (!m.tag.empty()) out += "tag: " + quoted(m.tag) + "\n";
  if (!m.message_group.empty()) out += "message_group: " + quoted(m.message_group) + "\n";
  for (const auto& [name, value] : m.properties) {
    out += "property: " + quoted(name) + "=" + quoted(value) + "\n";
  }
  out += "body: " + quoted(m.body) + "\n\n";
  return out;
}

std::string FormatTraceEventJson(const TraceEvent& e) {
  return JsonObject()
      .Int("time_ms", e.time_ms)
      .Str("kind", e.kind_name)
      .Str("group", e.group)
      .Str("client", e.client)
      .Uint("attempt", e.attempt)
      .Str("detail", e.detail)
      .str();
}

std::string FormatTraceTable(const std::vector<TraceEvent>& events) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"TIME", "KIND", "GROUP", "CLIENT", "ATTEMPT", "DETAIL"});
  for (const TraceEvent& e : events) {
    rows.push_back({FormatTimeMs(e.time_ms), e.kind_name, OneLine(e.group), OneLine(e.client),
                    e.attempt == 0 ? "-" : std::to_string(e.attempt), OneLine(e.detail)});
  }
  return FormatTable(rows);
}

void AddMsgCommands(std::vector<Command>* commands) {
  commands->push_back(Command{
      .words = {"msg", "get"},
      .positionals = {"ID"},
      .synopsis = "[--topic T] [--json]",
      .summary = "show the stored message with this id (in every topic, or in T)",
      .help = "  prints `field: value` lines per message (message_id, topic, queue, offset,\n"
              "  stored, born, then key, tag, message_group, property as present; strings\n"
              "  JSON-quoted), the body as a JSON string and a blank line; or with --json\n"
              "  one {\"message_id\",\"topic\",\"queue\",\"offset\",\"key\",\"keys\",\"tag\",\n"
              "  \"properties\",\"body\",\"message_group\",\"born_time_ms\",\"store_time_ms\"}\n"
              "  per message (several if the id was used in several topics). A message\n"
              "  never sent, still delayed or removed by retention is NOT_FOUND (exit 1).\n",
      .flags = {{"topic", FlagKind::kValue}, {"json", FlagKind::kBool}},
      .run = MsgGet,
  });
  commands->push_back(Command{
      .words = {"msg", "find"},
      .positionals = {},
      .synopsis = "--topic T --key K [--limit N] [--json]",
      .summary = "show messages of topic T with key K, oldest first (at most N, default 100)",
      .help = "  prints as `msg get`; nothing (exit 0) when no message has the key.\n"
              "  --limit is 1..1000.\n",
      .flags = {{"topic", FlagKind::kValue},
                {"key", FlagKind::kValue},
                {"limit", FlagKind::kValue},
                {"json", FlagKind::kBool}},
      .run = MsgFind,
  });
  commands->push_back(Command{
      .words = {"msg", "trace"},
      .positionals = {"ID"},
      .synopsis = "[--json]",
      .summary = "show the life of a message: stored, delivered, nacked, acked, dead-lettered...",
      .help = "  prints a table TIME KIND GROUP CLIENT ATTEMPT DETAIL (UTC, oldest first),\n"
              "  or with --json one {\"time_ms\",\"kind\",\"group\",\"client\",\"attempt\",\n"
              "  \"detail\"} per event. kind is one of stored, half_stored, committed,\n"
              "  rolled_back, checked, delivered, nacked, acked, dead_lettered, redriven,\n"
              "  delayed, deduplicated, expired (kind_N for a kind this CLI does not know).\n"
              "  No recorded event (unknown id, or past the trace retention) is NOT_FOUND\n"
              "  (exit 1).\n",
      .flags = {{"json", FlagKind::kBool}},
      .run = MsgTrace,
  });
}

}  // namespace halfmq::cli
