// `halfmq dlq list|redrive`: pacing of redrives and the output shapes,
// exposed so tests can check them without a broker. Pure functions,
// thread-safe.
#ifndef HALFMQ_CLIENT_CLI_DLQ_H_
#define HALFMQ_CLIENT_CLI_DLQ_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "halfmq/admin.h"

namespace halfmq::cli {

// Dead letters per Redrive request of `dlq redrive`.
inline constexpr uint32_t kRedriveBatch = 100;
// Upper bound of --rate (dead letters per second).
inline constexpr uint64_t kMaxRedriveRate = 1000000;

// Dead letters one request may carry at `rate` per second (0: unlimited):
// min(kRedriveBatch, rate), so that one request never exceeds a second's
// budget.
uint32_t RedriveBatchSize(uint64_t rate);

// How long after a request of `count` dead letters started the next one may
// start, to stay at or below `rate` per second: count / rate seconds (0 for
// rate 0, unlimited).
std::chrono::nanoseconds RedriveInterval(size_t count, uint64_t rate);

// One `dlq list --json` line:
//   {"message_id","original_topic","original_queue","original_offset",
//    "attempts","reason","dead_lettered_ms","dead_letter_topic","queue",
//    "offset","redriven_ms","redriven_to"}
// (queue and offset in the dead-letter topic; redriven_ms 0 and redriven_to
// "" when not redriven).
std::string FormatDeadLetterJson(const DeadLetter& d);

// The `dlq list` table: MESSAGE_ID ORIGINAL_TOPIC QUEUE OFFSET ATTEMPTS
// DEAD_LETTERED [REDRIVEN REDRIVEN_TO] REASON; the REDRIVEN columns only
// `with_redriven` (--all). Times UTC, "-" for none; the reason is last and
// may contain spaces.
std::string FormatDeadLetterTable(const std::vector<DeadLetter>& dead_letters, bool with_redriven);

// One `dlq redrive` line. Text: `redriven ID -> TOPIC queue=Q offset=O`, or
// for a failure `halfmq: redrive of ID failed: CODE: message` (for stderr).
// JSON: {"message_id","status":"OK","topic","queue","offset"} or
// {"message_id","status":"CODE","error":"message"}.
std::string FormatRedriveResult(const RedriveResult& r, bool json);

}  // namespace halfmq::cli

#endif  // HALFMQ_CLIENT_CLI_DLQ_H_
