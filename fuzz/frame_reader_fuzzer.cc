// Feeds a byte stream to proto::FrameReader in pieces whose sizes come from
// the input too, and checks every frame against a straightforward
// reference split of the same stream: same bodies, in order, and the same
// verdict on a frame over the limit. The reader's small chunk and limit
// make most frames "large" (collected in their own buffer), where the old
// reader overflowed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "proto/frame_reader.h"
#include "proto/framing.h"

namespace {

constexpr size_t kChunk = 64;
constexpr size_t kMaxFrame = 4096;

// The reference: frames of `stream`, and whether it ends in a frame over
// the limit.
std::vector<std::string> Split(std::string_view stream, bool* too_large) {
  std::vector<std::string> out;
  *too_large = false;
  size_t at = 0;
  while (stream.size() - at >= halfmq::proto::kFrameHeaderBytes) {
    uint32_t length = halfmq::proto::DecodeFrameLength(
        reinterpret_cast<const uint8_t*>(stream.data() + at));
    if (length > kMaxFrame) {
      *too_large = true;
      break;
    }
    if (stream.size() - at - halfmq::proto::kFrameHeaderBytes < length) break;
    out.emplace_back(stream.substr(at + halfmq::proto::kFrameHeaderBytes, length));
    at += halfmq::proto::kFrameHeaderBytes + length;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first bytes choose piece sizes (1..256, cycling); the rest is the
  // stream.
  size_t npieces = size > 0 ? data[0] % 16 + 1 : 1;
  if (size < 1 + npieces) return 0;
  const uint8_t* pieces = data + 1;
  std::string_view stream(reinterpret_cast<const char*>(data + 1 + npieces), size - 1 - npieces);

  bool ref_too_large = false;
  std::vector<std::string> expected = Split(stream, &ref_too_large);

  halfmq::proto::FrameReader reader(kMaxFrame, kChunk);
  std::vector<std::string> got;
  bool too_large = false;
  size_t at = 0;
  for (size_t step = 0;; ++step) {
    std::string_view body;
    halfmq::proto::FrameReader::Result r = reader.Next(&body);
    if (r == halfmq::proto::FrameReader::Result::kFrame) {
      got.emplace_back(body);
      continue;
    }
    if (r == halfmq::proto::FrameReader::Result::kTooLarge) {
      too_large = true;
      break;
    }
    if (at == stream.size()) break;
    size_t target = reader.large_target();
    if (target > reader.claimed_length() && target > 0) abort();
    halfmq::proto::FrameReader::Space space = reader.PrepareRead();
    if (space.size == 0 || space.size > (target > kChunk ? target : kChunk)) abort();
    size_t n = pieces[step % npieces] + 1;
    if (n > space.size) n = space.size;
    if (n > stream.size() - at) n = stream.size() - at;
    std::memcpy(space.data, stream.data() + at, n);
    reader.CommitRead(n);
    at += n;
  }
  if (got != expected || too_large != ref_too_large) abort();
  if (reader.empty()) reader.Release();
  return 0;
}
