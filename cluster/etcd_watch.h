// A watch on a key prefix: etcd's streaming /v3/watch on a connection and a
// thread of its own, delivering every change at or after a start revision.
//
// Lifecycle: EtcdClient::Watch (or EtcdWatch::Start) returns once etcd has
// confirmed the watch ("created"), so every change after that point is
// delivered. The callback then runs on the watch's own thread, one
// WatchResponse at a time, in revision order. The stream ends when etcd
// cancels it (e.g. the start revision was compacted away), the connection
// fails or etcd sends something unreadable: the callback then gets one last
// WatchResponse whose status is not OK, and nothing after it. Destroying the
// EtcdWatch stops it (closes the connection, waits for a callback in
// progress, joins the thread) without such a final call; never destroy it
// from inside its own callback (checked).
//
// Limits: a watch does not reconnect by itself (the owner starts a new one
// from the last revision it saw + 1); a silent network partition is only
// noticed when TCP gives up, so owners also renew a lease (whose failure
// they do notice within the TTL).
//
// Thread-safety: the object is owned by one thread; the callback runs on
// the watch thread.
#ifndef HALFMQ_CLUSTER_ETCD_WATCH_H_
#define HALFMQ_CLUSTER_ETCD_WATCH_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cluster/etcd_client.h"
#include "common/asio.h"
#include "common/host_port.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace halfmq::cluster {

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  // The key after the change; for kDelete only key and mod_revision (the
  // deletion's revision) are set.
  KeyValue kv;
};

struct WatchResponse {
  // OK for events; the stream's end otherwise: FAILED_PRECONDITION when etcd
  // canceled the watch (e.g. "required revision has been compacted"),
  // UNAVAILABLE when the connection failed, INTERNAL for unreadable data.
  Status status;
  int64_t revision = 0;  // etcd's store revision when it sent this
  std::vector<WatchEvent> events;
  int64_t compact_revision = 0;  // set when canceled for compaction
};

class EtcdWatch {
 public:
  using Callback = std::function<void(const WatchResponse&)>;

  // Watches keys starting with `prefix` from `start_revision` (0: from now),
  // trying `endpoints` in order from `first` until one confirms the watch by
  // `deadline`.
  // Errors: UNAVAILABLE (no endpoint confirmed it in time), etcd's errors.
  static Result<std::unique_ptr<EtcdWatch>> Start(std::vector<HostPort> endpoints, size_t first,
                                                  std::string prefix, int64_t start_revision,
                                                  Callback callback,
                                                  std::chrono::steady_clock::time_point deadline);
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  // etcd's revision when it confirmed the watch.
  int64_t created_revision() const { return created_revision_; }

 private:
  EtcdWatch(std::vector<HostPort> endpoints, size_t first, std::string prefix,
            int64_t start_revision, Callback callback);

  // The watch thread's coroutine: Session on each endpoint until one
  // confirms the watch, then the final callback.
  asio::awaitable<void> Run();
  // Connects to one endpoint, creates the watch and reads its stream to the
  // end; returns why it ended.
  asio::awaitable<Status> Session(const HostPort& endpoint);
  // Handles the complete lines in `pending` and keeps the incomplete rest.
  Status DrainLines(std::string* pending);
  // One message of the stream. A non-OK status ends the stream.
  Status HandleLine(std::string_view line);
  // Hands Start its result; false if Start already gave up waiting.
  bool FinishStart(Status status, int64_t revision);

  const std::vector<HostPort> endpoints_;
  const size_t first_;
  const std::string prefix_;
  const int64_t start_revision_;
  const Callback callback_;

  asio::io_context io_;
  asio::ip::tcp::resolver resolver_{io_};
  asio::ip::tcp::socket socket_{io_};
  std::thread thread_;
  int64_t created_revision_ = 0;  // written before Start returns
  // Only on the watch thread:
  bool stopping_ = false;
  bool created_ = false;
  int64_t compact_revision_ = 0;

  Mutex mu_;
  CondVar start_cv_;
  bool start_done_ GUARDED_BY(mu_) = false;
  Status start_status_ GUARDED_BY(mu_);
};

}  // namespace halfmq::cluster

#endif  // HALFMQ_CLUSTER_ETCD_WATCH_H_
