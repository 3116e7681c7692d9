// Messages in the CLI: the output shapes of `send`, `consume`, `msg get`,
// `msg find` and `msg trace`, which scripts rely on, exposed so tests can
// check them without a broker. Pure functions, thread-safe.
#ifndef HALFMQ_CLIENT_CLI_MSG_H_
#define HALFMQ_CLIENT_CLI_MSG_H_

#include <string>
#include <string_view>
#include <vector>

#include "halfmq/admin.h"
#include "halfmq/message.h"

namespace halfmq::cli {

// One `send` line. JSON: {"message_id","topic","queue","offset"} for a
// message stored at once, {"message_id","topic","deliver_at_ms"} for a
// delayed one (it has no queue or offset yet), either with
// "deduplicated":true appended when the broker answered a repeated id.
// Text: `sent MESSAGE_ID TOPIC queue=Q offset=O` or
// `sent MESSAGE_ID TOPIC deliver_at=ISO-UTC`, then ` deduplicated` if so.
std::string FormatReceipt(const SendReceipt& r, bool json);

// One `consume` line: the raw body, or with `json`
//   {"message_id","topic","queue","offset","key","tag","body","attempt",
//    "keys","properties","receipt_handle","born_time_ms","store_time_ms",
//    "message_group"[,"dead_letter":{"original_topic","original_queue",
//    "original_offset","attempts","reason","dead_lettered_ms","group"}]}
std::string FormatReceivedMessage(const ReceivedMessage& m, bool json);

// One `msg get` / `msg find` result as JSON:
//   {"message_id","topic","queue","offset","key","keys","tag","properties",
//    "body","message_group","born_time_ms","store_time_ms"}
std::string FormatStoredMessageJson(const StoredMessage& m);

// The text form: `field: value` lines (empty fields left out), the body as
// a JSON string so that it stays on one line whatever it holds, and a blank
// line after the message.
std::string FormatStoredMessageText(const StoredMessage& m);

// One `msg trace --json` line: {"time_ms","kind","group","client","attempt",
// "detail"}, kind being TraceEvent::kind_name ("delivered", ...).
std::string FormatTraceEventJson(const TraceEvent& e);

// The `msg trace` table: TIME KIND GROUP CLIENT ATTEMPT DETAIL, "-" for an
// empty field.
std::string FormatTraceTable(const std::vector<TraceEvent>& events);

// `s` with control bytes replaced by spaces, or "-" if empty: for the last
// column of a table (reasons, details).
std::string OneLine(std::string_view s);

}  // namespace halfmq::cli

#endif  // HALFMQ_CLIENT_CLI_MSG_H_
