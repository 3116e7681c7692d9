// RFC 3339 timestamps for `send --deliver-at`. Pure functions, thread-safe.
#ifndef HALFMQ_CLIENT_CLI_RFC3339_H_
#define HALFMQ_CLIENT_CLI_RFC3339_H_

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace halfmq::cli {

// Parses an RFC 3339 date-time, "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"
// (the 'T' and 'Z' may be lowercase), to ms since the Unix epoch (UTC). A
// fraction finer than ms is truncated. The offset is required: a time without
// one would silently depend on the machine's zone. Leap seconds (":60") are
// not accepted. Errors: INVALID_ARGUMENT saying what is wrong.
Result<int64_t> ParseRfc3339Ms(std::string_view text);

}  // namespace halfmq::cli

#endif  // HALFMQ_CLIENT_CLI_RFC3339_H_
