// The one parser of "HOST:PORT" addresses: the broker's --listen, the
// client's ClientOptions::broker (and so the CLI's --broker), halfmq-bench's
// broker address and the test clients all go through it, so they accept and
// refuse the same spellings.
//
// Pure functions, thread-safe.
#ifndef HALFMQ_COMMON_HOST_PORT_H_
#define HALFMQ_COMMON_HOST_PORT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace halfmq {

struct HostPort {
  // A host name or an IP literal; IPv6 literals without their brackets.
  std::string host;
  uint16_t port = 0;
};

// Whether port 0 is accepted: a listener may ask the system for a free port;
// a peer to connect to never has port 0.
enum class PortZero { kRefuse, kAllow };

// Parses "host:port" or "[ipv6-literal]:port". The host is not resolved or
// checked to be an IP literal here (callers that need a literal check it);
// it must be non-empty, without spaces or control characters, and an IPv6
// literal must be in brackets. The port is 1 to 5 decimal digits, at most
// 65535, and not 0 unless `zero` is kAllow.
// Errors: INVALID_ARGUMENT "address '<text>' <why> (want HOST:PORT)".
Result<HostPort> ParseHostPort(std::string_view text, PortZero zero = PortZero::kRefuse);

// "host:port", with brackets around an IPv6 literal: what ParseHostPort reads.
std::string FormatHostPort(const HostPort& address);

}  // namespace halfmq

#endif  // HALFMQ_COMMON_HOST_PORT_H_
