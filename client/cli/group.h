// `group set-retry` flag parsing and the output shapes of `group get` and
// `group set-retry`, exposed so tests can check them without a broker. Pure
// functions, thread-safe.
#ifndef HALFMQ_CLIENT_CLI_GROUP_H_
#define HALFMQ_CLIENT_CLI_GROUP_H_

#include <string>

#include "common/args.h"
#include "common/status.h"
#include "halfmq/admin.h"

namespace halfmq::cli {

// The policy `group set-retry` sets, from its flags:
//   --initial-ms MS --multiplier X --max-ms MS  exponential (all three)
//   --delays-ms a,b,c                           fixed delays
//   --no-jitter                                 exponential without jitter
//   --max-attempts N                            1..kMaxRetryAttempts
// Without schedule flags, the broker's default schedule; without
// --max-attempts, the default attempts (set-retry replaces the whole
// policy). Errors (INVALID_ARGUMENT, usage errors): only some of the
// exponential flags, both schedules, --no-jitter without the exponential
// flags, a malformed number or list, or a policy out of bounds.
Result<RetryPolicy> ParseRetryPolicyFlags(const ParsedArgs& args);

// One line:
//   {"group","dead_letter_topic","schedule":"exponential","initial_ms",
//    "multiplier","max_ms","jitter","max_attempts"}
// with "schedule":"fixed","delays_ms":[...] or "schedule":"default"
// instead of the exponential fields; max_attempts 0 means the default.
std::string FormatGroupConfigJson(const GroupConfig& config);

// `name: value` lines: group, dead_letter_topic, retry (`exponential
// initial_ms=I multiplier=X max_ms=M jitter=on|off`, `fixed delays_ms=a,b,c`
// or `default`), max_attempts (a number or `default`).
std::string FormatGroupConfigText(const GroupConfig& config);

}  // namespace halfmq::cli

#endif  // HALFMQ_CLIENT_CLI_GROUP_H_
