#include "proto/framing.h"

namespace halfmq::proto {

uint32_t DecodeFrameLength(const uint8_t header[kFrameHeaderBytes]) {
  return (static_cast<uint32_t>(header[0]) << 24) | (static_cast<uint32_t>(header[1]) << 16) |
         (static_cast<uint32_t>(header[2]) << 8) | static_cast<uint32_t>(header[3]);
}

void EncodeFrameLength(uint32_t length, uint8_t header[kFrameHeaderBytes]) {
  header[0] = static_cast<uint8_t>(length >> 24);
  header[1] = static_cast<uint8_t>(length >> 16);
  header[2] = static_cast<uint8_t>(length >> 8);
  header[3] = static_cast<uint8_t>(length);
}

bool AppendFrame(const v1::Frame& frame, size_t max_frame_bytes, std::string* out) {
  size_t size = frame.ByteSizeLong();
  if (size > max_frame_bytes || size > UINT32_MAX) return false;
  size_t start = out->size();
  out->resize(start + kFrameHeaderBytes + size);
  auto* p = reinterpret_cast<uint8_t*>(out->data() + start);
  EncodeFrameLength(static_cast<uint32_t>(size), p);
  if (!frame.SerializeToArray(p + kFrameHeaderBytes, static_cast<int>(size))) {
    out->resize(start);
    return false;
  }
  return true;
}

bool ParseFrame(std::string_view body, v1::Frame* frame) {
  if (!frame->ParseFromArray(body.data(), static_cast<int>(body.size()))) return false;
  // An error response may have no body. A request whose body is a field this
  // version does not know (a newer client) still parses, so that the broker
  // can answer it with INVALID_ARGUMENT instead of closing the connection.
  return frame->body_case() != v1::Frame::BODY_NOT_SET || frame->type() == v1::RESPONSE ||
         !frame->GetReflection()->GetUnknownFields(*frame).empty();
}

FrameDecoder::Result FrameDecoder::Next(v1::Frame* frame) {
  if (buffer_.size() - pos_ < kFrameHeaderBytes) return Result::kNeedMore;
  uint32_t length = DecodeFrameLength(reinterpret_cast<const uint8_t*>(buffer_.data() + pos_));
  if (length > max_frame_bytes_) return Result::kTooLarge;
  if (buffer_.size() - pos_ - kFrameHeaderBytes < length) return Result::kNeedMore;
  std::string_view body(buffer_.data() + pos_ + kFrameHeaderBytes, length);
  pos_ += kFrameHeaderBytes + length;
  bool ok = ParseFrame(body, frame);
  if (pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = 0;
  } else if (pos_ > 64 * 1024 && pos_ * 2 > buffer_.size()) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  return ok ? Result::kFrame : Result::kMalformed;
}

}  // namespace halfmq::proto
