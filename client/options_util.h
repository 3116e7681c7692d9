// Validation and defaults for ClientOptions, shared by every client object.
// Pure functions, thread-safe.
#ifndef HALFMQ_CLIENT_OPTIONS_UTIL_H_
#define HALFMQ_CLIENT_OPTIONS_UTIL_H_

#include <string>
#include <string_view>

#include "common/host_port.h"
#include "common/status.h"
#include "halfmq/options.h"

namespace halfmq::client {

// Parses "host:port", "[v6-literal]:port" (common/host_port.h; port 0 is
// refused). Errors: INVALID_ARGUMENT "broker address '<text>' <why> (want
// HOST:PORT)".
Result<HostPort> ParseBrokerAddress(std::string_view address);

// Checks every field and returns a copy with defaults filled in (client_id
// becomes "<hostname>-<pid>" when empty). Errors: INVALID_ARGUMENT naming the
// field.
Result<ClientOptions> ResolveClientOptions(const ClientOptions& options);

// "<hostname>-<pid>".
std::string DefaultClientId();

}  // namespace halfmq::client

#endif  // HALFMQ_CLIENT_OPTIONS_UTIL_H_
