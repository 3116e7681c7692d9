// Options shared by every HalfMQ client object. Factories check them and
// return INVALID_ARGUMENT naming the bad field; tests may use timeouts and
// backoffs of a few milliseconds.
#ifndef HALFMQ_CLIENT_OPTIONS_H_
#define HALFMQ_CLIENT_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <string>

namespace halfmq {

struct ClientOptions {
  // "host:port" of the broker.
  std::string broker = "127.0.0.1:7480";
  // Shown in broker logs and message traces; defaults to "<hostname>-<pid>".
  // At most 128 bytes of UTF-8 without control bytes (the broker refuses
  // longer ones), else the client is not created (INVALID_ARGUMENT).
  std::string client_id;

  std::chrono::milliseconds connect_timeout{3000};
  // Deadline for one request/response exchange (long polls add their wait).
  // A timed-out request fails with UNAVAILABLE and is retried like one.
  std::chrono::milliseconds request_timeout{10000};

  // Reconnects back off exponentially with full jitter between these bounds.
  std::chrono::milliseconds reconnect_backoff_initial{50};
  std::chrono::milliseconds reconnect_backoff_max{5000};

  // Calls failing with a retryable status (UNAVAILABLE, RESOURCE_EXHAUSTED)
  // are retried up to this many times, with the same backoff. Other errors
  // are returned at once.
  int max_retries = 5;

  // Largest frame this client sends or accepts.
  size_t max_frame_bytes = 16 * 1024 * 1024;
  // Requests this client keeps outstanding on its connection; further calls
  // wait for a slot.
  size_t max_inflight_requests = 1024;
};

}  // namespace halfmq

#endif  // HALFMQ_CLIENT_OPTIONS_H_
