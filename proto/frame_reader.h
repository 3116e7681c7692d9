// FrameReader: splits a byte stream into length-prefixed frames, for a
// reader that fills it from a socket (PrepareRead / CommitRead) and takes
// whole frame bodies out (Next). No I/O; not thread-safe.
//
// Frames up to `chunk_bytes` are parsed in place from one read buffer, so a
// burst of small pipelined frames costs one read. A larger frame is
// collected in its own buffer, and PrepareRead never offers space past that
// frame's end: bytes of the frames after it stay in the read buffer. Its
// buffer grows as bytes arrive (at most doubling, never past the frame's
// length), not to the length its header claims, so memory follows what the
// peer actually sent; large_target() tells a caller that accounts for memory
// how large the next read may make it.
#ifndef HALFMQ_PROTO_FRAME_READER_H_
#define HALFMQ_PROTO_FRAME_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/read_buffer.h"

namespace halfmq::proto {

class FrameReader {
 public:
  enum class Result { kNeedMore, kFrame, kTooLarge };

  // `max_frame_bytes`: longest body accepted; `chunk_bytes` (> 0): most one
  // read takes, and the largest frame parsed in place.
  FrameReader(size_t max_frame_bytes, size_t chunk_bytes);

  // Where the next read may write: at least one byte, at most chunk_bytes.
  // Invalidates bodies returned by Next.
  struct Space {
    char* data;
    size_t size;
  };
  Space PrepareRead();
  // Records that `n` (<= the prepared size) bytes were written there.
  void CommitRead(size_t n);

  // kFrame: *body is the next frame's body, valid until the next
  // PrepareRead or Release. kTooLarge: a header claims more than
  // max_frame_bytes (claimed_length() says how much); the stream is
  // unusable. kNeedMore: read more first.
  Result Next(std::string_view* body);

  // Nothing buffered: no byte of a frame has arrived since the last one.
  bool empty() const { return !have_header_ && in_.size() == 0; }
  // The body length the last header read claimed (after kTooLarge: the
  // rejected length).
  uint32_t claimed_length() const { return length_; }
  // For a frame collected in its own buffer: the bytes that buffer will
  // hold after the next PrepareRead (0 for frames parsed in place).
  size_t large_target() const;
  // Frees every buffer; only when empty().
  void Release();

 private:
  const size_t max_frame_bytes_;
  const size_t chunk_bytes_;
  ReadBuffer in_;
  bool have_header_ = false;
  uint32_t length_ = 0;
  // The frame being collected in large_ (length_ > chunk_bytes_): bytes
  // received so far; large_.size() is the space allocated for it.
  bool large_mode_ = false;
  size_t large_have_ = 0;
  std::string large_;
  bool large_returned_ = false;  // large_ holds a body Next returned
  bool reading_large_ = false;   // the prepared space is in large_
};

}  // namespace halfmq::proto

#endif  // HALFMQ_PROTO_FRAME_READER_H_
