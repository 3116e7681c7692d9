// Length-prefixed framing of halfmq.v1.Frame: a big-endian u32 byte count
// followed by the serialized Frame. Shared by broker and client; pure
// functions, no I/O, thread-safe.
#ifndef HALFMQ_PROTO_FRAMING_H_
#define HALFMQ_PROTO_FRAMING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/halfmq/v1/api.pb.h"

namespace halfmq::proto {

inline constexpr size_t kFrameHeaderBytes = 4;

// Reads the body length from a 4-byte header.
uint32_t DecodeFrameLength(const uint8_t header[kFrameHeaderBytes]);

// Writes the 4-byte header for a body of `length` bytes.
void EncodeFrameLength(uint32_t length, uint8_t header[kFrameHeaderBytes]);

// Appends header + serialized frame to *out. Returns false if the frame does
// not serialize or is larger than max_frame_bytes (nothing is appended then).
bool AppendFrame(const v1::Frame& frame, size_t max_frame_bytes, std::string* out);

// Parses a frame body (without header). Returns false for bytes that are not
// a valid Frame, including a request with no body at all (a body this
// version does not know is accepted: it arrives as BODY_NOT_SET with unknown
// fields).
bool ParseFrame(std::string_view body, v1::Frame* frame);

// Incremental decoder for a byte stream (used by tests and by callers that
// read in arbitrary chunks). Not thread-safe.
class FrameDecoder {
 public:
  enum class Result { kNeedMore, kFrame, kTooLarge, kMalformed };

  explicit FrameDecoder(size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  // Adds bytes to the internal buffer.
  void Feed(std::string_view bytes) { buffer_.append(bytes); }

  // Extracts the next frame if a whole one is buffered. After kTooLarge or
  // kMalformed the stream is unusable and the connection must be closed.
  Result Next(v1::Frame* frame);

 private:
  size_t max_frame_bytes_;
  std::string buffer_;
  size_t pos_ = 0;
};

}  // namespace halfmq::proto

#endif  // HALFMQ_PROTO_FRAMING_H_
