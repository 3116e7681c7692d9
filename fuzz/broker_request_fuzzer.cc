// Every request the broker serves, decoded from fuzz input and dispatched
// to one in-process broker (real storage in a temporary directory, no
// network): each request must be answered exactly once, with a typed status,
// and nothing may crash, leak or corrupt memory. Inputs are byte streams of
// frames on one connection that closes at the end (releasing what it held:
// producer group membership, check slots).
//
// The broker lives for the whole run; its data grows with the inputs
// (bounded by the run's length).
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <glog/logging.h>

#include "broker/broker.h"
#include "proto/framing.h"

namespace {

using halfmq::Result;
using halfmq::Status;
namespace broker = halfmq::broker;
namespace v1 = halfmq::v1;

// A connection that counts its answers and refuses broker-initiated
// requests (transaction checks), as a client that answers nothing would.
class FuzzConnection : public broker::Connection {
 public:
  explicit FuzzConnection(uint64_t id) : id_(id) {}
  void SendFrame(v1::Frame frame, bool answers_request) override {
    if (!answers_request) return;
    std::lock_guard<std::mutex> lock(mu_);
    ++answered_;
    cv_.notify_all();
  }
  void SendRequest(v1::Frame, std::function<void(Result<v1::Frame>)> done) override {
    done(Status::Unavailable("fuzz connection takes no checks"));
  }
  uint64_t id() const override { return id_; }
  const std::string& peer() const override { return peer_; }
  void SetClientId(const std::string& client_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    client_id_ = client_id;
  }
  std::string client_id() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return client_id_;
  }
  // Waits until `n` requests are answered; false after 20 s.
  bool AwaitAnswers(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return answered_ >= n; });
  }

 private:
  const uint64_t id_;
  const std::string peer_ = "fuzz";
  mutable std::mutex mu_;
  std::condition_variable cv_;
  size_t answered_ = 0;
  std::string client_id_;
};

broker::Broker* TheBroker() {
  static broker::Broker* b = [] {
    FLAGS_minloglevel = 2;  // errors only: rejected requests are the point
    char dir[] = "/tmp/halfmq-fuzz-XXXXXX";
    if (mkdtemp(dir) == nullptr) abort();
    broker::BrokerOptions o;
    o.store.path = std::string(dir) + "/data";
    o.store.flush = halfmq::storage::FlushMode::kAsync;
    o.listen = "127.0.0.1:0";
    o.io_threads = 1;
    o.read_threads = 1;
    o.max_frame_bytes = 1 << 20;
    o.max_message_bytes = 64 << 10;
    o.txn.check_delay_ms = 50;  // checks (refused) run during the fuzzing
    auto opened = broker::Broker::Open(o);
    if (!opened.ok()) {
      fprintf(stderr, "cannot open broker: %s\n", opened.status().ToString().c_str());
      abort();
    }
    broker::Broker* raw = opened->release();
    auto started = raw->Start();
    if (!started.ok()) abort();
    static std::string data_dir = dir;
    std::atexit([] {
      // Stops the broker's threads before the process's globals go away,
      // and removes its data.
      TheBroker()->Shutdown();
      delete TheBroker();
      std::filesystem::remove_all(data_dir);
    });
    return raw;
  }();
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static uint64_t next_connection = 1;
  broker::Broker* b = TheBroker();
  auto conn = std::make_shared<FuzzConnection>(next_connection++);
  halfmq::proto::FrameDecoder decoder(1 << 20);
  decoder.Feed(std::string_view(reinterpret_cast<const char*>(data), size));
  size_t dispatched = 0;
  for (int i = 0; i < 64; ++i) {
    v1::Frame frame;
    if (decoder.Next(&frame) != halfmq::proto::FrameDecoder::Result::kFrame) break;
    if (frame.type() == v1::RESPONSE) continue;  // answers to checks: none are asked
    // Long polls would only make the run slower.
    if (frame.has_receive()) frame.mutable_receive()->set_wait_ms(0);
    uint64_t request_id = frame.request_id();
    b->dispatcher().Dispatch(std::move(frame), broker::Responder(conn, request_id, {}), conn);
    ++dispatched;
  }
  if (!conn->AwaitAnswers(dispatched)) {
    fprintf(stderr, "a request was not answered within 20 s\n");
    abort();
  }
  b->ConnectionClosed(conn->id());
  return 0;
}
