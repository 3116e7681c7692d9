#include "proto/frame_reader.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "proto/framing.h"

namespace halfmq::proto {

namespace {
// A large frame's buffer is kept for the next one up to this size.
constexpr size_t kKeepLargeBytes = 1 << 20;
}  // namespace

FrameReader::FrameReader(size_t max_frame_bytes, size_t chunk_bytes)
    : max_frame_bytes_(max_frame_bytes), chunk_bytes_(std::max<size_t>(chunk_bytes, 1)) {}

size_t FrameReader::large_target() const {
  if (!large_mode_) return 0;
  size_t remaining = length_ - large_have_;
  if (large_.size() > large_have_) return large_.size();  // space left from the last step
  size_t step = std::min(remaining, std::max(chunk_bytes_, large_have_));
  return large_have_ + step;
}

FrameReader::Space FrameReader::PrepareRead() {
  if (large_returned_) {
    large_returned_ = false;
    if (large_.capacity() > kKeepLargeBytes) {
      std::string().swap(large_);
    } else {
      large_.clear();
    }
  }
  if (large_mode_) {
    size_t target = large_target();
    if (large_.size() < target) large_.resize(target);
    reading_large_ = true;
    return Space{large_.data() + large_have_, large_.size() - large_have_};
  }
  reading_large_ = false;
  in_.Reserve(chunk_bytes_);
  return Space{in_.write_ptr(), std::min(in_.writable(), chunk_bytes_)};
}

void FrameReader::CommitRead(size_t n) {
  if (reading_large_) {
    assert(large_have_ + n <= large_.size());
    large_have_ += n;
  } else {
    assert(n <= in_.writable());
    in_.Commit(n);
  }
}

FrameReader::Result FrameReader::Next(std::string_view* body) {
  if (!have_header_) {
    if (in_.size() < kFrameHeaderBytes) return Result::kNeedMore;
    length_ = DecodeFrameLength(reinterpret_cast<const uint8_t*>(in_.data()));
    if (length_ > max_frame_bytes_) return Result::kTooLarge;
    in_.Consume(kFrameHeaderBytes);
    have_header_ = true;
    if (length_ > chunk_bytes_) {
      // Only this frame's bytes move to its own buffer; what follows them
      // belongs to the next frames.
      large_mode_ = true;
      large_returned_ = false;
      large_have_ = std::min<size_t>(in_.size(), length_);
      large_.assign(in_.data(), large_have_);
      in_.Consume(large_have_);
    }
  }
  if (large_mode_) {
    if (large_have_ < length_) return Result::kNeedMore;
    large_.resize(length_);
    large_mode_ = false;
    large_returned_ = true;
    reading_large_ = false;
    have_header_ = false;
    *body = std::string_view(large_.data(), length_);
    return Result::kFrame;
  }
  if (in_.size() < length_) return Result::kNeedMore;
  *body = std::string_view(in_.data(), length_);
  in_.Consume(length_);
  have_header_ = false;
  return Result::kFrame;
}

void FrameReader::Release() {
  assert(empty());
  in_.Release();
  std::string().swap(large_);
  large_returned_ = false;
}

}  // namespace halfmq::proto
