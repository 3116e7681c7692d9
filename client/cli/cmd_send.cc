// `halfmq send`: one message from --body, or one per stdin line (--lines);
// with --txn, all of them as one transaction (client/cli/cmd_txn.cc).
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>

#include "client/cli/command.h"
#include "client/cli/msg.h"
#include "client/cli/rfc3339.h"
#include "client/cli/txn.h"
#include "common/json.h"
#include "common/mutex.h"
#include "halfmq/producer.h"

namespace halfmq::cli {
namespace {

// Sends in flight (sent, or finished but not yet printed) during --lines.
// Enough to keep a loopback broker's group commit busy; small enough that a
// slow first message does not buffer much.
constexpr size_t kLinesWindow = 256;

// Completed sends by line index, filled by client callbacks and printed in
// line order by the command's thread.
struct LinesState {
  Mutex mu;
  CondVar cv;
  std::map<size_t, Result<SendReceipt>> done GUARDED_BY(mu);
};

int SendLines(Producer& producer, const Message& base, bool json, Context& ctx) {
  const size_t window = std::min(kLinesWindow, ctx.options.max_inflight_requests);
  auto state = std::make_shared<LinesState>();
  size_t next_index = 0;  // of the next line read
  size_t next_print = 0;  // of the next result to print
  bool failed = false;

  // Prints finished results in line order, first waiting until at most
  // `max_unprinted` lines are sent but not printed. After a failure it keeps
  // printing (later lines may have been stored already and a script must
  // learn about them) but the caller reads no more lines.
  auto print_ready = [&](size_t max_unprinted) {
    std::vector<std::pair<size_t, Result<SendReceipt>>> ready;
    {
      MutexLock lock(&state->mu);
      for (;;) {
        while (!state->done.empty() && state->done.begin()->first == next_print) {
          ready.emplace_back(next_print, std::move(state->done.begin()->second));
          state->done.erase(state->done.begin());
          ++next_print;
        }
        if (next_index - next_print <= max_unprinted) break;
        state->cv.Wait(&state->mu);
      }
    }
    for (auto& [index, result] : ready) {
      if (result.ok()) {
        *ctx.out << FormatReceipt(*result, json) << "\n";
      } else {
        failed = true;
        *ctx.err << "halfmq: line " << index + 1 << ": " << result.status().ToString() << "\n";
      }
    }
  };

  std::string line;
  while (!failed) {
    print_ready(window - 1);
    if (failed || !std::getline(*ctx.in, line)) break;
    Message message = base;
    message.Body(line);
    size_t index = next_index++;
    producer.SendAsync(message, [state, index](Result<SendReceipt> result) {
      MutexLock lock(&state->mu);
      state->done.emplace(index, std::move(result));
      state->cv.Signal();
    });
  }
  print_ready(0);
  ctx.out->flush();
  if (ctx.in->bad()) return ctx.Fail(Status::Unavailable("reading stdin failed"));
  return failed ? kExitError : kExitOk;
}

int Send(const ParsedArgs& args, Context& ctx) {
  bool lines = args.Has("lines");
  std::optional<std::string> body = args.Value("body");
  if (lines == body.has_value()) return ctx.Usage("give exactly one of --body and --lines");
  Message base(args.positionals()[0]);
  for (const std::string& key : args.Values("key")) base.Key(key);
  if (auto tag = args.Value("tag")) base.Tag(*tag);
  for (const std::string& p : args.Values("property")) {
    auto property = ParseProperty(p);
    if (!property.ok()) return ctx.Usage(property.status().message());
    base.Property(property->first, property->second);
  }
  if (auto id = args.Value("message-id")) {
    // One id is one message: every --lines line after the first would be
    // answered as a duplicate of the first.
    if (lines) return ctx.Usage("--message-id needs --body (it names one message)");
    base.Id(*id);
  }
  if (args.Has("delay-ms") && args.Has("deliver-at")) {
    return ctx.Usage("give at most one of --delay-ms and --deliver-at");
  }
  if (args.Has("delay-ms")) {
    auto delay = args.Uint("delay-ms", 0, 0, UINT32_MAX);
    if (!delay.ok()) return ctx.Usage(delay.status().message());
    base.Delay(std::chrono::milliseconds(*delay));
  }
  if (auto at = args.Value("deliver-at")) {
    auto ms = ParseRfc3339Ms(*at);
    if (!ms.ok()) return ctx.Usage("--deliver-at: " + ms.status().message());
    if (*ms <= 0) return ctx.Usage("--deliver-at must be after 1970-01-01T00:00:00Z");
    base.DeliverAt(*ms);
  }
  if (auto group = args.Value("message-group")) base.MessageGroup(*group);
  bool json = args.Has("json");
  auto txn_flags = ParseTxnSendFlags(args);
  if (!txn_flags.ok()) return ctx.Usage(txn_flags.status().message());
  if (txn_flags->has_value()) {
    std::vector<Message> messages;
    if (lines) {
      std::string line;
      while (std::getline(*ctx.in, line)) messages.push_back(Message(base).Body(line));
      if (ctx.in->bad()) return ctx.Fail(Status::Unavailable("reading stdin failed"));
    } else {
      messages.push_back(Message(base).Body(*body));
    }
    return SendInTransaction(**txn_flags, messages, json, ctx);
  }
  auto producer = Producer::Connect(ctx.options);
  if (!producer.ok()) return ctx.Fail(producer.status());
  if (lines) return SendLines(**producer, base, json, ctx);
  base.Body(*body);
  auto receipt = (*producer)->Send(base);
  if (!receipt.ok()) return ctx.Fail(receipt.status());
  *ctx.out << FormatReceipt(*receipt, json) << "\n";
  return kExitOk;
}

}  // namespace

std::string FormatReceipt(const SendReceipt& r, bool json) {
  if (json) {
    JsonObject o;
    o.Str("message_id", r.message_id).Str("topic", r.topic);
    if (r.deliver_at_ms != 0) {
      o.Int("deliver_at_ms", r.deliver_at_ms);
    } else {
      o.Uint("queue", r.queue_id).Uint("offset", r.offset);
    }
    if (r.deduplicated) o.Bool("deduplicated", true);
    return o.str();
  }
  std::string line = "sent " + r.message_id + " " + r.topic;
  if (r.deliver_at_ms != 0) {
    line += " deliver_at=" + FormatTimeMs(r.deliver_at_ms);
  } else {
    line += " queue=" + std::to_string(r.queue_id) + " offset=" + std::to_string(r.offset);
  }
  if (r.deduplicated) line += " deduplicated";
  return line;
}

void AddSendCommands(std::vector<Command>* commands) {
  commands->push_back(Command{
      .words = {"send"},
      .positionals = {"TOPIC"},
      .synopsis = "[--key K]... [--tag T] [--property NAME=VALUE]... (--body TEXT | --lines) "
                  "[--message-id ID] [--delay-ms MS | --deliver-at RFC3339] "
                  "[--message-group G] [--json] [--txn commit|rollback|unknown "
                  "[--producer-group PG] [--check-answer commit|rollback|unknown] "
                  "[--serve-checks-ms MS]]",
      .summary = "send one message (--body) or one per line of stdin (--lines), optionally "
                 "as one transaction",
      .help = "  prints `sent MESSAGE_ID TOPIC queue=Q offset=O` per message, or with --json\n"
              "  {\"message_id\",\"topic\",\"queue\",\"offset\"}; with --lines in input order.\n"
              "  A delayed message has no queue and offset yet: it prints\n"
              "  `sent MESSAGE_ID TOPIC deliver_at=TIME` (UTC), or with --json\n"
              "  {\"message_id\",\"topic\",\"deliver_at_ms\"}. When the broker already had\n"
              "  the message id (within its dedup window) it stores nothing and answers with\n"
              "  the original: ` deduplicated` is appended, or \"deduplicated\":true.\n"
              "  --lines strips the newline only; every line, even an empty one, is a message.\n"
              "  On a failed line it reads no further, reports every failure on stderr as\n"
              "  `halfmq: line N: ...`, still prints lines that were stored, and exits 1.\n"
              "\n"
              "  --message-id ID sets the id, the idempotency key: sending the same id again\n"
              "  within the dedup window (10 min by default) stores nothing. Only with --body.\n"
              "  --delay-ms MS delivers MS after the send (in a transaction: after the\n"
              "  commit); --deliver-at RFC3339 at that time by the broker's clock, e.g.\n"
              "  2026-11-27T10:00:00Z or 2026-11-27T11:00:00+01:00 (a zone is required).\n"
              "  --message-group G puts the message in FIFO group G (one queue; on a --fifo\n"
              "  topic delivered one at a time, in order, within the group).\n"
              "\n"
              "  --txn sends all the messages as ONE transaction of producer group\n"
              "  --producer-group (default halfmq-cli), then commits it, rolls it back, or\n"
              "  (unknown) leaves it pending for the broker to check back. Once the outcome\n"
              "  is known it prints, flushed, per message in input order\n"
              "  `OUTCOME txn=TXN_ID MESSAGE_ID TOPIC[ queue=Q offset=O]`, or with --json\n"
              "  {\"txn_id\",\"message_id\",\"outcome\",\"topic\"[,\"queue\",\"offset\"]},\n"
              "  OUTCOME being committed, rolled_back or pending (queue and offset for\n"
              "  committed messages; ` deliver_at=TIME` or \"deliver_at_ms\" instead for\n"
              "  delayed ones). If a send fails it rolls back (unless --txn unknown)\n"
              "  and exits 1. While it runs it answers the broker's checks of the group with\n"
              "  --check-answer (default unknown); --serve-checks-ms MS keeps it connected\n"
              "  that long after the send to do so. Each check is logged on stderr as\n"
              "  `halfmq: check txn=TXN_ID #N answered commit|rollback|unknown`. With\n"
              "  --lines and empty input it sends nothing and only serves checks.\n",
      .flags = {{"key", FlagKind::kRepeated},
                {"tag", FlagKind::kValue},
                {"property", FlagKind::kRepeated},
                {"body", FlagKind::kValue},
                {"lines", FlagKind::kBool},
                {"json", FlagKind::kBool},
                {"txn", FlagKind::kValue},
                {"producer-group", FlagKind::kValue},
                {"check-answer", FlagKind::kValue},
                {"serve-checks-ms", FlagKind::kValue},
                {"message-id", FlagKind::kValue},
                {"delay-ms", FlagKind::kValue},
                {"deliver-at", FlagKind::kValue},
                {"message-group", FlagKind::kValue}},
      .run = Send,
  });
}

}  // namespace halfmq::cli
