// Transactions in the CLI: `send --txn ...` (run by cmd_send.cc) and the
// output formats of `txn list`, exposed so tests can check flag handling and
// output shapes without a broker. Pure functions except SendInTransaction.
#ifndef HALFMQ_CLIENT_CLI_TXN_H_
#define HALFMQ_CLIENT_CLI_TXN_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/cli/command.h"
#include "common/status.h"
#include "halfmq/admin.h"
#include "halfmq/message.h"
#include "halfmq/transaction.h"

namespace halfmq::cli {

inline constexpr char kDefaultProducerGroup[] = "halfmq-cli";
inline constexpr uint64_t kMaxServeChecksMs = 24 * 3600 * 1000;

// The transaction flags of `send`.
struct TxnSendFlags {
  TxnState end = TxnState::kUnknown;  // --txn: commit, rollback, or leave pending
  std::string producer_group = kDefaultProducerGroup;
  TxnState check_answer = TxnState::kUnknown;
  std::chrono::milliseconds serve_checks{0};
};

// nullopt without --txn. Errors (INVALID_ARGUMENT, usage errors): a bad
// value, or --producer-group, --check-answer or --serve-checks-ms without
// --txn.
Result<std::optional<TxnSendFlags>> ParseTxnSendFlags(const ParsedArgs& args);

// Sends `messages` as one transaction, ends it as flags.end says, prints one
// line per message (flushed at once), then serves checks for
// flags.serve_checks. Returns the exit code.
int SendInTransaction(const TxnSendFlags& flags, const std::vector<Message>& messages, bool json,
                      Context& ctx);

// "commit", "rollback", "unknown".
std::string_view TxnStateWord(TxnState state);
// "pending", "unresolved" ("all" for the filter).
std::string_view TxnListStateWord(TxnListState state);

// One line of `send --txn` output for a message whose transaction ended as
// `outcome` ("committed", "rolled_back" or "pending"); `stored` is where a
// committed message landed, if the broker said. JSON:
//   {"txn_id","message_id","outcome","topic"[,"queue","offset"|,"deliver_at_ms"]}
// text: OUTCOME txn=TXN_ID MESSAGE_ID TOPIC[ queue=Q offset=O| deliver_at=TIME]
// (deliver_at for a delayed message, which gets its queue and offset when due).
std::string FormatTxnMessage(const HalfReceipt& half, std::string_view outcome,
                             const SendReceipt* stored, bool json);

// One `txn list --json` line:
//   {"txn_id","producer_group","state","checks","created_ms","next_check_ms",
//    "topics":[...],"message_count"}
std::string FormatTransactionJson(const TransactionInfo& t);

// The `txn list` table, header included.
std::string FormatTransactionTable(const std::vector<TransactionInfo>& transactions);

}  // namespace halfmq::cli

#endif  // HALFMQ_CLIENT_CLI_TXN_H_
