// FakeBroker: a scripted stand-in for the broker in client unit tests. It
// listens on a loopback port, answers Hello by itself, and queues every other
// frame it receives so a test can inspect it and answer it (or not, or close
// the connection, or send garbage) in whatever order the test needs. Races
// are forced through this queue, never with sleeps.
//
// Thread-safe: all I/O runs on the fake's own io_context thread; the test
// thread calls the public methods.
#ifndef HALFMQ_CLIENT_FAKE_BROKER_H_
#define HALFMQ_CLIENT_FAKE_BROKER_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/asio.h"
#include "common/mutex.h"
#include "proto/halfmq/v1/api.pb.h"

namespace halfmq::client::testing {

class FakeBroker {
 public:
  struct Conn;
  struct Received {
    std::shared_ptr<Conn> conn;
    v1::Frame frame;
  };

  FakeBroker();
  ~FakeBroker();
  FakeBroker(const FakeBroker&) = delete;
  FakeBroker& operator=(const FakeBroker&) = delete;

  // "127.0.0.1:PORT".
  std::string address() const { return address_; }

  // The next non-Hello frame received, in arrival order; nullopt (and a test
  // failure) if none arrives within 10 s.
  std::optional<Received> Next();
  // Like Next, but waits only `timeout` and an empty result is no failure.
  std::optional<Received> NextFor(std::chrono::milliseconds timeout);

  // Answers `request` with `response` (request_id and type are filled in).
  void Reply(const Received& request, v1::Frame response);
  // Answers with an error status and no body.
  void ReplyError(const Received& request, v1::Status::Code code, const std::string& message);
  // Sends a frame as is (e.g. a broker-to-client REQUEST) on `conn`.
  void Send(const std::shared_ptr<Conn>& conn, const v1::Frame& frame);
  // Writes raw bytes on `conn` (for oversized or malformed frames).
  void SendRaw(const std::shared_ptr<Conn>& conn, std::string bytes);
  void Close(const std::shared_ptr<Conn>& conn);

  // Hello requests received so far, one per connection.
  std::vector<v1::HelloRequest> hellos();

 private:
  asio::awaitable<void> Accept();
  asio::awaitable<void> Read(std::shared_ptr<Conn> conn);
  void Write(const std::shared_ptr<Conn>& conn, std::string bytes);

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::string address_;
  std::thread thread_;

  Mutex mu_;
  CondVar cv_;
  std::deque<Received> received_ GUARDED_BY(mu_);
  std::vector<v1::HelloRequest> hellos_ GUARDED_BY(mu_);
};

}  // namespace halfmq::client::testing

#endif  // HALFMQ_CLIENT_FAKE_BROKER_H_
