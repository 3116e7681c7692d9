// `halfmq send`: one message from --body, or one per stdin line (--lines);
// with --txn, all of them as one transaction (client/cli/cmd_txn.cc).
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>

#include "client/cli/command.h"
#include "client/cli/json.h"
#include "client/cli/txn.h"
#include "common/mutex.h"
#include "halfmq/producer.h"

namespace halfmq::cli {
namespace {

// Sends in flight (sent, or finished but not yet printed) during --lines.
// Enough to keep a loopback broker's group commit busy; small enough that a
// slow first message does not buffer much.
constexpr size_t kLinesWindow = 256;

std::string FormatReceipt(const SendReceipt& r, bool json) {
  if (json) {
    return JsonObject()
        .Str("message_id", r.message_id)
        .Str("topic", r.topic)
        .Uint("queue", r.queue_id)
        .Uint("offset", r.offset)
        .str();
  }
  return "sent " + r.message_id + " " + r.topic + " queue=" + std::to_string(r.queue_id) +
         " offset=" + std::to_string(r.offset);
}

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

void AddSendCommands(std::vector<Command>* commands) {
  commands->push_back(Command{
      .words = {"send"},
      .positionals = {"TOPIC"},
      .synopsis = "[--key K]... [--tag T] [--property NAME=VALUE]... (--body TEXT | --lines) "
                  "[--json] [--txn commit|rollback|unknown [--producer-group PG] "
                  "[--check-answer commit|rollback|unknown] [--serve-checks-ms MS]]",
      .summary = "send one message (--body) or one per line of stdin (--lines), optionally "
                 "as one transaction",
      .help = "  prints `sent MESSAGE_ID TOPIC queue=Q offset=O` per message, or with --json\n"
              "  {\"message_id\",\"topic\",\"queue\",\"offset\"}; with --lines in input order.\n"
              "  --lines strips the newline only; every line, even an empty one, is a message.\n"
              "  On a failed line it reads no further, reports every failure on stderr as\n"
              "  `halfmq: line N: ...`, still prints lines that were stored, and exits 1.\n"
              "\n"
              "  --txn sends all the messages as ONE transaction of producer group\n"
              "  --producer-group (default halfmq-cli), then commits it, rolls it back, or\n"
              "  (unknown) leaves it pending for the broker to check back. Once the outcome\n"
              "  is known it prints, flushed, per message in input order\n"
              "  `OUTCOME txn=TXN_ID MESSAGE_ID TOPIC[ queue=Q offset=O]`, or with --json\n"
              "  {\"txn_id\",\"message_id\",\"outcome\",\"topic\"[,\"queue\",\"offset\"]},\n"
              "  OUTCOME being committed, rolled_back or pending (queue and offset for\n"
              "  committed messages). If a send fails it rolls back (unless --txn unknown)\n"
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
                {"serve-checks-ms", FlagKind::kValue}},
      .run = Send,
  });
}

}  // namespace halfmq::cli
