#include "common/host_port.h"

namespace halfmq {

Result<HostPort> ParseHostPort(std::string_view text, PortZero zero) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("address '" + std::string(text) + "' " + std::string(why) +
                                   " (want HOST:PORT)");
  };
  HostPort out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed '['");
    out.host = std::string(text.substr(1, close - 1));
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad("has no port");
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("has no port");
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) return bad("needs [] around an IPv6 address");
    port = text.substr(colon + 1);
  }
  if (out.host.empty()) return bad("has no host");
  for (char c : out.host) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return bad("has a bad character in the host");
    }
  }
  // At most 5 digits, so the value cannot overflow before the range check.
  if (port.empty() || port.size() > 5) return bad("has a bad port");
  uint32_t value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return bad("has a bad port");
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535 || (value == 0 && zero == PortZero::kRefuse)) {
    return bad(zero == PortZero::kRefuse ? "has a port outside 1..65535"
                                         : "has a port outside 0..65535");
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

std::string FormatHostPort(const HostPort& address) {
  std::string port = std::to_string(address.port);
  if (address.host.find(':') != std::string::npos) return "[" + address.host + "]:" + port;
  return address.host + ":" + port;
}

}  // namespace halfmq
