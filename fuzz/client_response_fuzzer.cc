// The client's handling of what a broker sends: the byte stream is split by
// the client's frame reader, each frame parsed, and every response body and
// broker-initiated request converted to the public client types the way the
// client library does (client/convert.h), including the checks that a
// response matches its request. Whatever a broker sends, the client
// returns a value or an error and never crashes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "client/convert.h"
#include "proto/frame_reader.h"
#include "proto/framing.h"

namespace {

using halfmq::v1::Frame;
namespace client = halfmq::client;

void Convert(const Frame& f) {
  (void)client::FromProto(f.status());
  switch (f.body_case()) {
    case Frame::kSendResponse:
    case Frame::kSendHalfResponse:
      for (size_t n : {size_t{0}, size_t{1}, size_t{3}}) (void)client::ReceiptsFromResponse(f, n);
      break;
    case Frame::kReceiveResponse:
      for (const auto& m : f.receive_response().messages()) (void)client::FromProto(m);
      break;
    case Frame::kAckResponse:
      (void)client::PerHandleStatuses(f.ack_response().results(),
                                      static_cast<size_t>(f.ack_response().results_size()));
      (void)client::PerHandleStatuses(f.ack_response().results(), 1);
      break;
    case Frame::kNackResponse:
      (void)client::PerHandleStatuses(f.nack_response().results(), 2);
      break;
    case Frame::kListTopicsResponse:
      for (const auto& t : f.list_topics_response().topics()) (void)client::FromProto(t);
      break;
    case Frame::kGetLagResponse:
      for (const auto& q : f.get_lag_response().queues()) (void)client::FromProto(q);
      break;
    case Frame::kEndTransactionResponse:
      (void)client::EndResultFromResponse(f, halfmq::TxnState::kCommit);
      (void)client::EndResultFromResponse(f, halfmq::TxnState::kRollback);
      break;
    case Frame::kCheckTransaction:
      (void)client::CheckRequestFromProto(f.check_transaction());
      break;
    case Frame::kListTransactionsResponse:
      for (const auto& t : f.list_transactions_response().transactions()) {
        (void)client::FromProto(t);
      }
      break;
    case Frame::kGetGroupConfigResponse:
      (void)client::FromProto(f.get_group_config_response().config());
      break;
    case Frame::kListDeadLettersResponse:
      for (const auto& d : f.list_dead_letters_response().dead_letters()) {
        (void)client::FromProto(d);
      }
      break;
    case Frame::kRedriveResponse:
      for (const auto& r : f.redrive_response().results()) (void)client::FromProto(r);
      break;
    case Frame::kGetMessageResponse:
      for (const auto& m : f.get_message_response().messages()) (void)client::FromProto(m);
      break;
    case Frame::kFindMessagesResponse:
      for (const auto& m : f.find_messages_response().messages()) (void)client::FromProto(m);
      break;
    case Frame::kTraceMessageResponse:
      for (const auto& e : f.trace_message_response().events()) (void)client::FromProto(e);
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The client's reader with a small chunk, so large-frame handling runs.
  halfmq::proto::FrameReader reader(1 << 20, 256);
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  size_t at = 0;
  for (int frames = 0; frames < 1000;) {
    std::string_view body;
    halfmq::proto::FrameReader::Result r = reader.Next(&body);
    if (r == halfmq::proto::FrameReader::Result::kTooLarge) break;
    if (r == halfmq::proto::FrameReader::Result::kNeedMore) {
      if (at == stream.size()) break;
      halfmq::proto::FrameReader::Space space = reader.PrepareRead();
      size_t n = std::min(space.size, stream.size() - at);
      std::memcpy(space.data, stream.data() + at, n);
      reader.CommitRead(n);
      at += n;
      continue;
    }
    ++frames;
    Frame frame;
    if (!halfmq::proto::ParseFrame(body, &frame)) break;  // the client closes the connection
    Convert(frame);
  }
  return 0;
}
