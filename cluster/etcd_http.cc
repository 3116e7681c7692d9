#include "cluster/etcd_http.h"

#include <exception>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace halfmq::cluster {
namespace {

namespace http = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;

std::string Describe(const HostPort& endpoint, std::string_view step, const error_code& ec) {
  return "etcd " + FormatHostPort(endpoint) + ": " + std::string(step) + ": " + ec.message();
}

// The request itself; each failure fills `out` and returns. Cancellation by
// the deadline timer surfaces here as operation_aborted.
asio::awaitable<void> Exchange(const HostPort& endpoint, std::string_view path,
                               const std::string& body, tcp::resolver& resolver,
                               tcp::socket& socket, HttpOutcome* out) {
  error_code ec;
  auto endpoints = co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    out->status = Status::Unavailable(Describe(endpoint, "resolve", ec));
    co_return;
  }
  co_await asio::async_connect(socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    out->status = Status::Unavailable(Describe(endpoint, "connect", ec));
    co_return;
  }
  out->connected = true;

  http::request<http::string_body> request{http::verb::post, std::string(path), 11};
  request.set(http::field::host, FormatHostPort(endpoint));
  request.set(http::field::content_type, "application/json");
  request.keep_alive(false);
  request.body() = body;
  request.prepare_payload();
  co_await http::async_write(socket, request, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    out->status = Status::Unavailable(Describe(endpoint, "send", ec) + " (outcome unknown)");
    co_return;
  }

  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxEtcdAnswerBytes);
  co_await http::async_read(socket, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec == http::error::body_limit) {
    out->status = Status::Internal(Describe(endpoint, "answer too large", ec));
    co_return;
  }
  if (ec) {
    out->status = Status::Unavailable(Describe(endpoint, "read", ec) + " (outcome unknown)");
    co_return;
  }
  out->http_status = parser.get().result_int();
  out->body = std::move(parser.get().body());
  out->status = Status::Ok();
}

}  // namespace

HttpOutcome EtcdHttp::Post(const HostPort& endpoint, std::string_view path, const std::string& body,
                           std::chrono::steady_clock::time_point deadline) {
  HttpOutcome out;
  tcp::resolver resolver(io_);
  tcp::socket socket(io_);
  asio::steady_timer timer(io_);
  timer.expires_at(deadline);
  timer.async_wait([&](const error_code& ec) {
    if (ec) return;  // cancelled: the exchange finished first
    out.deadline_exceeded = true;
    resolver.cancel();
    error_code ignored;
    socket.close(ignored);
  });
  asio::co_spawn(io_, Exchange(endpoint, path, body, resolver, socket, &out),
                 [&](std::exception_ptr e) {
                   if (e) out.status = Status::Internal("etcd: unexpected exception in exchange");
                   timer.cancel();
                 });
  io_.restart();
  io_.run();
  if (out.deadline_exceeded && !out.status.ok()) {
    out.status = Status::Unavailable("etcd " + FormatHostPort(endpoint) + ": deadline exceeded" +
                                     (out.connected ? " (outcome unknown)" : ""));
  }
  error_code ignored;
  socket.close(ignored);
  return out;
}

}  // namespace halfmq::cluster
