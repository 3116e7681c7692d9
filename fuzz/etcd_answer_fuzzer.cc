// Feeds arbitrary bytes to the parsers of what etcd sends back (the JSON
// gateway's answers, base64 keys and values, the group records HalfMQ keeps
// in etcd): any input is either parsed or refused with a Status, and
// nothing crashes, leaks, reads out of bounds or recurses without bound
// (the JSON reader's depth limit). Base64 that decodes must encode back to
// text that decodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cluster/etcd_json.h"
#include "cluster/group_state.h"
#include "common/base64.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace halfmq;
  std::string body(reinterpret_cast<const char*>(data), size);
  for (unsigned status : {200u, 400u, 503u}) {
    auto answer = cluster::InterpretGatewayAnswer("127.0.0.1:1", status, body);
    if (!answer.ok()) continue;
    (void)cluster::HeaderRevision(*answer);
    (void)cluster::ParseKvs(*answer);
    (void)cluster::ErrorOf(*answer);
  }
  (void)cluster::DecodeGroupState("k", body);
  (void)cluster::DecodeBrokerRegistration("k", body);
  (void)cluster::DecodePrimaryRecord("k", body);
  auto decoded = Base64Decode(body);
  if (decoded.ok()) {
    auto again = Base64Decode(Base64Encode(*decoded));
    if (!again.ok() || *again != *decoded) abort();
  }
  return 0;
}
