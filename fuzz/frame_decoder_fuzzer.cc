// Decodes a byte stream as frames (proto::FrameDecoder, the framing every
// peer shares), parses each into a v1::Frame and serializes it again: any
// input either yields frames that survive a round trip or is refused, and
// nothing crashes, leaks or reads out of bounds. Neither bytes nor sizes
// are compared: protobuf accepts non-minimal varints (a tag of three bytes
// where one does) and writes them shorter, which an earlier version of
// this target took for a bug (its crash input is in the corpus).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/framing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  halfmq::proto::FrameDecoder decoder(1 << 20);
  decoder.Feed(std::string_view(reinterpret_cast<const char*>(data), size));
  for (int i = 0; i < 1000; ++i) {
    halfmq::v1::Frame frame;
    halfmq::proto::FrameDecoder::Result r = decoder.Next(&frame);
    if (r != halfmq::proto::FrameDecoder::Result::kFrame) break;
    std::string wire;
    if (!halfmq::proto::AppendFrame(frame, 2 << 20, &wire)) continue;  // grew past the limit
    halfmq::proto::FrameDecoder again(2 << 20);
    again.Feed(wire);
    halfmq::v1::Frame reparsed;
    if (again.Next(&reparsed) != halfmq::proto::FrameDecoder::Result::kFrame) abort();
    if (reparsed.body_case() != frame.body_case() || reparsed.request_id() != frame.request_id()) {
      abort();
    }
  }
  return 0;
}
