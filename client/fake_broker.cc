#include "client/fake_broker.h"

#include <gtest/gtest.h>

#include "proto/framing.h"

namespace halfmq::client::testing {

using tcp = asio::ip::tcp;

struct FakeBroker::Conn {
  explicit Conn(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
};

FakeBroker::FakeBroker() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  address_ = "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  asio::co_spawn(io_, Accept(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

FakeBroker::~FakeBroker() {
  io_.stop();
  thread_.join();
}

asio::awaitable<void> FakeBroker::Accept() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    asio::co_spawn(io_, Read(std::make_shared<Conn>(std::move(socket))), asio::detached);
  }
}

asio::awaitable<void> FakeBroker::Read(std::shared_ptr<Conn> conn) {
  for (;;) {
    boost::system::error_code ec;
    uint8_t header[proto::kFrameHeaderBytes];
    co_await asio::async_read(conn->socket, asio::buffer(header),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    std::string body(proto::DecodeFrameLength(header), '\0');
    co_await asio::async_read(conn->socket, asio::buffer(body),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    v1::Frame frame;
    if (!proto::ParseFrame(body, &frame)) {
      ADD_FAILURE() << "fake broker got a malformed frame";
      co_return;
    }
    if (frame.has_hello()) {
      {
        MutexLock lock(&mu_);
        hellos_.push_back(frame.hello());
      }
      v1::Frame response;
      response.set_request_id(frame.request_id());
      response.set_type(v1::RESPONSE);
      response.mutable_hello_response()->set_protocol_version(1);
      response.mutable_hello_response()->set_broker_version("fake");
      std::string bytes;
      proto::AppendFrame(response, SIZE_MAX, &bytes);
      Write(conn, std::move(bytes));
      continue;
    }
    MutexLock lock(&mu_);
    received_.push_back({conn, std::move(frame)});
    cv_.SignalAll();
  }
}

void FakeBroker::Write(const std::shared_ptr<Conn>& conn, std::string bytes) {
  // Small frames on loopback: a blocking write on the fake's thread is
  // simplest and keeps frames in order.
  boost::system::error_code ignored;
  asio::write(conn->socket, asio::buffer(bytes), ignored);
}

std::optional<FakeBroker::Received> FakeBroker::Next() {
  auto r = NextFor(std::chrono::seconds(10));
  if (!r.has_value()) ADD_FAILURE() << "fake broker received nothing within 10 s";
  return r;
}

std::optional<FakeBroker::Received> FakeBroker::NextFor(std::chrono::milliseconds timeout) {
  MutexLock lock(&mu_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (received_.empty()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    cv_.WaitFor(&mu_, deadline - now);
  }
  Received r = std::move(received_.front());
  received_.pop_front();
  return r;
}

void FakeBroker::Reply(const Received& request, v1::Frame response) {
  response.set_request_id(request.frame.request_id());
  response.set_type(v1::RESPONSE);
  Send(request.conn, response);
}

void FakeBroker::ReplyError(const Received& request, v1::Status::Code code,
                            const std::string& message) {
  v1::Frame response;
  response.mutable_status()->set_code(code);
  response.mutable_status()->set_message(message);
  Reply(request, std::move(response));
}

void FakeBroker::Send(const std::shared_ptr<Conn>& conn, const v1::Frame& frame) {
  std::string bytes;
  ASSERT_TRUE(proto::AppendFrame(frame, SIZE_MAX, &bytes));
  SendRaw(conn, std::move(bytes));
}

void FakeBroker::SendRaw(const std::shared_ptr<Conn>& conn, std::string bytes) {
  asio::post(io_,
             [this, conn, bytes = std::move(bytes)]() mutable { Write(conn, std::move(bytes)); });
}

void FakeBroker::Close(const std::shared_ptr<Conn>& conn) {
  asio::post(io_, [conn] {
    boost::system::error_code ignored;
    conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
    conn->socket.close(ignored);
  });
}

std::vector<v1::HelloRequest> FakeBroker::hellos() {
  MutexLock lock(&mu_);
  return hellos_;
}

}  // namespace halfmq::client::testing
