#include "client/options_util.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "common/limits.h"
#include "common/utf8.h"

namespace halfmq::client {
namespace {

// A frame must at least carry a request with an empty message; anything much
// smaller than this is a misconfiguration, not a limit.
constexpr size_t kMinFrameBytes = 1024;
// The length prefix is a u32.
constexpr size_t kMaxFrameBytes = UINT32_MAX;
// Beyond this the inflight table is a memory problem rather than a queue.
constexpr size_t kMaxInflightRequests = 1 << 20;
constexpr int kMaxRetries = 100;

Status Positive(std::string_view name, std::chrono::milliseconds value) {
  if (value.count() > 0) return Status::Ok();
  return Status::InvalidArgument(std::string(name) + " must be positive");
}

}  // namespace

Result<HostPort> ParseBrokerAddress(std::string_view address) {
  auto parsed = ParseHostPort(address, PortZero::kRefuse);
  // The shared parser names "address '...'"; the client says whose.
  if (!parsed.ok()) return Status::InvalidArgument("broker " + parsed.status().message());
  return parsed;
}

std::string DefaultClientId() {
  char host[256] = {};
  std::string suffix = "-" + std::to_string(getpid());
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "unknown" + suffix;
  // Within the broker's limit, however long the host name.
  std::string id(host);
  id.resize(std::min(id.size(), kMaxClientIdBytes - suffix.size()));
  return id + suffix;
}

Result<ClientOptions> ResolveClientOptions(const ClientOptions& options) {
  ClientOptions out = options;
  auto address = ParseBrokerAddress(out.broker);
  if (!address.ok()) return address.status();
  if (out.client_id.empty()) out.client_id = DefaultClientId();
  HALFMQ_RETURN_IF_ERROR(ValidateClientId(out.client_id));
  if (!IsValidUtf8(out.client_id)) return Status::InvalidArgument("client_id is not valid UTF-8");
  HALFMQ_RETURN_IF_ERROR(Positive("connect_timeout", out.connect_timeout));
  HALFMQ_RETURN_IF_ERROR(Positive("request_timeout", out.request_timeout));
  HALFMQ_RETURN_IF_ERROR(Positive("reconnect_backoff_initial", out.reconnect_backoff_initial));
  HALFMQ_RETURN_IF_ERROR(Positive("reconnect_backoff_max", out.reconnect_backoff_max));
  if (out.reconnect_backoff_max < out.reconnect_backoff_initial) {
    return Status::InvalidArgument(
        "reconnect_backoff_max must not be less than reconnect_backoff_initial");
  }
  if (out.max_retries < 0 || out.max_retries > kMaxRetries) {
    return Status::InvalidArgument("max_retries must be in 0.." + std::to_string(kMaxRetries));
  }
  if (out.max_frame_bytes < kMinFrameBytes || out.max_frame_bytes > kMaxFrameBytes) {
    return Status::InvalidArgument("max_frame_bytes must be in " + std::to_string(kMinFrameBytes) +
                                   ".." + std::to_string(kMaxFrameBytes));
  }
  if (out.max_inflight_requests < 1 || out.max_inflight_requests > kMaxInflightRequests) {
    return Status::InvalidArgument("max_inflight_requests must be in 1.." +
                                   std::to_string(kMaxInflightRequests));
  }
  return out;
}

}  // namespace halfmq::client
