// `halfmq txn list|commit|rollback`, and `halfmq send --txn` (flag parsing
// and the run itself; cmd_send.cc builds the messages).
#include <algorithm>
#include <iostream>
#include <memory>
#include <thread>
#include <unordered_map>
#include <utility>

#include "client/cli/txn.h"
#include "common/json.h"
#include "common/mutex.h"

namespace halfmq::cli {
namespace {

// One SendHalf carries at most this many messages or (roughly) bytes of
// bodies, well under the frame limits of client and broker.
constexpr size_t kChunkMessages = 256;
constexpr size_t kChunkBodyBytes = 1 << 20;
// Transactions fetched per ListTransactions request.
constexpr uint32_t kListPage = 1000;

Result<TxnState> ParseOutcome(std::string_view flag, const std::string& value) {
  if (value == "commit") return TxnState::kCommit;
  if (value == "rollback") return TxnState::kRollback;
  if (value == "unknown") return TxnState::kUnknown;
  return Status::InvalidArgument(std::string(flag) + " must be commit, rollback or unknown, not '" +
                                 value + "'");
}

// stderr is written by the command's thread and by checker threads; lines go
// through this lock whole so they never interleave.
struct ErrLog {
  Mutex mu;
  std::ostream* err = nullptr;
};

Status WithContext(const Status& status, const std::string& context) {
  return Status(status.code(), context + ": " + status.message());
}

std::vector<std::vector<Message>> Chunks(const std::vector<Message>& messages) {
  std::vector<std::vector<Message>> chunks;
  size_t bytes = 0;
  for (const Message& m : messages) {
    if (chunks.empty() || chunks.back().size() >= kChunkMessages ||
        bytes + m.body().size() > kChunkBodyBytes) {
      chunks.emplace_back();
      bytes = 0;
    }
    chunks.back().push_back(m);
    bytes += m.body().size();
  }
  return chunks;
}

int TxnList(const ParsedArgs& args, Context& ctx) {
  TxnListState state = TxnListState::kAll;
  if (auto s = args.Value("state")) {
    if (*s == "pending") {
      state = TxnListState::kPending;
    } else if (*s == "unresolved") {
      state = TxnListState::kUnresolved;
    } else {
      return ctx.Usage("--state must be pending or unresolved, not '" + *s + "'");
    }
  }
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  std::vector<TransactionInfo> all;
  std::string after;
  for (;;) {
    auto page = (*admin)->ListTransactions(state, kListPage, after);
    if (!page.ok()) return ctx.Fail(page.status());
    // A page may end early (the broker bounds its bytes): stop only at an
    // empty one.
    if (page->empty()) break;
    for (TransactionInfo& t : *page) all.push_back(std::move(t));
    // The last id must move forward; anything else would loop forever.
    if (all.back().txn_id <= after) break;
    after = all.back().txn_id;
  }
  if (args.Has("json")) {
    for (const TransactionInfo& t : all) *ctx.out << FormatTransactionJson(t) << "\n";
  } else {
    *ctx.out << FormatTransactionTable(all);
  }
  return kExitOk;
}

int TxnEnd(const ParsedArgs& args, Context& ctx, TxnState outcome) {
  const std::string& txn_id = args.positionals()[0];
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  auto result = (*admin)->ResolveTransaction(txn_id, outcome);
  if (!result.ok()) return ctx.Fail(result.status());
  *ctx.out << (outcome == TxnState::kCommit ? "committed " : "rolled back ") << txn_id
           << (result->applied ? "" : " (already)") << "\n";
  return kExitOk;
}

}  // namespace

std::string_view TxnStateWord(TxnState state) {
  switch (state) {
    case TxnState::kCommit:
      return "commit";
    case TxnState::kRollback:
      return "rollback";
    case TxnState::kUnknown:
      break;
  }
  return "unknown";
}

std::string_view TxnListStateWord(TxnListState state) {
  switch (state) {
    case TxnListState::kPending:
      return "pending";
    case TxnListState::kUnresolved:
      return "unresolved";
    case TxnListState::kAll:
      break;
  }
  return "all";
}

Result<std::optional<TxnSendFlags>> ParseTxnSendFlags(const ParsedArgs& args) {
  std::optional<std::string> txn = args.Value("txn");
  if (!txn.has_value()) {
    for (const char* flag : {"producer-group", "check-answer", "serve-checks-ms"}) {
      if (args.Has(flag)) {
        return Status::InvalidArgument("--" + std::string(flag) + " needs --txn");
      }
    }
    return std::optional<TxnSendFlags>();
  }
  TxnSendFlags flags;
  auto end = ParseOutcome("--txn", *txn);
  if (!end.ok()) return end.status();
  flags.end = *end;
  if (auto group = args.Value("producer-group")) flags.producer_group = *group;
  if (auto answer = args.Value("check-answer")) {
    auto parsed = ParseOutcome("--check-answer", *answer);
    if (!parsed.ok()) return parsed.status();
    flags.check_answer = *parsed;
  }
  auto serve = args.Uint("serve-checks-ms", 0, 0, kMaxServeChecksMs);
  if (!serve.ok()) return serve.status();
  flags.serve_checks = std::chrono::milliseconds(*serve);
  return std::optional<TxnSendFlags>(std::move(flags));
}

int SendInTransaction(const TxnSendFlags& flags, const std::vector<Message>& messages, bool json,
                      Context& ctx) {
  auto log = std::make_shared<ErrLog>();
  log->err = ctx.err;
  auto fail = [&](const Status& status) {
    MutexLock lock(&log->mu);
    return ctx.Fail(status);
  };
  TransactionProducerOptions options;
  options.on_check_done = [log](const CheckRequest& check, TxnState verdict,
                                const Status& end_status) {
    std::string line = "halfmq: check txn=" + check.txn_id + " #" +
                       std::to_string(check.check_number) + " answered ";
    if (end_status.ok()) {
      line += TxnStateWord(verdict);
    } else {
      line += "unknown (" + std::string(TxnStateWord(verdict)) +
              " failed: " + end_status.ToString() + ")";
    }
    MutexLock lock(&log->mu);
    *log->err << line << std::endl;
  };
  TxnState answer = flags.check_answer;
  auto producer = TransactionProducer::Connect(
      ctx.options, flags.producer_group, [answer](const CheckRequest&) { return answer; },
      std::move(options));
  if (!producer.ok()) return fail(producer.status());

  if (!messages.empty()) {
    Transaction txn = (*producer)->Begin();
    std::vector<HalfReceipt> halves;
    for (const std::vector<Message>& chunk : Chunks(messages)) {
      auto sent = txn.SendBatch(chunk);
      if (!sent.ok()) {
        // The "local transaction" failed: abandon what was stored, unless the
        // caller asked to leave the transaction to the checks.
        if (flags.end != TxnState::kUnknown) txn.Rollback().IgnoreError();
        return fail(WithContext(sent.status(), "transaction " + txn.id()));
      }
      halves.insert(halves.end(), sent->begin(), sent->end());
    }
    std::string_view outcome = "pending";
    std::vector<SendReceipt> stored;
    if (flags.end == TxnState::kCommit) {
      auto committed = txn.Commit();
      if (!committed.ok()) {
        return fail(WithContext(committed.status(), "commit of transaction " + txn.id()));
      }
      stored = std::move(committed).value();
      outcome = "committed";
    } else if (flags.end == TxnState::kRollback) {
      Status rolled_back = txn.Rollback();
      if (!rolled_back.ok()) {
        return fail(WithContext(rolled_back, "rollback of transaction " + txn.id()));
      }
      outcome = "rolled_back";
    }
    std::unordered_map<std::string, const SendReceipt*> by_id;
    for (const SendReceipt& r : stored) by_id.emplace(r.message_id, &r);
    for (const HalfReceipt& half : halves) {
      auto it = by_id.find(half.message_id);
      *ctx.out << FormatTxnMessage(half, outcome, it == by_id.end() ? nullptr : it->second, json)
               << "\n";
    }
    // Scripts act on these lines (e.g. kill -9 the process) as soon as they
    // read them.
    ctx.out->flush();
  }
  if (flags.serve_checks.count() > 0) std::this_thread::sleep_for(flags.serve_checks);
  (*producer)->Stop();
  return kExitOk;
}

std::string FormatTxnMessage(const HalfReceipt& half, std::string_view outcome,
                             const SendReceipt* stored, bool json) {
  if (json) {
    JsonObject o;
    o.Str("txn_id", half.txn_id)
        .Str("message_id", half.message_id)
        .Str("outcome", outcome)
        .Str("topic", half.topic);
    if (stored != nullptr && stored->deliver_at_ms != 0) {
      o.Int("deliver_at_ms", stored->deliver_at_ms);
    } else if (stored != nullptr) {
      o.Uint("queue", stored->queue_id).Uint("offset", stored->offset);
    }
    return o.str();
  }
  std::string line = std::string(outcome) + " txn=" + half.txn_id + " " + half.message_id + " " +
                     half.topic;
  if (stored != nullptr && stored->deliver_at_ms != 0) {
    // Delayed from the commit: no queue and offset until it is due.
    line += " deliver_at=" + FormatTimeMs(stored->deliver_at_ms);
  } else if (stored != nullptr) {
    line += " queue=" + std::to_string(stored->queue_id) +
            " offset=" + std::to_string(stored->offset);
  }
  return line;
}

std::string FormatTransactionJson(const TransactionInfo& t) {
  return JsonObject()
      .Str("txn_id", t.txn_id)
      .Str("producer_group", t.producer_group)
      .Str("state", TxnListStateWord(t.state))
      .Uint("checks", t.checks)
      .Int("created_ms", t.created_ms)
      .Int("next_check_ms", t.next_check_ms)
      .StrArray("topics", t.topics)
      .Uint("message_count", t.message_count)
      .str();
}

std::string FormatTransactionTable(const std::vector<TransactionInfo>& transactions) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back(
      {"TXN_ID", "GROUP", "STATE", "CHECKS", "MESSAGES", "CREATED", "NEXT_CHECK", "TOPICS"});
  for (const TransactionInfo& t : transactions) {
    std::string topics;
    for (const std::string& topic : t.topics) topics += (topics.empty() ? "" : ",") + topic;
    rows.push_back({t.txn_id, t.producer_group, std::string(TxnListStateWord(t.state)),
                    std::to_string(t.checks), std::to_string(t.message_count),
                    FormatTimeMs(t.created_ms),
                    t.next_check_ms == 0 ? "-" : FormatTimeMs(t.next_check_ms), topics});
  }
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

void AddTxnCommands(std::vector<Command>* commands) {
  commands->push_back(Command{
      .words = {"txn", "list"},
      .positionals = {},
      .synopsis = "[--state pending|unresolved] [--json]",
      .summary = "list transactions the broker still holds (pending and unresolved)",
      .help = "  prints a table TXN_ID GROUP STATE CHECKS MESSAGES CREATED NEXT_CHECK TOPICS\n"
              "  (times UTC), or with --json one {\"txn_id\",\"producer_group\",\"state\",\n"
              "  \"checks\",\"created_ms\",\"next_check_ms\",\"topics\",\"message_count\"} per\n"
              "  transaction; state is \"pending\" or \"unresolved\" (out of checks: resolve it\n"
              "  with `txn commit` or `txn rollback`).\n",
      .flags = {{"state", FlagKind::kValue}, {"json", FlagKind::kBool}},
      .run = TxnList,
  });
  commands->push_back(Command{
      .words = {"txn", "commit"},
      .positionals = {"TXN_ID"},
      .synopsis = "",
      .summary = "commit a pending or unresolved transaction by hand",
      .help = "  prints `committed TXN_ID`, with \" (already)\" if it was committed before.\n"
              "  Fails (exit 1) if it was rolled back (FAILED_PRECONDITION) or is unknown\n"
              "  (NOT_FOUND).\n",
      .flags = {},
      .run = [](const ParsedArgs& args, Context& ctx) {
        return TxnEnd(args, ctx, TxnState::kCommit);
      },
  });
  commands->push_back(Command{
      .words = {"txn", "rollback"},
      .positionals = {"TXN_ID"},
      .synopsis = "",
      .summary = "roll back a pending or unresolved transaction by hand",
      .help = "  prints `rolled back TXN_ID`, with \" (already)\" if it was rolled back\n"
              "  before. Fails (exit 1) if it was committed (FAILED_PRECONDITION) or is\n"
              "  unknown (NOT_FOUND).\n",
      .flags = {},
      .run = [](const ParsedArgs& args, Context& ctx) {
        return TxnEnd(args, ctx, TxnState::kRollback);
      },
  });
}

}  // namespace halfmq::cli
