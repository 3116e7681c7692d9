// A deliberately simple blocking protocol client for tests: speaks frames
// directly so tests can send exactly the bytes they want (garbage, oversize
// frames) and check the broker's raw answers, independently of the client
// library.
#ifndef HALFMQ_TESTS_UTIL_RAW_CLIENT_H_
#define HALFMQ_TESTS_UTIL_RAW_CLIENT_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "proto/halfmq/v1/api.pb.h"

namespace halfmq::testing {

// The 4-byte header of a frame claiming `length` body bytes (for frames a
// test builds by hand: oversize, truncated, trickled).
std::string FrameHeader(uint32_t length);

class RawClient {
 public:
  // Connects to "127.0.0.1:port", from `source_ip` if given (any address
  // of 127.0.0.0/8: tests of per-address limits); check connected().
  explicit RawClient(const std::string& address, const std::string& source_ip = "");
  ~RawClient();
  bool connected() const { return fd_ >= 0; }

  bool SendBytes(const std::string& bytes);
  bool SendFrame(const v1::Frame& frame);
  // Reads the next frame (frames Call() skipped first); nullopt when the
  // connection closed or after timeout_ms (a safety net, not a
  // synchronisation device).
  std::optional<v1::Frame> ReadFrame(int timeout_ms = 30000);
  // Sends a request and reads frames until the response with its id; other
  // frames (broker requests, other responses) are kept for ReadFrame.
  std::optional<v1::Frame> Call(v1::Frame request, int timeout_ms = 30000);
  // Sends a request without waiting; returns its id.
  uint64_t Post(v1::Frame request);
  // Answers a broker-initiated request.
  bool Reply(const v1::Frame& request, v1::Frame response);
  // True once the peer has closed the connection (read returns EOF/reset).
  bool WaitForClose(int timeout_ms = 30000);

 private:
  bool ReadExact(char* p, size_t n, int timeout_ms);
  std::optional<v1::Frame> ReadFromSocket(int timeout_ms);
  int fd_ = -1;
  uint64_t next_id_ = 1;
  std::deque<v1::Frame> skipped_;
};

}  // namespace halfmq::testing

#endif  // HALFMQ_TESTS_UTIL_RAW_CLIENT_H_
