// One HTTP/1.1 POST to one etcd endpoint, blocking until the answer or a
// deadline: the transport under EtcdClient (cluster/etcd_client.h).
//
// Each Post opens a new connection and closes it after the answer
// ("Connection: close"), so no call ever writes into a stale keep-alive
// connection. The deadline bounds resolving, connecting, writing and
// reading together.
//
// Owns an io_context that runs only inside Post, on the calling thread.
// Not thread-safe: EtcdClient serialises calls under its mutex.
#ifndef HALFMQ_CLUSTER_ETCD_HTTP_H_
#define HALFMQ_CLUSTER_ETCD_HTTP_H_

#include <chrono>
#include <string>
#include <string_view>

#include "common/asio.h"
#include "common/host_port.h"
#include "common/status.h"

namespace halfmq::cluster {

// Answers larger than this are refused (INTERNAL): a prefix read of the
// coordination keys is far smaller.
inline constexpr size_t kMaxEtcdAnswerBytes = 64 << 20;

struct HttpOutcome {
  // OK when an HTTP answer arrived (whatever its status code); otherwise
  // UNAVAILABLE with what failed.
  Status status;
  // Whether a connection was established, so the request may have reached
  // etcd (a caller must not send it again elsewhere).
  bool connected = false;
  bool deadline_exceeded = false;
  unsigned http_status = 0;
  std::string body;
};

class EtcdHttp {
 public:
  EtcdHttp() = default;
  EtcdHttp(const EtcdHttp&) = delete;
  EtcdHttp& operator=(const EtcdHttp&) = delete;

  // POSTs `body` (JSON) to http://endpoint`path`.
  HttpOutcome Post(const HostPort& endpoint, std::string_view path, const std::string& body,
                   std::chrono::steady_clock::time_point deadline);

 private:
  asio::io_context io_;
};

}  // namespace halfmq::cluster

#endif  // HALFMQ_CLUSTER_ETCD_HTTP_H_
